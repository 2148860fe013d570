"""The closed contour, table-driven over EVERY RPC of school:

1. a member of school B acting on school A's resources gets PERMISSION_DENIED or NOT_FOUND and changes
   nothing (the store is compared before and after);
2. the same table, for each role inside school A, matches the documented permission matrix
   (docs/school.md): allowed roles get OK, the others PERMISSION_DENIED (or the noted code).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import school_pb2 as pb

from tests.school.integration.world import World, build_world, letters, register, rid
from tests.school.support import User

ALL = frozenset({"admin", "head", "sub", "student", "parent"})
STAFF = frozenset({"admin", "head", "sub"})
Build = Callable[[World, User], Awaitable[Any]]


@dataclass
class Case:
    service: str
    method: str
    build: Build  # the request, for an actor of school A (builders may create fresh targets first)
    allowed: frozenset[str]
    contour: Callable[[World], Awaitable[Any]] | None = None  # the request aimed at A, sent by B's admin
    # "denied": PERMISSION_DENIED / NOT_FOUND; "self": caller-scoped, OK but shows nothing of A.
    contour_kind: str = "denied"
    denied_code: dict[str, grpc.StatusCode] = field(default_factory=dict)


def same(build: Build) -> Callable[[World], Awaitable[Any]]:
    async def contour(w: World) -> Any:
        return await build(w, w.other_admin)

    return contour


async def _fresh_admin(w: World, actor: User) -> pb.RemoveAdminRequest:
    teacher = await w.new_teacher()
    await w.s.schools.AppointAdmin(
        pb.AppointAdminRequest(school_id=w.school.school_id, user_id=teacher.user_id), metadata=w.admin.md
    )
    return pb.RemoveAdminRequest(school_id=w.school.school_id, user_id=teacher.user_id)


async def _teacher_target(w: World, actor: User) -> str:
    return (await w.new_teacher()).user_id


async def _class_with_sub(w: World, actor: User) -> pb.ChangeMemberRoleRequest:
    klass = await w.new_class()
    await w.s.classes.AddSubjectTeacher(
        pb.AddSubjectTeacherRequest(class_id=klass.class_id, user_id=w.sub.user_id, subject="Физика"),
        metadata=w.admin.md,
    )
    return pb.ChangeMemberRoleRequest(
        class_id=klass.class_id, user_id=w.sub.user_id, class_role=ev.CLASS_ROLE_CLASS_HEAD
    )


async def _invite_by_head(w: World) -> pb.CreateInviteResponse:
    return await w.invite(ev.SCHOOL_ROLE_STUDENT, class_id=w.c5a.class_id, actor=w.head)


async def _approval_invite_token(w: World, actor: User) -> pb.AcceptInviteRequest:
    klass = await w.new_class()
    created = await w.invite(ev.SCHOOL_ROLE_TEACHER, class_id=klass.class_id, approval=True)
    return pb.AcceptInviteRequest(token=created.token)


async def _fresh_student_in_5a(w: World, actor: User) -> pb.RemoveMemberRequest:
    student = await w.new_student()
    return pb.RemoveMemberRequest(school_id=w.school.school_id, user_id=student.user_id, class_id=w.c5a.class_id)


async def _new_year(w: World, actor: User) -> pb.StartAcademicYearRequest:
    """A rollover moves every class of the school: the allowed admin runs it in a dedicated school of
    theirs (with a class to move), so school A stays in its year for the other cases. The refused roles
    and the outsider aim at school A itself, which must stay unchanged."""
    school = w.school
    if actor is w.admin:
        school = await register(w.env, w.admin, "Школа года")
        await w.new_class(school)
    return pb.StartAcademicYearRequest(school_id=school.school_id, academic_year="2027/2028", request_id=rid())


def _req(factory: Callable[[World], Any]) -> Build:
    async def build(w: World, actor: User) -> Any:
        return factory(w)

    return build


A_TOKEN = "A" * 32  # well-formed but unknown
LOGO = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


async def _with_logo(w: World, actor: User) -> pb.GetSchoolLogoRequest:
    """School A's card has a logo (the admin set it; the same bytes again change nothing)."""
    await w.s.infos.UpdateSchoolInfo(
        pb.UpdateSchoolInfoRequest(
            info=pb.SchoolInfo(school_id=w.school.school_id), update_mask={"paths": ["logo"]}, logo_data=LOGO
        ),
        metadata=w.admin.md,
    )
    return pb.GetSchoolLogoRequest(school_id=w.school.school_id)


