"""MaterialService: thin protobuf ↔ use case mapping (rules in app/materials.py and domain/materials.py)."""

from __future__ import annotations

from typing import Any

from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta_common.grpc.context import require_principal
from parta_common.pagination import encode_page_token, page_offset, page_size
from parta_common.timestamps import ts

from chat.app.materials import Materials
from chat.domain.materials import Material


def material_pb(m: Material) -> chat_pb2.Material:
    return chat_pb2.Material(
        material_id=m.material_id,
        school_id=m.school_id,
        class_id=m.class_id,
        title=m.title,
        description=m.description,
        kind=int(m.kind),  # type: ignore[arg-type]
        file_id=m.file_id,
        filename=m.filename,
        size_bytes=m.size_bytes,
        content_type=m.content_type,
        url=m.url,
        published_by_user_id=m.published_by,
        published_at=ts(m.published_at),
    )


def _user() -> str:
    return require_principal().user_id


class MaterialServicer(chat_pb2_grpc.MaterialServiceServicer):
    def __init__(self, materials: Materials):
        self._m = materials

    async def PublishMaterial(
        self, request: chat_pb2.PublishMaterialRequest, context: Any
    ) -> chat_pb2.PublishMaterialResponse:
        material = await self._m.publish(
            _user(),
            request.school_id,
            request.class_id,
            request.request_id,
            request.title,
            request.description,
            file_id=request.file_id,
            url=request.url,
        )
        return chat_pb2.PublishMaterialResponse(material=material_pb(material))

    async def ListMaterials(
        self, request: chat_pb2.ListMaterialsRequest, context: Any
    ) -> chat_pb2.ListMaterialsResponse:
        size = page_size(request.page_size)
        skip = page_offset(request.page_token)
        found = await self._m.list_materials(_user(), request.school_id, request.class_id, skip, size + 1)
        token = encode_page_token({"o": skip + size}) if len(found) > size else ""
        return chat_pb2.ListMaterialsResponse(materials=[material_pb(m) for m in found[:size]], next_page_token=token)

    async def RemoveMaterial(
        self, request: chat_pb2.RemoveMaterialRequest, context: Any
    ) -> chat_pb2.RemoveMaterialResponse:
        await self._m.remove(_user(), request.school_id, request.material_id)
        return chat_pb2.RemoveMaterialResponse()
