"""The RPCs the browser may reach, read from the services' descriptors: an allow-list of services
minus the internal and operator-only methods."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from parta.audit.v1 import audit_pb2
from parta.chat.v1 import chat_pb2
from parta.chat.v1 import exports_pb2 as chat_exports_pb2
from parta.identity.v1 import account_pb2, auth_pb2, erasure_pb2, guardians_pb2, profiles_pb2
from parta.identity.v1 import exports_pb2 as identity_exports_pb2
from parta.media_signal.v1 import media_signal_pb2
from parta.school.v1 import school_pb2, timetable_pb2

# upstream (a settings address) → the proto module and the services of it the browser uses.
# identity's SigningKeyService is for services only and is not listed.
EXPOSED: dict[str, list[tuple[ModuleType, tuple[str, ...]]]] = {
    "identity": [
        (auth_pb2, ("AuthService",)),
        (profiles_pb2, ("ProfileService",)),
        (guardians_pb2, ("GuardianService",)),
        (account_pb2, ("AccountService",)),
        # A guardian deletes a young child's account and reads the erasure report (docs/identity.md).
        (erasure_pb2, ("ErasureService",)),
        # My data or a child's (issue 17, docs/web.md "Data exports"): identity decides who may.
        (identity_exports_pb2, ("ExportService",)),
    ],
    "school": [
        (
            school_pb2,
            (
                "SchoolService",
                "ClassService",
                "MembershipService",
                "InviteService",
                "JoinRequestService",
                "SchoolInfoService",
            ),
        ),
        (timetable_pb2, ("TimetableService",)),
    ],
    "chat": [
        (
            chat_pb2,
            ("ChatService", "FileService", "AnnouncementService", "PollService", "MaterialService", "RetentionService"),
        ),
        # An export's progress and my exports (the requester only, which chat itself checks).
        (chat_exports_pb2, ("ExportService",)),
    ],
    "media_signal": [(media_signal_pb2, ("RoomService", "SignalService"))],
    # The school's audit trail (docs/audit.md): admins only, which the audit service itself checks.
    "audit": [(audit_pb2, ("AuditService",))],
}
# Operator tools (the CLI's business, never a page's) and service-to-service calls.
HIDDEN = frozenset(
    {
        "/parta.school.v1.SchoolService/RegisterSchool",
        "/parta.school.v1.SchoolService/ListVacantSchools",
        "/parta.school.v1.MembershipService/CheckPermission",
    }
)
# Reached through their own routes (files as HTTP bodies, not JSON frames).
UPLOAD = "/parta.chat.v1.FileService/UploadFile"
DOWNLOAD = "/parta.chat.v1.FileService/DownloadFile"
# No access token needed: the code, refresh token or invite token in the request is the credential.
PUBLIC = frozenset(
    {
        "/parta.identity.v1.AuthService/RequestCode",
        "/parta.identity.v1.AuthService/VerifyCode",
        "/parta.identity.v1.AuthService/RefreshSession",
        "/parta.school.v1.InviteService/PreviewInvite",
    }
)
VERIFY_CODE = "/parta.identity.v1.AuthService/VerifyCode"
REFRESH_SESSION = "/parta.identity.v1.AuthService/RefreshSession"
REVOKE_SESSION = "/parta.identity.v1.AuthService/RevokeSession"


@dataclass(frozen=True)
class Method:
    path: str
    upstream: str
    request: type[Message]
    response: type[Message]
    client_streaming: bool
    server_streaming: bool

    @property
    def public(self) -> bool:
        return self.path in PUBLIC

    @property
    def unary(self) -> bool:
        return not self.client_streaming and not self.server_streaming


class MethodTable:
    def __init__(self) -> None:
        self._methods: dict[str, Method] = {}
        for upstream, modules in EXPOSED.items():
            for module, names in modules:
                for name in names:
                    service: ServiceDescriptor = module.DESCRIPTOR.services_by_name[name]
                    for m in service.methods:
                        path = f"/{service.full_name}/{m.name}"
                        if path in HIDDEN:
                            continue
                        self._methods[path] = Method(
                            path=path,
                            upstream=upstream,
                            request=GetMessageClass(m.input_type),
                            response=GetMessageClass(m.output_type),
                            client_streaming=m.client_streaming,
                            server_streaming=m.server_streaming,
                        )

    def get(self, path: str) -> Method | None:
        return self._methods.get(path)

    def unary(self, service: str, name: str) -> Method | None:
        method = self._methods.get(f"/{service}/{name}")
        return method if method is not None and method.unary else None

    def stream(self, service: str, name: str) -> Method | None:
        """Server-streaming and bidirectional RPCs over a WebSocket (files have their own routes)."""
        method = self._methods.get(f"/{service}/{name}")
        if method is None or method.unary or method.path in (UPLOAD, DOWNLOAD):
            return None
        return method if method.server_streaming else None

    def all(self) -> list[Method]:
        return list(self._methods.values())
