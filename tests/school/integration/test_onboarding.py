"""The onboarding slice on the real store and Kafka: register → claim admin → classes → invites → join
requests → memberships, and the events other services build their projections from."""

from __future__ import annotations

import grpc
import pytest
from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import school_pb2 as pb
from parta_common.events.topics import SCHOOL_CLASS, SCHOOL_MEMBERSHIP, SCHOOL_SCHOOL

from tests.school.support import payloads, read_events


async def register(env, admin_phone: str, request_id: str = "", name: str = "Школа № 17") -> pb.School:  # type: ignore[no-untyped-def]
    import uuid

    reply = await env.stubs.schools.RegisterSchool(
        pb.RegisterSchoolRequest(
            request_id=request_id or uuid.uuid4().hex,
            name=name,
            academic_year="2026/2027",
            timezone="Europe/Moscow",
            admin_phone=admin_phone,
        ),
        metadata=env.operator.md,
    )
    return reply.school


async def test_onboarding_slice_emits_complete_events(env, kafka_bootstrap):  # type: ignore[no-untyped-def]
    admin = env.mint.user()
    school = await register(env, admin.phone)
    assert school.staff_room_class_id

    # Before claiming, the admin is not a member: the school is invisible.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stubs.schools.GetSchool(pb.GetSchoolRequest(school_id=school.school_id), metadata=admin.md)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND

    mine = await env.stubs.schools.ListMySchools(pb.ListMySchoolsRequest(), metadata=admin.md)
    assert [s.school.school_id for s in mine.schools] == [school.school_id]
    assert list(mine.schools[0].roles) == [ev.SCHOOL_ROLE_ADMIN]

    updated = await env.stubs.schools.UpdateSchool(
        pb.UpdateSchoolRequest(
            school=pb.School(school_id=school.school_id, address="ул. Ленина, 5", workday_start_minute=480),
            update_mask={"paths": ["address", "workday_start_minute"]},
        ),
        metadata=admin.md,
    )
    assert updated.school.address == "ул. Ленина, 5"

    c5a = await env.stubs.classes.CreateClass(
        pb.CreateClassRequest(request_id="c1", school_id=school.school_id, grade=5, letter="а"), metadata=admin.md
    )
    klass = getattr(c5a, "class")
    assert klass.title == "5А"
    # Grade + letter are unique per school and year.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stubs.classes.CreateClass(
            pb.CreateClassRequest(request_id="c2", school_id=school.school_id, grade=5, letter="А"), metadata=admin.md
        )
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS

    teacher = env.mint.user()
    invite = await env.stubs.invites.CreateInvite(
        pb.CreateInviteRequest(
            request_id="i1", school_id=school.school_id, role=ev.SCHOOL_ROLE_TEACHER, ttl_seconds=7 * 86400, max_uses=50
        ),
        metadata=admin.md,
    )
    preview = await env.stubs.invites.PreviewInvite(pb.PreviewInviteRequest(token=invite.token))
    assert preview.school_name == "Школа № 17" and preview.role == ev.SCHOOL_ROLE_TEACHER
    joined = await env.stubs.invites.AcceptInvite(pb.AcceptInviteRequest(token=invite.token), metadata=teacher.md)
    assert {(m.class_id, m.class_role) for m in joined.memberships} == {
        ("", ev.CLASS_ROLE_UNSPECIFIED),
        (school.staff_room_class_id, ev.CLASS_ROLE_STAFF),
    }
    assert not any(m.verified for m in joined.memberships)

    await env.stubs.schools.VerifyStaff(
        pb.VerifyStaffRequest(school_id=school.school_id, user_id=teacher.user_id), metadata=admin.md
    )
    await env.stubs.classes.SetClassHead(
        pb.SetClassHeadRequest(class_id=klass.class_id, user_id=teacher.user_id), metadata=admin.md
    )

    # The (verified) class head invites students with approval.
    student_invite = await env.stubs.invites.CreateInvite(
        pb.CreateInviteRequest(
            request_id="i2",
            school_id=school.school_id,
            class_id=klass.class_id,
            role=ev.SCHOOL_ROLE_STUDENT,
            ttl_seconds=86400,
            max_uses=30,
            requires_approval=True,
        ),
        metadata=teacher.md,
    )
    student = env.mint.user()
    accepted = await env.stubs.invites.AcceptInvite(
        pb.AcceptInviteRequest(token=student_invite.token), metadata=student.md
    )
    assert accepted.join_request.state == ev.JOIN_REQUEST_STATE_PENDING
    assert not accepted.memberships
    pending = await env.stubs.join_requests.ListJoinRequests(
        pb.ListJoinRequestsRequest(
            school_id=school.school_id, class_id=klass.class_id, state=ev.JOIN_REQUEST_STATE_PENDING
        ),
        metadata=teacher.md,
    )
    assert [r.user_id for r in pending.join_requests] == [student.user_id]
    approved = await env.stubs.join_requests.ApproveJoinRequest(
        pb.ApproveJoinRequestRequest(join_request_id=accepted.join_request.join_request_id), metadata=teacher.md
    )
    assert approved.join_request.state == ev.JOIN_REQUEST_STATE_APPROVED
    mine = await env.stubs.join_requests.ListMyJoinRequests(pb.ListMyJoinRequestsRequest(), metadata=student.md)
    assert [r.state for r in mine.join_requests] == [ev.JOIN_REQUEST_STATE_APPROVED]

    members = await env.stubs.members.ListMembers(
        pb.ListMembersRequest(school_id=school.school_id, class_id=klass.class_id), metadata=teacher.md
    )
    assert {(m.user_id, m.class_role) for m in members.members} == {
        (teacher.user_id, ev.CLASS_ROLE_CLASS_HEAD),
        (student.user_id, ev.CLASS_ROLE_STUDENT),
    }

    # The parent joins through the child's link.
    parent_invite = await env.stubs.invites.CreateInvite(
        pb.CreateInviteRequest(
            request_id="i3",
            school_id=school.school_id,
            class_id=klass.class_id,
            role=ev.SCHOOL_ROLE_PARENT,
            child_user_id=student.user_id,
            ttl_seconds=86400,
            max_uses=2,
        ),
        metadata=teacher.md,
    )
    # The child cannot become their own parent.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await env.stubs.invites.AcceptInvite(pb.AcceptInviteRequest(token=parent_invite.token), metadata=student.md)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    parent = env.mint.user()
    as_parent = await env.stubs.invites.AcceptInvite(
        pb.AcceptInviteRequest(token=parent_invite.token), metadata=parent.md
    )
    assert {m.child_user_id for m in as_parent.memberships} == {student.user_id}

    topics = [env.prefix + t for t in (SCHOOL_SCHOOL, SCHOOL_CLASS, SCHOOL_MEMBERSHIP)]

    def complete(seen):  # type: ignore[no-untyped-def]
        joined = payloads(seen, ev.MemberJoined)
        mine = {j.membership.membership_id for j in joined if j.membership.school_id == school.school_id}
        # Each topic is read on its own partitions: wait for the school and class topics too, not
        # only for the membership topic's events (the class topic can lag behind it).
        staff_rooms = [c for c in payloads(seen, ev.ClassCreated) if getattr(c, "class").is_staff_room]
        return (
            len(mine) >= 9
            and payloads(seen, ev.StaffVerified)
            and payloads(seen, ev.JoinRequestDecided)
            and payloads(seen, ev.SchoolCreated)
            and staff_rooms
        )

    seen = await read_events(kafka_bootstrap, topics, until=complete)
    created = payloads(seen, ev.SchoolCreated)
    assert created[0].school.timezone == "Europe/Moscow" and created[0].school.workday_end_minute == 18 * 60
    assert created[0].school.staff_room_class_id == school.staff_room_class_id
    classes = payloads(seen, ev.ClassCreated)
    staff_room = [c for c in classes if getattr(c, "class").is_staff_room]
    assert [getattr(c, "class").class_id for c in staff_room] == [school.staff_room_class_id]
    # The admin phone never travels on Kafka.
    assert not any(admin.phone.encode() in e.SerializeToString() for e in seen)
    verified = payloads(seen, ev.StaffVerified)
    assert [(v.user_id, v.verified_by_user_id) for v in verified] == [(teacher.user_id, admin.user_id)]
    assert all(e.producer == "school" and e.aggregate_version >= 1 for e in seen)