CASES: list[Case] = [
    # --- SchoolService ---
    Case(
        "schools",
        "RegisterSchool",
        _req(
            lambda w: pb.RegisterSchoolRequest(
                request_id=rid(), name="X", academic_year="2026/2027", admin_phone="+79990001122"
            )
        ),
        frozenset(),
        contour=same(
            _req(
                lambda w: pb.RegisterSchoolRequest(
                    request_id=rid(), name="X", academic_year="2026/2027", admin_phone=w.admin.phone
                )
            )
        ),
    ),
    Case(
        "schools",
        "ClaimPendingRoles",
        _req(lambda w: pb.ClaimPendingRolesRequest()),
        ALL,
        contour=same(_req(lambda w: pb.ClaimPendingRolesRequest())),
        contour_kind="self",
    ),
    Case(
        "schools",
        "ListMySchools",
        _req(lambda w: pb.ListMySchoolsRequest()),
        ALL,
        contour=same(_req(lambda w: pb.ListMySchoolsRequest())),
        contour_kind="self",
    ),
    Case("schools", "GetSchool", _req(lambda w: pb.GetSchoolRequest(school_id=w.school.school_id)), ALL),
    Case(
        "schools",
        "UpdateSchool",
        _req(
            lambda w: pb.UpdateSchoolRequest(
                school=pb.School(school_id=w.school.school_id, region="R"), update_mask={"paths": ["region"]}
            )
        ),
        frozenset({"admin"}),
    ),
    Case(
        "schools",
        "AppointAdmin",
        lambda w, a: _with_target(w, a, lambda uid: pb.AppointAdminRequest(school_id=w.school.school_id, user_id=uid)),
        frozenset({"admin"}),
    ),
    Case("schools", "RemoveAdmin", _fresh_admin, frozenset({"admin"})),
    Case(
        "schools",
        "VerifyStaff",
        lambda w, a: _with_target(w, a, lambda uid: pb.VerifyStaffRequest(school_id=w.school.school_id, user_id=uid)),
        frozenset({"admin"}),
    ),
    # Operators only (test_admin_seat.py): no member of any school, admins included, lists vacancies.
    Case("schools", "ListVacantSchools", _req(lambda w: pb.ListVacantSchoolsRequest()), frozenset()),
    Case("schools", "StartAcademicYear", lambda w, a: _new_year(w, a), frozenset({"admin"})),
    # The communication policy (test_policy.py): admins only, reading too. Setting a switch to its
    # default changes nothing, so the admin's call leaves the shared world as it was.
    Case(
        "schools",
        "GetSchoolPolicy",
        _req(lambda w: pb.GetSchoolPolicyRequest(school_id=w.school.school_id)),
        frozenset({"admin"}),
    ),
    Case(
        "schools",
        "SetSchoolPolicy",
        _req(
            lambda w: pb.SetSchoolPolicyRequest(
                school_id=w.school.school_id, policy=ev.CommunicationPolicy(students_reach_classmates=True)
            )
        ),
        frozenset({"admin"}),
    ),
    # Retention of ended academic years (tests/school/unit/test_retention.py): admins only. The
    # admin's call sets the default, which leaves the shared world as it was.
    Case(
        "schools",
        "GetRetentionPolicy",
        _req(lambda w: pb.GetRetentionPolicyRequest(school_id=w.school.school_id)),
        frozenset({"admin"}),
    ),
    Case(
        "schools",
        "SetRetentionPolicy",
        _req(
            lambda w: pb.SetRetentionPolicyRequest(
                school_id=w.school.school_id, retention=ev.RetentionPolicy(keep_days=365, archive_grace_days=30)
            )
        ),
        frozenset({"admin"}),
    ),
    # --- SchoolInfoService: the card (test_info.py): every member reads it, admins edit it ---
    Case("infos", "GetSchoolInfo", _req(lambda w: pb.GetSchoolInfoRequest(school_id=w.school.school_id)), ALL),
    Case(
        "infos",
        "UpdateSchoolInfo",
        _req(
            lambda w: pb.UpdateSchoolInfoRequest(
                info=pb.SchoolInfo(school_id=w.school.school_id, director_name="Иванова М. П."),
                update_mask={"paths": ["director_name"]},
            )
        ),
        frozenset({"admin"}),
    ),
    Case("infos", "GetSchoolLogo", _with_logo, ALL, contour=lambda w: _with_logo(w, w.admin)),
    # --- ClassService ---
    Case(
        "classes",
        "CreateClass",
        _req(
            lambda w: pb.CreateClassRequest(request_id=rid(), school_id=w.school.school_id, grade=8, letter=letters())
        ),
        frozenset({"admin"}),
    ),
    Case("classes", "GetClass", _req(lambda w: pb.GetClassRequest(class_id=w.c5b.class_id)), STAFF),
    Case("classes", "ListClasses", _req(lambda w: pb.ListClassesRequest(school_id=w.school.school_id)), ALL),
    Case(
        "classes",
        "RenameClass",
        lambda w, a: _with_class(w, lambda c: pb.RenameClassRequest(class_id=c, grade=9, letter=letters())),
        frozenset({"admin"}),
    ),
    Case(
        "classes",
        "ArchiveClass",
        lambda w, a: _with_class(w, lambda c: pb.ArchiveClassRequest(class_id=c)),
        frozenset({"admin"}),
    ),
    Case(
        "classes",
        "SetClassHead",
        lambda w, a: _with_class(w, lambda c: pb.SetClassHeadRequest(class_id=c, user_id=w.head.user_id)),
        frozenset({"admin"}),
    ),
    Case(
        "classes",
        "AddSubjectTeacher",
        lambda w, a: _with_class(
            w, lambda c: pb.AddSubjectTeacherRequest(class_id=c, user_id=w.sub.user_id, subject="Химия")
        ),
        frozenset({"admin"}),
    ),
    # --- MembershipService ---
    Case(
        "members",
        "ListMembers",
        _req(lambda w: pb.ListMembersRequest(school_id=w.school.school_id, class_id=w.c5b.class_id)),
        STAFF,
    ),
    Case(
        "members",
        "ListMembers",
        # School level: every family of the school, for staff only (docs/safety.md R13).
        _req(lambda w: pb.ListMembersRequest(school_id=w.school.school_id)),
        STAFF,
    ),
    Case(
        "members",
        "Leave",
        # Self-service for every member; nobody of the table sits in c5b, so each gets NOT_FOUND here
        # (leaving for real is tested in test_memberships.py).
        _req(lambda w: pb.LeaveRequest(school_id=w.school.school_id, class_id=w.c5b.class_id)),
        frozenset(),
        denied_code=dict.fromkeys(ALL, grpc.StatusCode.NOT_FOUND),
    ),
    Case("members", "RemoveMember", _fresh_student_in_5a, frozenset({"admin", "head"})),
    Case("members", "ChangeMemberRole", _class_with_sub, frozenset({"admin"})),
    Case(
        "members",
        "GetMemberships",
        _req(lambda w: pb.GetMembershipsRequest(user_id=w.student.user_id, school_id=w.school.school_id)),
        frozenset({"admin", "student"}),
    ),
    Case(
        "members",
        "CheckPermission",
        _req(
            lambda w: pb.CheckPermissionRequest(
                user_id=w.student.user_id, school_id=w.school.school_id, action=pb.ACTION_VIEW_SCHOOL
            )
        ),
        frozenset({"admin", "student"}),
    ),
    # --- InviteService ---
    Case(
        "invites",
        "CreateInvite",
        _req(
            lambda w: pb.CreateInviteRequest(
                request_id=rid(),
                school_id=w.school.school_id,
                class_id=w.c5a.class_id,
                role=ev.SCHOOL_ROLE_STUDENT,
                ttl_seconds=3600,
                max_uses=5,
            )
        ),
        frozenset({"admin", "head"}),
    ),
    Case(
        "invites",
        "PreviewInvite",
        lambda w, a: _preview(w),
        ALL,
        contour=same(_req(lambda w: pb.PreviewInviteRequest(token=A_TOKEN))),
    ),
    Case(
        "invites",
        "AcceptInvite",
        _approval_invite_token,
        # A staff invite: the parent may also teach (allowed), the student may not (the role table).
        ALL - {"student"},
        contour=same(_req(lambda w: pb.AcceptInviteRequest(token=A_TOKEN))),
        denied_code={"student": grpc.StatusCode.FAILED_PRECONDITION},
    ),
    Case(
        "invites",
        "RevokeInvite",
        lambda w, a: _then(_invite_by_head(w), lambda i: pb.RevokeInviteRequest(invite_id=i.invite.invite_id)),
        frozenset({"admin", "head"}),
    ),
    Case("invites", "ListInvites", _req(lambda w: pb.ListInvitesRequest(school_id=w.school.school_id)), STAFF),
    Case(
        "invites",
        "RenderInviteQr",
        lambda w, a: _then(
            _invite_by_head(w), lambda i: pb.RenderInviteQrRequest(token=i.token, format=pb.QR_FORMAT_SVG)
        ),
        frozenset({"admin", "head"}),
    ),
    # --- JoinRequestService ---
    Case(
        "join_requests",
        "ListJoinRequests",
        _req(lambda w: pb.ListJoinRequestsRequest(school_id=w.school.school_id, class_id=w.c5a.class_id)),
        frozenset({"admin", "head"}),
    ),
    Case(
        "join_requests",
        "ApproveJoinRequest",
        lambda w, a: _then(w.pending_request(), lambda r: pb.ApproveJoinRequestRequest(join_request_id=r)),
        frozenset({"admin", "head"}),
    ),
    Case(
        "join_requests",
        "RejectJoinRequest",
        lambda w, a: _then(w.pending_request(), lambda r: pb.RejectJoinRequestRequest(join_request_id=r)),
        frozenset({"admin", "head"}),
    ),
    Case(
        "join_requests",
        "ListMyJoinRequests",
        _req(lambda w: pb.ListMyJoinRequestsRequest()),
        ALL,
        contour=same(_req(lambda w: pb.ListMyJoinRequestsRequest())),
        contour_kind="self",
    ),
]


