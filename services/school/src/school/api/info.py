"""SchoolInfoService: thin servicer (pb → use case → pb): the school's card and its logo."""

from __future__ import annotations

from parta.school.v1 import school_pb2 as pb
from parta.school.v1 import school_pb2_grpc as rpc

from school.api import mappers as m
from school.api.mappers import Ctx
from school.app.info import SchoolInfos, UpdateSchoolInfo
from school.domain.info import EDITABLE, TEXT_FIELDS, SchoolInfo, SchoolLogo
from school.domain.validation import invalid


def logo_pb(logo: SchoolLogo) -> pb.SchoolLogo:
    return pb.SchoolLogo(content_type=logo.content_type, size_bytes=logo.size_bytes, sha256_hex=logo.sha256_hex)


def info_pb(info: SchoolInfo) -> pb.SchoolInfo:
    return pb.SchoolInfo(
        school_id=info.school_id,
        **{key: getattr(info, key) for key in TEXT_FIELDS},
        logo=logo_pb(info.logo) if info.logo else None,
        version=info.version,
        updated_at=m.ts(info.updated_at) if info.updated_at else None,
        updated_by_user_id=info.updated_by,
    )


class SchoolInfoServicer(rpc.SchoolInfoServiceServicer):
    def __init__(self, infos: SchoolInfos):
        self.infos = infos

    async def GetSchoolInfo(self, request: pb.GetSchoolInfoRequest, context: Ctx) -> pb.GetSchoolInfoResponse:
        return pb.GetSchoolInfoResponse(info=info_pb(await self.infos.get_info(m.caller(), request.school_id)))

    async def UpdateSchoolInfo(self, request: pb.UpdateSchoolInfoRequest, context: Ctx) -> pb.UpdateSchoolInfoResponse:
        changes: dict[str, str] = {}
        logo_data: bytes | None = None
        for path in request.update_mask.paths:
            if path not in EDITABLE:
                raise invalid("update_mask", f"{path[:64]!r} cannot be updated")
            if path == "logo":
                logo_data = bytes(request.logo_data)
            else:
                changes[path] = getattr(request.info, path)
        cmd = UpdateSchoolInfo(
            school_id=request.info.school_id,
            changes=changes,
            logo_data=logo_data,
            expected_version=request.expected_version if request.HasField("expected_version") else None,
        )
        return pb.UpdateSchoolInfoResponse(info=info_pb(await self.infos.update_info(m.caller(), cmd)))

    async def GetSchoolLogo(self, request: pb.GetSchoolLogoRequest, context: Ctx) -> pb.GetSchoolLogoResponse:
        logo, data = await self.infos.get_logo(m.caller(), request.school_id)
        return pb.GetSchoolLogoResponse(logo=logo_pb(logo), data=data)
