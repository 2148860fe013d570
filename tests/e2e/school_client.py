"""Small async helpers over the school gRPC API for end-to-end tests of every service.

    from tests.e2e import school_client as sc   # or: import school_client (tests/e2e on sys.path)
    school = await sc.register_school(address, operator_token, admin_phone="+79990000001")
    await sc.claim(address, admin_token)                      # the admin's phone matches → admin
    klass = await sc.create_class(address, admin_token, school.school_id, 5, "А")
    invite = await sc.create_invite(address, admin_token, school.school_id, sc.TEACHER)
    await sc.accept_invite(address, teacher_token, invite.token)
    await sc.verify_staff(address, admin_token, school.school_id, teacher_user_id)

Tokens come from identity's sign-in (tests/e2e/identity_client.py); operators are accounts whose phone
is in SCHOOL_OPERATOR_PHONES. Every helper takes the school address ("127.0.0.1:port").
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import grpc
from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import school_pb2 as pb
from parta.school.v1 import school_pb2_grpc as rpc

ADMIN = ev.SCHOOL_ROLE_ADMIN
TEACHER = ev.SCHOOL_ROLE_TEACHER
STUDENT = ev.SCHOOL_ROLE_STUDENT
PARENT = ev.SCHOOL_ROLE_PARENT
TIMEOUT = 15.0


def _md(token: str) -> Sequence[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


def _rid() -> str:
    return uuid.uuid4().hex


class _Stubs:
    def __init__(self, channel: grpc.aio.Channel):
        self.schools = rpc.SchoolServiceStub(channel)
        self.classes = rpc.ClassServiceStub(channel)
        self.members = rpc.MembershipServiceStub(channel)
        self.invites = rpc.InviteServiceStub(channel)
        self.join_requests = rpc.JoinRequestServiceStub(channel)


async def _call(address: str, service: str, method: str, request, token: str | None):  # type: ignore[no-untyped-def]
    async with grpc.aio.insecure_channel(address) as channel:
        stub = getattr(_Stubs(channel), service)
        metadata = _md(token) if token else ()
        return await getattr(stub, method)(request, metadata=metadata, timeout=TIMEOUT)


async def register_school(
    address: str,
    operator_token: str,
    *,
    admin_phone: str,
    name: str = "Школа № 17",
    timezone: str = "Europe/Moscow",
    academic_year: str = "2026/2027",
    request_id: str | None = None,
) -> pb.School:
    reply = await _call(
        address,
        "schools",
        "RegisterSchool",
        pb.RegisterSchoolRequest(
            request_id=request_id or _rid(),
            name=name,
            short_name=name[:20],
            region="Тестовая область",
            address="ул. Школьная, 1",
            timezone=timezone,
            academic_year=academic_year,
            admin_phone=admin_phone,
        ),
        operator_token,
    )
    return reply.school


async def claim(address: str, token: str) -> list[str]:
    """Turns the caller's pending admin role (by phone) into memberships; returns the school ids."""
    reply = await _call(address, "schools", "ClaimPendingRoles", pb.ClaimPendingRolesRequest(), token)
    return list(reply.school_ids)


async def list_my_schools(address: str, token: str) -> list[pb.MySchool]:
    reply = await _call(address, "schools", "ListMySchools", pb.ListMySchoolsRequest(), token)
    return list(reply.schools)


async def create_class(
    address: str, token: str, school_id: str, grade: int, letter: str, *, request_id: str | None = None
) -> pb.SchoolClass:
    reply = await _call(
        address,
        "classes",
        "CreateClass",
        pb.CreateClassRequest(request_id=request_id or _rid(), school_id=school_id, grade=grade, letter=letter),
        token,
    )
    return getattr(reply, "class")


async def set_class_head(address: str, token: str, class_id: str, user_id: str) -> None:
    await _call(address, "classes", "SetClassHead", pb.SetClassHeadRequest(class_id=class_id, user_id=user_id), token)


async def add_subject_teacher(address: str, token: str, class_id: str, user_id: str, subject: str) -> None:
    await _call(
        address,
        "classes",
        "AddSubjectTeacher",
        pb.AddSubjectTeacherRequest(class_id=class_id, user_id=user_id, subject=subject),
        token,
    )


async def create_invite(
    address: str,
    token: str,
    school_id: str,
    role: int,
    *,
    class_id: str = "",
    child_user_id: str = "",
    requires_approval: bool = False,
    max_uses: int = 50,
    ttl_seconds: int = 7 * 86400,
    request_id: str | None = None,
) -> pb.CreateInviteResponse:
    """Returns invite, token and link."""
    return await _call(
        address,
        "invites",
        "CreateInvite",
        pb.CreateInviteRequest(
            request_id=request_id or _rid(),
            school_id=school_id,
            class_id=class_id,
            role=role,  # type: ignore[arg-type]
            child_user_id=child_user_id,
            ttl_seconds=ttl_seconds,
            max_uses=max_uses,
            requires_approval=requires_approval,
        ),
        token,
    )


