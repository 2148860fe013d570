"""Memberships on the real store and Kafka: idempotent creates, the last-admin rule, leaving and removal,
archiving, role changes, account deletion from identity's events, the action matrix of CheckPermission,
and log hygiene."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import pytest
from aiokafka import AIOKafkaProducer
from parta.identity.v1 import events_pb2 as identity_pb2
from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import school_pb2 as pb
from parta_common.events.envelope import make_envelope
from parta_common.events.topics import IDENTITY_USER, SCHOOL_CLASS, SCHOOL_INVITE, SCHOOL_MEMBERSHIP

from tests.school.integration.world import World, build_world, register, rid
from tests.school.support import payloads, read_events, refused


@pytest.fixture(scope="module")
async def world(env) -> World:  # type: ignore[no-untyped-def]
    return await build_world(env)


async def _members(w: World, class_id: str = "") -> set[tuple[str, int]]:
    reply = await w.s.members.ListMembers(
        pb.ListMembersRequest(school_id=w.school.school_id, class_id=class_id), metadata=w.admin.md
    )
    return {(m.user_id, m.class_role if class_id else m.school_role) for m in reply.members}


async def test_creates_are_idempotent_by_request_id(env, world: World):
    request = pb.RegisterSchoolRequest(
        request_id=rid(), name="Повтор", academic_year="2026/2027", admin_phone="+79990009999"
    )
    first = await world.s.schools.RegisterSchool(request, metadata=env.operator.md)
    again = await world.s.schools.RegisterSchool(request, metadata=env.operator.md)
    assert first.school == again.school
    klass = pb.CreateClassRequest(request_id=rid(), school_id=world.school.school_id, grade=3, letter="В")
    c1 = await world.s.classes.CreateClass(klass, metadata=world.admin.md)
    c2 = await world.s.classes.CreateClass(klass, metadata=world.admin.md)
    assert c1 == c2
    invite = pb.CreateInviteRequest(
        request_id=rid(), school_id=world.school.school_id, role=ev.SCHOOL_ROLE_TEACHER, ttl_seconds=3600, max_uses=3
    )
    i1 = await world.s.invites.CreateInvite(invite, metadata=world.admin.md)
    i2 = await world.s.invites.CreateInvite(invite, metadata=world.admin.md)
    assert (i1.invite.invite_id, i1.token, i1.link) == (i2.invite.invite_id, i2.token, i2.link)
    # Accepting twice uses the invite once and makes no second membership.
    teacher = env.mint.user()
    a1 = await world.s.invites.AcceptInvite(pb.AcceptInviteRequest(token=i1.token), metadata=teacher.md)
    a2 = await world.s.invites.AcceptInvite(pb.AcceptInviteRequest(token=i1.token), metadata=teacher.md)
    assert {m.membership_id for m in a1.memberships} == {m.membership_id for m in a2.memberships}
    listed = await world.s.invites.ListInvites(
        pb.ListInvitesRequest(school_id=world.school.school_id), metadata=world.admin.md
    )
    assert next(i for i in listed.invites if i.invite_id == i1.invite.invite_id).uses == 1
    # The token is stored only as a hash.
    doc = await env.db["invites"].find_one({"_id": i1.invite.invite_id})
    assert i1.token not in str(doc)


async def test_the_last_admin_cannot_be_removed_or_leave(world: World):
    s = world.s
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await s.schools.RemoveAdmin(
            pb.RemoveAdminRequest(school_id=world.school.school_id, user_id=world.admin.user_id),
            metadata=world.admin.md,
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "school must keep" in info.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await s.members.Leave(pb.LeaveRequest(school_id=world.school.school_id), metadata=world.admin.md)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # With a second admin, the first may step down and stays a member only if they also teach.
    second = await world.new_teacher()
    await s.schools.AppointAdmin(
        pb.AppointAdminRequest(school_id=world.school.school_id, user_id=second.user_id), metadata=world.admin.md
    )
    await s.schools.RemoveAdmin(
        pb.RemoveAdminRequest(school_id=world.school.school_id, user_id=second.user_id), metadata=world.admin.md
    )
    members = await _members(world)
    assert (second.user_id, ev.SCHOOL_ROLE_TEACHER) in members and (second.user_id, ev.SCHOOL_ROLE_ADMIN) not in members
    staff_room = await _members(world, world.school.staff_room_class_id)
    assert (second.user_id, ev.CLASS_ROLE_STAFF) in staff_room


async def test_concurrent_admin_removals_keep_one_admin(env, world: World):
    # A school of its own: one of its two admins disappears for good here.
    first = env.mint.user()
    school = await register(env, first, "Школа гонок")
    second = env.mint.user()
    await world.join(second, ev.SCHOOL_ROLE_TEACHER, school=school, actor=first)
    await world.s.schools.AppointAdmin(
        pb.AppointAdminRequest(school_id=school.school_id, user_id=second.user_id), metadata=first.md
    )
    calls = [
        world.s.schools.RemoveAdmin(pb.RemoveAdminRequest(school_id=school.school_id, user_id=uid), metadata=first.md)
        for uid in (first.user_id, second.user_id)
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    refused = next(r for r in results if isinstance(r, Exception))
    # LAST_ADMIN when both read first; NOT_FOUND when the first had already removed itself.
    assert refused.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND)  # type: ignore[attr-defined]
    stored = await env.db["schools"].find_one({"_id": school.school_id})
    assert len(stored["admin_ids"]) == 1


async def test_leave_remove_archive_emit_member_left(env, world: World, kafka_bootstrap: str):
    s = world.s
    klass = await world.new_class()
    leaver = await world.new_student(klass.class_id)
    removed = await world.new_student(klass.class_id)
    stays = await world.new_student(klass.class_id)
    await s.members.Leave(pb.LeaveRequest(school_id=world.school.school_id), metadata=leaver.md)
    await s.members.RemoveMember(
        pb.RemoveMemberRequest(school_id=world.school.school_id, user_id=removed.user_id, class_id=klass.class_id),
        metadata=world.admin.md,
    )
    assert {u for u, _ in await _members(world, klass.class_id)} == {stays.user_id}
    await s.classes.ArchiveClass(pb.ArchiveClassRequest(class_id=klass.class_id), metadata=world.admin.md)
    assert await _members(world, klass.class_id) == set()
    # The staff room is never renamed or archived.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await s.classes.RenameClass(
            pb.RenameClassRequest(class_id=world.school.staff_room_class_id, grade=1, letter="А"),
            metadata=world.admin.md,
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await s.classes.ArchiveClass(
            pb.ArchiveClassRequest(class_id=world.school.staff_room_class_id), metadata=world.admin.md
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # A freed grade+letter can be used again after archiving.
    await s.classes.CreateClass(
        pb.CreateClassRequest(
            request_id=rid(), school_id=world.school.school_id, grade=klass.grade, letter=klass.letter
        ),
        metadata=world.admin.md,
    )

    topics = [env.prefix + SCHOOL_MEMBERSHIP, env.prefix + SCHOOL_CLASS, env.prefix + SCHOOL_INVITE]
    admin = world.admin.user_id

    def done(seen):  # type: ignore[no-untyped-def]
        # The topics have their own relays: under load ClassArchived may come after the last
        # MemberLeft, so wait for all. Each end names who ended it (the audit trail's actor), and
        # each join by invite is published as that invite's use (InviteAccepted, with the same write).
        reasons = {(x.membership.user_id, x.reason, x.actor_user_id) for x in payloads(seen, ev.MemberLeft)}
        archived = {getattr(a, "class").class_id for a in payloads(seen, ev.ClassArchived)}
        left = {
            (leaver.user_id, "left", leaver.user_id),
            (removed.user_id, "removed", admin),
            (stays.user_id, "class_archived", admin),
        }
        used = {(x.user_id, x.class_id) for x in payloads(seen, ev.InviteAccepted)}
        joined = {(u.user_id, klass.class_id) for u in (leaver, removed, stays)}
        return left <= reasons and klass.class_id in archived and joined <= used

    seen = await read_events(kafka_bootstrap, topics, until=done)
    archived = [getattr(a, "class") for a in payloads(seen, ev.ClassArchived)]
    assert klass.class_id in {c.class_id for c in archived} and all(c.archived for c in archived)
    # Versions grow per membership: a re-delivered MemberJoined is older than the MemberLeft.
    left = next(e for e in seen if e.event_type.endswith("MemberLeft") and e.aggregate_version >= 2)
    assert left.aggregate_version >= 2


async def test_class_head_change_is_a_role_change_of_one_seat(env, world: World, kafka_bootstrap: str):
    klass = await world.new_class()
    s = world.s
    await s.classes.AddSubjectTeacher(
        pb.AddSubjectTeacherRequest(class_id=klass.class_id, user_id=world.head.user_id, subject="История"),
        metadata=world.admin.md,
    )
    await s.classes.SetClassHead(
        pb.SetClassHeadRequest(class_id=klass.class_id, user_id=world.head.user_id), metadata=world.admin.md
    )
    await s.classes.SetClassHead(
        pb.SetClassHeadRequest(class_id=klass.class_id, user_id=world.sub.user_id), metadata=world.admin.md
    )
    members = await _members(world, klass.class_id)
    assert members == {
        (world.head.user_id, ev.CLASS_ROLE_SUBJECT_TEACHER),
        (world.sub.user_id, ev.CLASS_ROLE_CLASS_HEAD),
    }
    await s.classes.RenameClass(
        pb.RenameClassRequest(class_id=klass.class_id, grade=klass.grade, letter="ЯЯ"), metadata=world.admin.md
    )
    got = await s.classes.GetClass(pb.GetClassRequest(class_id=klass.class_id), metadata=world.admin.md)
    assert getattr(got, "class").title == f"{klass.grade}ЯЯ"


ACTION_MATRIX = {
    # action: roles allowed (c5a for class-scoped ones), exactly as docs/school.md says.
    pb.ACTION_VIEW_SCHOOL: {"admin", "head", "sub", "student", "parent"},
    pb.ACTION_MANAGE_SCHOOL: {"admin"},
    pb.ACTION_MANAGE_CLASSES: {"admin"},
    pb.ACTION_VERIFY_STAFF: {"admin"},
    pb.ACTION_INVITE_STAFF: {"admin"},
    pb.ACTION_INVITE_STUDENTS: {"admin", "head"},
    pb.ACTION_INVITE_PARENTS: {"admin", "head"},
    pb.ACTION_DECIDE_JOIN_REQUESTS: {"admin", "head"},
    pb.ACTION_VIEW_CLASS: {"admin", "head", "sub", "student", "parent"},
    pb.ACTION_POST_CLASS_CHAT: {"admin", "head", "sub", "student", "parent"},
    pb.ACTION_POST_SCHOOL_CHANNEL: {"admin"},
    pb.ACTION_POST_STAFF_CHANNEL: {"admin", "head"},
    pb.ACTION_MODERATE_CLASS: {"admin", "head"},
    pb.ACTION_START_LESSON: {"admin", "head"},
    pb.ACTION_START_BROADCAST: {"admin", "head"},
    pb.ACTION_CREATE_GROUP_CHAT: {"admin", "head"},
}
CLASS_SCOPED = {
    pb.ACTION_INVITE_STUDENTS,
    pb.ACTION_INVITE_PARENTS,
    pb.ACTION_VIEW_CLASS,
    pb.ACTION_POST_CLASS_CHAT,
    pb.ACTION_MODERATE_CLASS,
    pb.ACTION_START_LESSON,
    pb.ACTION_DECIDE_JOIN_REQUESTS,
}


async def test_check_permission_matches_the_documented_action_matrix(world: World):
    # The person-to-person actions (DIRECT_MESSAGE, CALL, SHARE_GROUP) are the rule book's, tested
    # against the shared table (tests/school/unit/test_safety_table.py) and in test_safety.py.
    person_to_person = {pb.ACTION_DIRECT_MESSAGE, pb.ACTION_CALL, pb.ACTION_SHARE_GROUP}
    assert set(ACTION_MATRIX) == {v.number for v in pb.Action.DESCRIPTOR.values if v.number} - person_to_person
    for action, allowed in ACTION_MATRIX.items():
        class_id = world.c5a.class_id if action in CLASS_SCOPED else ""
        for role, user in world.role_users().items():
            # Each asks about themself; the admin could ask about anyone of the school.
            reply = await world.s.members.CheckPermission(
                pb.CheckPermissionRequest(
                    user_id=user.user_id, school_id=world.school.school_id, class_id=class_id, action=action
                ),
                metadata=user.md,
            )
            assert reply.allowed == (role in allowed), (pb.Action.Name(action), role)
    # Outsiders are simply not allowed anything here, and their own answers stay inside their school.
    reply = await world.s.members.CheckPermission(
        pb.CheckPermissionRequest(
            user_id=world.other_admin.user_id, school_id=world.school.school_id, action=pb.ACTION_VIEW_SCHOOL
        ),
        metadata=world.other_admin.md,
    )
    assert not reply.allowed


async def test_get_memberships_for_self_and_admins_only(world: World):
    mine = await world.s.members.GetMemberships(
        pb.GetMembershipsRequest(user_id=world.parent.user_id), metadata=world.parent.md
    )
    assert {m.child_user_id for m in mine.memberships} == {world.student.user_id}
    seen_by_admin = await world.s.members.GetMemberships(
        pb.GetMembershipsRequest(user_id=world.parent.user_id), metadata=world.admin.md
    )
    assert len(seen_by_admin.memberships) == len(mine.memberships)
    # The other school's admin sees nothing of school A's people.
    seen_by_outsider = await world.s.members.GetMemberships(
        pb.GetMembershipsRequest(user_id=world.parent.user_id), metadata=world.other_admin.md
    )
    assert list(seen_by_outsider.memberships) == []


async def test_account_deleted_ends_every_membership(env, world: World, kafka_bootstrap: str):
    # A verified teacher who is also a parent: four seats, two roles, one verification.
    gone = await world.new_teacher(verified=True)
    await world.join(gone, ev.SCHOOL_ROLE_PARENT, class_id=world.c5a.class_id, child=world.student.user_id)
    later = await world.invite(ev.SCHOOL_ROLE_TEACHER)
    envelope = make_envelope(
        identity_pb2.AccountDeleted(user_id=gone.user_id),
        aggregate_type="user",
        aggregate_id=gone.user_id,
        aggregate_version=9,
        producer="identity",
        occurred_at=datetime.now(UTC),
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for _ in range(2):  # delivered twice: the handler is idempotent
            await producer.send_and_wait(
                env.prefix + IDENTITY_USER, envelope.SerializeToString(), key=gone.user_id.encode()
            )
    finally:
        await producer.stop()
    deadline = asyncio.get_running_loop().time() + 20
    while await env.db["memberships"].count_documents({"user_id": gone.user_id, "active": True}):
        assert asyncio.get_running_loop().time() < deadline, "memberships not ended"
        await asyncio.sleep(0.2)

    def done(seen):  # type: ignore[no-untyped-def]
        return (
            len(
                [
                    x
                    for x in payloads(seen, ev.MemberLeft)
                    if x.membership.user_id == gone.user_id and x.reason == "account_deleted"
                ]
            )
            >= 4
        )

    seen = await read_events(kafka_bootstrap, [env.prefix + SCHOOL_MEMBERSHIP], until=done)
    left = [x for x in payloads(seen, ev.MemberLeft) if x.membership.user_id == gone.user_id]
    assert len({x.membership.membership_id for x in left}) == len(left) == 4  # no duplicates from the replay
    school = await env.db["schools"].find_one({"_id": world.school.school_id})
    assert gone.user_id not in school["verified_ids"]
    # The deleted account's token (still unexpired) cannot make a membership again.
    accept = world.s.invites.AcceptInvite(pb.AcceptInviteRequest(token=later.token), metadata=gone.md)
    assert await refused(accept) == (grpc.StatusCode.UNAUTHENTICATED, "ACCOUNT_DELETED")
    assert await env.db["memberships"].count_documents({"user_id": gone.user_id, "active": True}) == 0


async def test_guardian_events_feed_the_projection(env, world: World, kafka_bootstrap: str):
    linked = make_envelope(
        identity_pb2.GuardianLinked(
            guardian_user_id=world.parent.user_id, child_user_id=world.student.user_id, confirmed=True
        ),
        aggregate_type="user",
        aggregate_id=world.student.user_id,
        aggregate_version=3,
        producer="identity",
        occurred_at=datetime.now(UTC),
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            env.prefix + IDENTITY_USER, linked.SerializeToString(), key=world.student.user_id.encode()
        )
    finally:
        await producer.stop()
    deadline = asyncio.get_running_loop().time() + 20
    while not await env.service.deps.guardians.is_guardian(world.parent.user_id, world.student.user_id):
        assert asyncio.get_running_loop().time() < deadline, "guardian link not projected"
        await asyncio.sleep(0.2)
