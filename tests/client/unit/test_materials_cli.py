"""`parta materials list|publish|remove`: the audience by class title, a file uploaded then published,
a link, exactly one source (fake services on port 0, no infrastructure)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.school.v1 import school_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.cli import app
from typer.testing import CliRunner

from tests.client.unit.test_timetable_cli import FakeClasses, FakeSchool

pytestmark = pytest.mark.unit


class FakeFiles(chat_pb2_grpc.FileServiceServicer):
    """Chat's handshake: the metadata first, then accepted, then the data (parta_client.uploads)."""

    async def UploadFile(self, request_iterator, context):  # type: ignore[no-untyped-def]
        size = 0
        async for part in request_iterator:
            if part.HasField("metadata"):
                await context.send_initial_metadata((("parta-upload", "accepted"),))
            size += len(part.chunk.data)
        info = chat_pb2.FileInfo(file_id="f-1", filename="diktant.pdf", size_bytes=size)
        return chat_pb2.UploadFileResponse(file=info)


class FakeMaterials(chat_pb2_grpc.MaterialServiceServicer):
    def __init__(self) -> None:
        self.requests: list[object] = []
        self.rows: list[chat_pb2.Material] = []

    async def PublishMaterial(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        kind = chat_pb2.MATERIAL_KIND_LINK if request.url else chat_pb2.MATERIAL_KIND_FILE
        m = chat_pb2.Material(
            material_id=f"m-{len(self.rows)}",
            school_id=request.school_id,
            class_id=request.class_id,
            title=request.title,
            kind=kind,
            file_id=request.file_id,
            url=request.url,
        )
        self.rows.insert(0, m)
        return chat_pb2.PublishMaterialResponse(material=m)

    async def ListMaterials(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        return chat_pb2.ListMaterialsResponse(materials=[m for m in self.rows if m.class_id == request.class_id])

    async def RemoveMaterial(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        if not any(m.material_id == request.material_id for m in self.rows):
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such material")
        self.rows = [m for m in self.rows if m.material_id != request.material_id]
        return chat_pb2.RemoveMaterialResponse()


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[tuple[FakeMaterials, dict[str, str]]]:
    materials = FakeMaterials()
    server = grpc.aio.server()
    school_pb2_grpc.add_SchoolServiceServicer_to_server(FakeSchool(), server)
    school_pb2_grpc.add_ClassServiceServicer_to_server(FakeClasses(), server)
    chat_pb2_grpc.add_FileServiceServicer_to_server(FakeFiles(), server)
    chat_pb2_grpc.add_MaterialServiceServicer_to_server(materials, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    SessionStore(tmp_path, "p").save(Session(user_id="u-t", phone="+79000000005", access_token="a", refresh_token="r"))
    env = {
        "PARTA_HOME": str(tmp_path),
        **{f"PARTA_{n}_ADDR": f"127.0.0.1:{port}" for n in ("IDENTITY", "SCHOOL", "CHAT")},
    }
    yield materials, env
    await server.stop(0)


async def parta(env: dict[str, str], *argv: str):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", "p", *argv], env=env)


async def test_publish_list_remove(services, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake, env = services
    doc = tmp_path / "diktant.pdf"
    doc.write_bytes(b"%PDF" * 100)
    published = await parta(env, "materials", "publish", "Диктант", "--class", "5А", "--file", str(doc))
    assert published.exit_code == 0, published.output
    request = fake.requests[0]
    assert isinstance(request, chat_pb2.PublishMaterialRequest)
    assert (request.school_id, request.class_id, request.file_id, request.url) == ("s-1", "c-5a", "f-1", "")
    link = await parta(env, "materials", "publish", "Правила", "--url", "https://school.example.ru/rules")
    assert link.exit_code == 0, link.output
    assert fake.requests[1].class_id == "" and fake.requests[1].url == "https://school.example.ru/rules"  # type: ignore[attr-defined]
    both = await parta(env, "materials", "publish", "X", "--file-id", "f-1", "--url", "https://a.ru")
    assert both.exit_code == 2 and "exactly one" in both.stderr
    listed = await parta(env, "materials", "list", "--class", "5А")
    assert listed.exit_code == 0 and "Диктант" in listed.stdout and "Правила" not in listed.stdout
    school_wide = await parta(env, "materials", "list")
    assert "Правила" in school_wide.stdout and "Диктант" not in school_wide.stdout
    assert (await parta(env, "materials", "remove", "m-0")).exit_code == 0
    missing = await parta(env, "materials", "remove", "m-0")
    assert missing.exit_code == 1 and "no such material" in missing.stderr
