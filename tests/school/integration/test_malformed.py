"""Every RPC answers malformed input with INVALID_ARGUMENT and field violations, never INTERNAL; and
expired, exhausted and revoked invites are FAILED_PRECONDITION with distinct reasons."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.common.v1 import types_pb2
from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import school_pb2 as pb
from parta_common.pagination import encode_page_token

from tests.school.integration.test_contour import CASES, _all_rpcs
from tests.school.integration.world import World, build_world, rid

LONG = "x" * 5000
CTRL = "a\x00b"
HUGE_TOKEN = encode_page_token({"after": 10**20})

# RPCs whose request has no fields: nothing can be malformed.
NO_INPUT = {"ClaimPendingRoles", "ListMySchools", "ListMyJoinRequests"}

MALFORMED: dict[str, list[Any]] = {
    "RegisterSchool": [
        pb.RegisterSchoolRequest(),
        pb.RegisterSchoolRequest(request_id=rid(), name=CTRL, academic_year="2026/2027", admin_phone="+79990001122"),
        pb.RegisterSchoolRequest(request_id=rid(), name="A", academic_year="2026/2099", admin_phone="+79990001122"),
        pb.RegisterSchoolRequest(request_id=rid(), name="A", academic_year="2026/2027", admin_phone="not a phone"),
        pb.RegisterSchoolRequest(
            request_id=rid(), name="A", academic_year="2026/2027", admin_phone="+79990001122", timezone="Mars/Olympus"
        ),
        pb.RegisterSchoolRequest(request_id=LONG, name=LONG, academic_year="2026/2027", admin_phone="+79990001122"),
    ],
    "GetSchool": [pb.GetSchoolRequest(), pb.GetSchoolRequest(school_id=LONG), pb.GetSchoolRequest(school_id=CTRL)],
    "UpdateSchool": [
        pb.UpdateSchoolRequest(),
        pb.UpdateSchoolRequest(school=pb.School(school_id="{school}"), update_mask={"paths": ["version"]}),
        pb.UpdateSchoolRequest(school=pb.School(school_id="{school}", name=""), update_mask={"paths": ["name"]}),
        pb.UpdateSchoolRequest(
            school=pb.School(school_id="{school}", workday_start_minute=99999),
            update_mask={"paths": ["workday_start_minute"]},
        ),
        pb.UpdateSchoolRequest(
            school=pb.School(school_id="{school}", workday_start_minute=600, workday_end_minute=500),
            update_mask={"paths": ["workday_start_minute", "workday_end_minute"]},
        ),
        pb.UpdateSchoolRequest(
            school=pb.School(school_id="{school}", timezone="Nowhere"), update_mask={"paths": ["timezone"]}
        ),
    ],
    "AppointAdmin": [
        pb.AppointAdminRequest(),
        pb.AppointAdminRequest(school_id="{school}", user_id=CTRL),
        pb.AppointAdminRequest(school_id="{school}", admin_phone="8 900 123-45-67"),
        pb.AppointAdminRequest(school_id="{school}", user_id="u-1", admin_phone="+79990001122"),
    ],
    "ListVacantSchools": [
        pb.ListVacantSchoolsRequest(page=types_pb2.PageRequest(page_size=-1)),
        pb.ListVacantSchoolsRequest(page=types_pb2.PageRequest(page_token="!!not-a-token!!")),
        # Issue 11 finding 10: a token carrying a number (1e20) is not one of ours.
        pb.ListVacantSchoolsRequest(page=types_pb2.PageRequest(page_token=HUGE_TOKEN)),
    ],
    "StartAcademicYear": [
        pb.StartAcademicYearRequest(),
        pb.StartAcademicYearRequest(school_id="{school}", academic_year="2027/2028"),
        pb.StartAcademicYearRequest(school_id="{school}", academic_year="2027/2029", request_id=rid()),
        pb.StartAcademicYearRequest(school_id="{school}", academic_year="2027-2028", request_id=rid()),
        pb.StartAcademicYearRequest(school_id=CTRL, academic_year="2027/2028", request_id=rid()),
    ],
    "GetSchoolPolicy": [pb.GetSchoolPolicyRequest(), pb.GetSchoolPolicyRequest(school_id=LONG)],
    "SetSchoolPolicy": [pb.SetSchoolPolicyRequest(), pb.SetSchoolPolicyRequest(school_id=CTRL)],
    "GetRetentionPolicy": [pb.GetRetentionPolicyRequest(), pb.GetRetentionPolicyRequest(school_id=LONG)],
    "SetRetentionPolicy": [
        pb.SetRetentionPolicyRequest(),
        pb.SetRetentionPolicyRequest(school_id=CTRL),
        pb.SetRetentionPolicyRequest(school_id="{school}", retention=ev.RetentionPolicy(keep_days=29)),
        pb.SetRetentionPolicyRequest(
            school_id="{school}", retention=ev.RetentionPolicy(keep_days=365, archive_grace_days=-1)
        ),
    ],
    "RemoveAdmin": [pb.RemoveAdminRequest(), pb.RemoveAdminRequest(school_id="{school}", user_id=LONG)],
    "VerifyStaff": [pb.VerifyStaffRequest(), pb.VerifyStaffRequest(school_id="{school}")],
    "CreateClass": [
        pb.CreateClassRequest(),
        pb.CreateClassRequest(request_id=rid(), school_id="{school}", grade=99, letter="А"),
        pb.CreateClassRequest(request_id=rid(), school_id="{school}", grade=5, letter="5"),
        pb.CreateClassRequest(request_id=rid(), school_id="{school}", grade=-2147483648, letter=LONG),
        pb.CreateClassRequest(request_id=rid(), school_id="{school}", grade=5, letter="Б", academic_year="1/2"),
    ],
    "GetClass": [pb.GetClassRequest(), pb.GetClassRequest(class_id=CTRL)],
    "ListClasses": [
        pb.ListClassesRequest(),
        pb.ListClassesRequest(school_id="{school}", page=types_pb2.PageRequest(page_size=-1)),
        pb.ListClassesRequest(school_id="{school}", page=types_pb2.PageRequest(page_token="!!not-a-token!!")),
        pb.ListClassesRequest(school_id="{school}", page=types_pb2.PageRequest(page_token=HUGE_TOKEN)),
    ],
    "RenameClass": [pb.RenameClassRequest(), pb.RenameClassRequest(class_id="{class}", grade=5, letter="")],
    "ArchiveClass": [pb.ArchiveClassRequest(), pb.ArchiveClassRequest(class_id=LONG)],
    "SetClassHead": [pb.SetClassHeadRequest(), pb.SetClassHeadRequest(class_id="{class}")],
    "AddSubjectTeacher": [
        pb.AddSubjectTeacherRequest(),
        pb.AddSubjectTeacherRequest(class_id="{class}", user_id="u1", subject=""),
        pb.AddSubjectTeacherRequest(class_id="{class}", user_id="u1", subject=CTRL),
    ],
    "ListMembers": [
        pb.ListMembersRequest(),
        pb.ListMembersRequest(school_id="{school}", page=types_pb2.PageRequest(page_token=LONG)),
    ],
    "Leave": [pb.LeaveRequest(), pb.LeaveRequest(school_id="{school}", class_id=CTRL)],
    "RemoveMember": [pb.RemoveMemberRequest(), pb.RemoveMemberRequest(school_id="{school}")],
    "ChangeMemberRole": [
        pb.ChangeMemberRoleRequest(),
        pb.ChangeMemberRoleRequest(class_id="{class}", user_id="u1", class_role=ev.CLASS_ROLE_STUDENT),
        pb.ChangeMemberRoleRequest(class_id="{class}", user_id="u1", class_role=77),  # type: ignore[arg-type]
    ],
    "GetMemberships": [pb.GetMembershipsRequest(), pb.GetMembershipsRequest(user_id=LONG)],
    "CheckPermission": [
        pb.CheckPermissionRequest(),
        pb.CheckPermissionRequest(user_id="u1", school_id="{school}"),
        pb.CheckPermissionRequest(user_id="u1", school_id="{school}", action=999),  # type: ignore[arg-type]
        pb.CheckPermissionRequest(user_id="u1", school_id="{school}", action=pb.ACTION_START_LESSON),
        pb.CheckPermissionRequest(user_id="u1", school_id="{school}", action=pb.ACTION_DIRECT_MESSAGE),
        pb.CheckPermissionRequest(
            user_id="u1", school_id="{school}", target_user_id="u2", action=pb.ACTION_POST_CLASS_CHAT
        ),
        pb.CheckPermissionRequest(
            user_id="u1", school_id="{school}", class_id="{class}", target_user_id="u2", action=pb.ACTION_CALL
        ),
    ],
    "CreateInvite": [
        pb.CreateInviteRequest(),
        pb.CreateInviteRequest(request_id=rid(), school_id="{school}", role=ev.SCHOOL_ROLE_UNSPECIFIED, max_uses=1),
        pb.CreateInviteRequest(request_id=rid(), school_id="{school}", role=42, max_uses=1),  # type: ignore[arg-type]
        pb.CreateInviteRequest(request_id=rid(), school_id="{school}", role=ev.SCHOOL_ROLE_TEACHER, max_uses=0),
        pb.CreateInviteRequest(
            request_id=rid(), school_id="{school}", role=ev.SCHOOL_ROLE_TEACHER, max_uses=1, ttl_seconds=-5
        ),
        pb.CreateInviteRequest(request_id=rid(), school_id="{school}", role=ev.SCHOOL_ROLE_STUDENT, max_uses=1),
    ],
    "PreviewInvite": [
        pb.PreviewInviteRequest(),
        pb.PreviewInviteRequest(token="a/b"),
        pb.PreviewInviteRequest(token=LONG),
    ],
    "AcceptInvite": [pb.AcceptInviteRequest(), pb.AcceptInviteRequest(token=CTRL)],
    "RevokeInvite": [pb.RevokeInviteRequest(), pb.RevokeInviteRequest(invite_id=LONG)],
    "ListInvites": [pb.ListInvitesRequest(), pb.ListInvitesRequest(school_id=CTRL)],
    "RenderInviteQr": [
        pb.RenderInviteQrRequest(),
        pb.RenderInviteQrRequest(token="A" * 32, format=pb.QR_FORMAT_UNSPECIFIED),
        pb.RenderInviteQrRequest(token="A" * 32, format=pb.QR_FORMAT_PNG, scale=1000),
    ],
    "ListJoinRequests": [
        pb.ListJoinRequestsRequest(),
        pb.ListJoinRequestsRequest(school_id="{school}", state=17),  # type: ignore[arg-type]
    ],
    "ApproveJoinRequest": [pb.ApproveJoinRequestRequest(), pb.ApproveJoinRequestRequest(join_request_id=CTRL)],
    "RejectJoinRequest": [pb.RejectJoinRequestRequest(), pb.RejectJoinRequestRequest(join_request_id=LONG)],
    "GetSchoolInfo": [pb.GetSchoolInfoRequest(), pb.GetSchoolInfoRequest(school_id=CTRL)],
    "GetSchoolLogo": [pb.GetSchoolLogoRequest(), pb.GetSchoolLogoRequest(school_id=LONG)],
    "UpdateSchoolInfo": [
        pb.UpdateSchoolInfoRequest(),
        pb.UpdateSchoolInfoRequest(info=pb.SchoolInfo(school_id="{school}"), update_mask={"paths": ["version"]}),
        pb.UpdateSchoolInfoRequest(info=pb.SchoolInfo(school_id="{school}"), update_mask={"paths": ["full_name"]}),
        pb.UpdateSchoolInfoRequest(
            info=pb.SchoolInfo(school_id="{school}", email="nobody", website="ftp://x.ru", phone="12"),
            update_mask={"paths": ["email", "website", "phone"]},
        ),
        pb.UpdateSchoolInfoRequest(
            info=pb.SchoolInfo(school_id="{school}"), update_mask={"paths": ["logo"]}, logo_data=b"<svg/>"
        ),
    ],
}


def test_every_rpc_with_input_has_malformed_cases():
    methods = {name.split("/")[1] for name in _all_rpcs()}
    assert set(MALFORMED) == methods - NO_INPUT


@pytest.fixture(scope="module")
async def world(env) -> World:  # type: ignore[no-untyped-def]
    return await build_world(env)


def _fill(request: Any, w: World) -> Any:
    """Put real ids where the template says {school}/{class}: the fault must be the malformed field."""
    for fd in request.DESCRIPTOR.fields:
        if fd.type == fd.TYPE_STRING and not fd.is_repeated:
            value = getattr(request, fd.name)
            if value == "{school}":
                setattr(request, fd.name, w.school.school_id)
            elif value == "{class}":
                setattr(request, fd.name, w.c5a.class_id)
        elif fd.type == fd.TYPE_MESSAGE and not fd.is_repeated and request.HasField(fd.name):
            _fill(getattr(request, fd.name), w)
    return request


def _violations(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            return [v.field for v in bad.field_violations]
    return []


@pytest.mark.parametrize(("method", "index"), [(m, i) for m, reqs in MALFORMED.items() for i in range(len(reqs))])
async def test_malformed_input_is_invalid_argument_with_field_violations(world: World, method: str, index: int):
    case = next(c for c in CASES if c.method == method)
    request = type(MALFORMED[method][index])()
    request.CopyFrom(MALFORMED[method][index])
    request = _fill(request, world)
    stub = getattr(world.s, case.service)
    # As the operator-admin of the school: the answer must come from validation, not from authorization.
    actor = world.env.operator if method == "RegisterSchool" else world.admin
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await getattr(stub, method)(request, metadata=actor.md, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, info.value.code(), info.value.details())
    assert _violations(info.value), "no field violations"


async def _code(call) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    status = rpc_status.from_call(info.value)  # type: ignore[arg-type]
    reason = ""
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            error_info = error_details_pb2.ErrorInfo()
            detail.Unpack(error_info)
            reason = error_info.reason
    return info.value.code(), reason


async def test_expired_exhausted_and_revoked_invites_have_distinct_reasons(env, world: World):
    s = world.s
    fp = grpc.StatusCode.FAILED_PRECONDITION
    # Exhausted: one use, taken.
    one = await world.invite(ev.SCHOOL_ROLE_TEACHER, uses=1)
    await s.invites.AcceptInvite(pb.AcceptInviteRequest(token=one.token), metadata=env.mint.user().md)
    late = env.mint.user()
    assert await _code(s.invites.AcceptInvite(pb.AcceptInviteRequest(token=one.token), metadata=late.md)) == (
        fp,
        "INVITE_EXHAUSTED",
    )
    assert await _code(s.invites.PreviewInvite(pb.PreviewInviteRequest(token=one.token))) == (fp, "INVITE_EXHAUSTED")
    # Revoked.
    revoked = await world.invite(ev.SCHOOL_ROLE_TEACHER)
    await s.invites.RevokeInvite(pb.RevokeInviteRequest(invite_id=revoked.invite.invite_id), metadata=world.admin.md)
    assert await _code(s.invites.AcceptInvite(pb.AcceptInviteRequest(token=revoked.token), metadata=late.md)) == (
        fp,
        "INVITE_REVOKED",
    )
    # Expired: the shortest invite (60 s), seen a minute later through the stored expiry.
    short = await world.invite(ev.SCHOOL_ROLE_TEACHER, ttl=60)
    await env.db["invites"].update_one(
        {"_id": short.invite.invite_id},
        {"$set": {"expires_at": short.invite.expires_at.ToDatetime() - timedelta(seconds=120)}},
    )
    assert await _code(s.invites.AcceptInvite(pb.AcceptInviteRequest(token=short.token), metadata=late.md)) == (
        fp,
        "INVITE_EXPIRED",
    )
    # Unknown token: NOT_FOUND.
    assert await _code(s.invites.AcceptInvite(pb.AcceptInviteRequest(token="Z" * 32), metadata=late.md)) == (
        grpc.StatusCode.NOT_FOUND,
        "INVITE_NOT_FOUND",
    )
    # Nothing of the refused attempts made a membership.
    memberships = await env.db["memberships"].count_documents({"user_id": late.user_id})
    assert memberships == 0


async def test_a_whole_class_scanning_one_code_at_once_gets_exactly_the_uses(env, world: World):
    created = await world.invite(ev.SCHOOL_ROLE_STUDENT, class_id=world.c5a.class_id, uses=10)
    people = [env.mint.user() for _ in range(25)]
    results = await asyncio.gather(
        *(world.s.invites.AcceptInvite(pb.AcceptInviteRequest(token=created.token), metadata=p.md) for p in people),
        return_exceptions=True,
    )
    ok = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == 10
    assert all(r.code() == grpc.StatusCode.FAILED_PRECONDITION for r in refused)  # type: ignore[attr-defined]
    stored = await env.db["invites"].find_one({"_id": created.invite.invite_id})
    assert stored["uses"] == 10 and len(stored["accepted_by"]) == 10


I32_MAX, I32_MIN = 2**31 - 1, -(2**31)


def _token_after(value: Any) -> str:
    from parta_common.pagination import encode_page_token

    return encode_page_token({"after": value})


async def test_every_integer_out_of_range_is_invalid_argument_with_its_field(world: World):
    """Issue 11, finding 10: every integer school takes, at both ends of its type and in page tokens."""
    s, w = world.s, world
    school, klass = w.school.school_id, w.c5a.class_id
    invite = await w.invite(ev.SCHOOL_ROLE_TEACHER)
    page = types_pb2.PageRequest
    cases = [
        (s.classes.ListClasses, pb.ListClassesRequest(school_id=school, page=page(page_size=-1)), "page.page_size"),
        (
            s.classes.ListClasses,
            pb.ListClassesRequest(school_id=school, page=page(page_size=I32_MIN)),
            "page.page_size",
        ),
        (
            s.members.ListMembers,
            pb.ListMembersRequest(school_id=school, page=page(page_token=_token_after(10**20))),
            "page.page_token",
        ),
        (
            s.invites.ListInvites,
            pb.ListInvitesRequest(school_id=school, page=page(page_token=_token_after({"$gt": ""}))),
            "page.page_token",
        ),
        (
            s.invites.CreateInvite,
            pb.CreateInviteRequest(
                request_id=rid(), school_id=school, role=ev.SCHOOL_ROLE_TEACHER, max_uses=1, ttl_seconds=I32_MAX
            ),
            "ttl_seconds",
        ),
        (
            s.invites.CreateInvite,
            pb.CreateInviteRequest(request_id=rid(), school_id=school, role=ev.SCHOOL_ROLE_TEACHER, max_uses=I32_MAX),
            "max_uses",
        ),
        (
            s.invites.CreateInvite,
            pb.CreateInviteRequest(request_id=rid(), school_id=school, role=ev.SCHOOL_ROLE_TEACHER, max_uses=I32_MIN),
            "max_uses",
        ),
        (
            s.invites.RenderInviteQr,
            pb.RenderInviteQrRequest(token=invite.token, format=pb.QR_FORMAT_PNG, scale=I32_MAX),
            "scale",
        ),
        (
            s.invites.RenderInviteQr,
            pb.RenderInviteQrRequest(token=invite.token, format=pb.QR_FORMAT_SVG, scale=I32_MIN),
            "scale",
        ),
        (
            s.classes.CreateClass,
            pb.CreateClassRequest(request_id=rid(), school_id=school, grade=I32_MAX, letter="Я"),
            "grade",
        ),
        (s.classes.RenameClass, pb.RenameClassRequest(class_id=klass, grade=I32_MIN, letter="Я"), "grade"),
        (
            s.schools.UpdateSchool,
            pb.UpdateSchoolRequest(
                school=pb.School(school_id=school, workday_start_minute=I32_MIN),
                update_mask={"paths": ["workday_start_minute"]},
            ),
            "school.workday_start_minute",
        ),
    ]
    for method, request, field_name in cases:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await method(request, metadata=w.admin.md, timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (field_name, info.value.details())
        assert field_name in _violations(info.value), (field_name, _violations(info.value))
    # The top of the size range is not an error: it is capped at the documented maximum.
    reply = await s.classes.ListClasses(
        pb.ListClassesRequest(school_id=school, page=page(page_size=I32_MAX)), metadata=w.admin.md
    )
    assert len(reply.classes) <= 100