async def _then(awaitable: Awaitable[Any], make: Callable[[Any], Any]) -> Any:
    return make(await awaitable)


async def _with_target(w: World, actor: User, make: Callable[[str], Any]) -> Any:
    return make(await _teacher_target(w, actor))


async def _with_class(w: World, make: Callable[[str], Any]) -> Any:
    return make((await w.new_class()).class_id)


async def _preview(w: World) -> pb.PreviewInviteRequest:
    return pb.PreviewInviteRequest(token=(await _invite_by_head(w)).token)


def _all_rpcs() -> set[str]:
    out = set()
    for service in pb.DESCRIPTOR.services_by_name.values():
        out |= {f"{service.name}/{m.name}" for m in service.methods}
    return out


STUB_OF = {
    "schools": "SchoolService",
    "classes": "ClassService",
    "members": "MembershipService",
    "invites": "InviteService",
    "join_requests": "JoinRequestService",
    "infos": "SchoolInfoService",
}


def test_the_table_covers_every_rpc():
    covered = {f"{STUB_OF[c.service]}/{c.method}" for c in CASES}
    assert covered == _all_rpcs()


@pytest.fixture(scope="module")
async def world(env) -> World:  # type: ignore[no-untyped-def]
    return await build_world(env)


async def _call(w: World, case: Case, request: Any, actor: User | None) -> Any:
    stub = getattr(w.s, case.service)
    metadata = actor.md if actor else ()
    return await getattr(stub, case.method)(request, metadata=metadata, timeout=20)