async def preview_invite(address: str, invite_token: str) -> pb.PreviewInviteResponse:
    return await _call(address, "invites", "PreviewInvite", pb.PreviewInviteRequest(token=invite_token), None)


async def accept_invite(address: str, token: str, invite_token: str) -> pb.AcceptInviteResponse:
    """Joins (memberships in the reply), or makes a join request when the invite needs approval."""
    return await _call(address, "invites", "AcceptInvite", pb.AcceptInviteRequest(token=invite_token), token)


async def invite_qr(address: str, token: str, invite_token: str, *, svg: bool = False) -> pb.RenderInviteQrResponse:
    fmt = pb.QR_FORMAT_SVG if svg else pb.QR_FORMAT_PNG
    return await _call(
        address, "invites", "RenderInviteQr", pb.RenderInviteQrRequest(token=invite_token, format=fmt), token
    )


async def approve(address: str, token: str, join_request_id: str) -> pb.JoinRequest:
    reply = await _call(
        address,
        "join_requests",
        "ApproveJoinRequest",
        pb.ApproveJoinRequestRequest(join_request_id=join_request_id),
        token,
    )
    return reply.join_request


async def list_join_requests(
    address: str, token: str, school_id: str, class_id: str = "", *, pending_only: bool = True
) -> list[pb.JoinRequest]:
    state = ev.JOIN_REQUEST_STATE_PENDING if pending_only else ev.JOIN_REQUEST_STATE_UNSPECIFIED
    reply = await _call(
        address,
        "join_requests",
        "ListJoinRequests",
        pb.ListJoinRequestsRequest(school_id=school_id, class_id=class_id, state=state),
        token,
    )
    return list(reply.join_requests)


async def verify_staff(address: str, token: str, school_id: str, user_id: str) -> None:
    await _call(address, "schools", "VerifyStaff", pb.VerifyStaffRequest(school_id=school_id, user_id=user_id), token)


async def appoint_admin(address: str, token: str, school_id: str, user_id: str) -> None:
    await _call(address, "schools", "AppointAdmin", pb.AppointAdminRequest(school_id=school_id, user_id=user_id), token)


async def list_members(address: str, token: str, school_id: str, class_id: str = "") -> list[ev.MembershipSnapshot]:
    reply = await _call(
        address, "members", "ListMembers", pb.ListMembersRequest(school_id=school_id, class_id=class_id), token
    )
    return list(reply.members)


async def remove_member(address: str, token: str, school_id: str, user_id: str, class_id: str = "") -> None:
    await _call(
        address,
        "members",
        "RemoveMember",
        pb.RemoveMemberRequest(school_id=school_id, user_id=user_id, class_id=class_id),
        token,
    )


async def revoke_invite(address: str, token: str, invite_id: str) -> pb.Invite:
    reply = await _call(address, "invites", "RevokeInvite", pb.RevokeInviteRequest(invite_id=invite_id), token)
    return reply.invite


async def check_permission(
    address: str, token: str, user_id: str, school_id: str, action: int, class_id: str = ""
) -> bool:
    reply = await _call(
        address,
        "members",
        "CheckPermission",
        pb.CheckPermissionRequest(user_id=user_id, school_id=school_id, class_id=class_id, action=action),  # type: ignore[arg-type]
        token,
    )
    return bool(reply.allowed)


async def join_school(
    address: str,
    admin_token: str,
    school_id: str,
    user_token: str,
    role: int,
    *,
    class_id: str = "",
    child_user_id: str = "",
) -> pb.AcceptInviteResponse:
    """Shortcut: an admin invites with `role` (no approval) and the user accepts at once."""
    created = await create_invite(address, admin_token, school_id, role, class_id=class_id, child_user_id=child_user_id)
    return await accept_invite(address, user_token, created.token)


async def get_school_policy(address: str, token: str, school_id: str) -> ev.CommunicationPolicy:
    reply = await _call(address, "schools", "GetSchoolPolicy", pb.GetSchoolPolicyRequest(school_id=school_id), token)
    return reply.policy  # type: ignore[no-any-return]


async def set_school_policy(address: str, token: str, school_id: str, **switches: bool) -> ev.CommunicationPolicy:
    """Admins: changes only the switches named (students_reach_classmates=False …)."""
    request = pb.SetSchoolPolicyRequest(school_id=school_id, policy=ev.CommunicationPolicy(**switches))
    return (await _call(address, "schools", "SetSchoolPolicy", request, token)).policy  # type: ignore[no-any-return]