async def _snapshot(env) -> dict[str, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    out = {}
    for name in ("schools", "classes", "memberships", "invites", "join_requests", "school_info"):
        docs = await env.db[name].find({}, {"_outbox": 0, "_outbox_n": 0}).sort("_id", 1).to_list()
        out[name] = docs
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.method)
async def test_outsider_from_another_school_is_refused_and_changes_nothing(env, world: World, case: Case):
    request = await (case.contour(world) if case.contour else case.build(world, world.other_admin))
    before = await _snapshot(env)
    if case.contour_kind == "self":
        reply = await _call(world, case, request, world.other_admin)
        assert world.school.school_id.encode() not in reply.SerializeToString()
        assert world.c5a.class_id.encode() not in reply.SerializeToString()
    else:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _call(world, case, request, world.other_admin)
        assert info.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND), (
            info.value.code(),
            info.value.details(),
        )
    assert await _snapshot(env) == before


@pytest.mark.parametrize("role", sorted(ALL))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.method)
async def test_each_role_matches_the_permission_matrix(env, world: World, case: Case, role: str):
    actor = world.role_users()[role]
    request = await case.build(world, actor)
    if role in case.allowed:
        await _call(world, case, request, actor)
        return
    before = await _snapshot(env)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _call(world, case, request, actor)
    expected = case.denied_code.get(role, grpc.StatusCode.PERMISSION_DENIED)
    assert info.value.code() == expected, (role, info.value.code(), info.value.details())
    assert await _snapshot(env) == before


async def test_unauthenticated_calls_are_refused_except_preview(env, world: World):
    for case in CASES:
        if case.method == "PreviewInvite":
            continue
        request = await (case.contour(world) if case.contour else case.build(world, world.admin))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _call(world, case, request, None)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED, case.method
