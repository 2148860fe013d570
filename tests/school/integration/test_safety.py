"""School's part of the safety rules (issue 11), through the public API on the real store and Kafka:
verification ends with leaving, the role-conflict table, profiles before participation, and the
access view staying honest across replicas."""

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
from parta_common.events.topics import IDENTITY_USER, SCHOOL_MEMBERSHIP

from tests.school.integration.world import World, build_world
from tests.school.support import Stubs, User, payloads, read_events, refused, settings_for

FP = grpc.StatusCode.FAILED_PRECONDITION


@pytest.fixture(scope="module")
async def world(env) -> World:  # type: ignore[no-untyped-def]
    return await build_world(env)


async def _seats(env, user: User) -> int:  # type: ignore[no-untyped-def]
    return await env.db["memberships"].count_documents({"user_id": user.user_id, "active": True})


async def _may(w: World, user: User, action: int, class_id: str = "") -> bool:
    reply = await w.s.members.CheckPermission(
        pb.CheckPermissionRequest(user_id=user.user_id, school_id=w.school.school_id, class_id=class_id, action=action),
        metadata=w.admin.md,
    )
    return reply.allowed


async def _until(check, what: str, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.05)


async def test_a_removed_teacher_rejoining_by_a_plain_link_is_unverified(env, world: World, kafka_bootstrap: str):
    teacher = await world.new_teacher(verified=True)
    assert await _may(world, teacher, pb.ACTION_CREATE_GROUP_CHAT)
    await world.s.members.RemoveMember(
        pb.RemoveMemberRequest(school_id=world.school.school_id, user_id=teacher.user_id), metadata=world.admin.md
    )
    await world.join(teacher, ev.SCHOOL_ROLE_TEACHER)

    assert not await _may(world, teacher, pb.ACTION_CREATE_GROUP_CHAT)
    assert not await _may(world, teacher, pb.ACTION_POST_STAFF_CHANNEL)
    mine = await world.s.schools.ListMySchools(pb.ListMySchoolsRequest(), metadata=teacher.md)
    assert [s.verified for s in mine.schools if s.school.school_id == world.school.school_id] == [False]

    def done(seen):  # type: ignore[no-untyped-def]
        joined = [j for j in payloads(seen, ev.MemberJoined) if j.membership.user_id == teacher.user_id]
        return len(joined) >= 4  # two seats at first, the same two again after re-joining

    seen = await read_events(kafka_bootstrap, [env.prefix + SCHOOL_MEMBERSHIP], until=done)
    left = [x for x in payloads(seen, ev.MemberLeft) if x.membership.user_id == teacher.user_id]
    assert {x.reason for x in left} == {"removed"} and len(left) == 2
    rejoined = [j for j in payloads(seen, ev.MemberJoined) if j.membership.user_id == teacher.user_id][2:]
    assert [j.membership.verified for j in rejoined] == [False, False]

    # An admin verifies again, and the powers come back.
    await world.s.schools.VerifyStaff(
        pb.VerifyStaffRequest(school_id=world.school.school_id, user_id=teacher.user_id), metadata=world.admin.md
    )
    assert await _may(world, teacher, pb.ACTION_CREATE_GROUP_CHAT)


async def test_a_teacher_who_leaves_by_themself_loses_verification_too(world: World):
    teacher = await world.new_teacher(verified=True)
    await world.s.members.Leave(pb.LeaveRequest(school_id=world.school.school_id), metadata=teacher.md)
    await world.join(teacher, ev.SCHOOL_ROLE_TEACHER)
    assert not await _may(world, teacher, pb.ACTION_START_BROADCAST)


async def test_a_student_cannot_accept_a_staff_or_parent_invite(env, world: World):
    student = await world.new_student()
    before = await _seats(env, student)
    teacher_invite = await world.invite(ev.SCHOOL_ROLE_TEACHER)
    parent_invite = await world.invite(ev.SCHOOL_ROLE_PARENT, class_id=world.c5a.class_id, child=world.student.user_id)
    for invite in (teacher_invite, parent_invite):
        accept = world.s.invites.AcceptInvite(pb.AcceptInviteRequest(token=invite.token), metadata=student.md)
        assert await refused(accept) == (FP, "ROLE_CONFLICT")
    assert await _seats(env, student) == before
    # Refused before the use is counted: the links keep every use for the people they were meant for.
    for invite in (teacher_invite, parent_invite):
        stored = await env.db["invites"].find_one({"_id": invite.invite.invite_id})
        assert stored["uses"] == 0
    assert not await _may(world, student, pb.ACTION_POST_STAFF_CHANNEL)


async def test_staff_and_parents_cannot_take_a_student_seat_by_link(env, world: World):
    seat = await world.invite(ev.SCHOOL_ROLE_STUDENT, class_id=world.c5b.class_id)
    for adult in (world.head, world.sub, world.admin, world.parent):
        accept = world.s.invites.AcceptInvite(pb.AcceptInviteRequest(token=seat.token), metadata=adult.md)
        assert await refused(accept) == (FP, "ROLE_CONFLICT"), adult


async def test_a_teacher_may_also_be_a_parent(env, world: World):
    teacher = await world.new_teacher()
    await world.join(teacher, ev.SCHOOL_ROLE_PARENT, class_id=world.c5a.class_id, child=world.student.user_id)
    assert await _seats(env, teacher) == 4


async def test_approval_rechecks_the_role_table(env, world: World):
    """A request made as nobody-yet, approved after the person became a teacher, would seat staff among
    the children: approval refuses it with the same reason."""
    created = await world.invite(ev.SCHOOL_ROLE_STUDENT, class_id=world.c5a.class_id, approval=True)
    person = env.mint.user()
    pending = await world.s.invites.AcceptInvite(pb.AcceptInviteRequest(token=created.token), metadata=person.md)
    await world.join(person, ev.SCHOOL_ROLE_TEACHER)
    approve = world.s.join_requests.ApproveJoinRequest(
        pb.ApproveJoinRequestRequest(join_request_id=pending.join_request.join_request_id), metadata=world.head.md
    )
    assert await refused(approve) == (FP, "ROLE_CONFLICT")
    assert await _seats(env, person) == 2  # the teacher seats only


async def test_no_invite_and_no_join_request_without_a_profile(env, world: World):
    nobody = env.mint.user()
    env.identity.no_profile.add(nobody.user_id)
    plain = await world.invite(ev.SCHOOL_ROLE_STUDENT, class_id=world.c5b.class_id)
    approval = await world.invite(ev.SCHOOL_ROLE_STUDENT, class_id=world.c5b.class_id, approval=True)
    for invite in (plain, approval):
        accept = world.s.invites.AcceptInvite(pb.AcceptInviteRequest(token=invite.token), metadata=nobody.md)
        assert await refused(accept) == (FP, "PROFILE_MISSING")
    assert await _seats(env, nobody) == 0
    assert await env.db["join_requests"].count_documents({"user_id": nobody.user_id}) == 0
    assert env.identity.asked.count(nobody.user_id) == 2  # the projection had nothing: identity was asked


async def _publish_identity(env, kafka_bootstrap: str, message, user_id: str, version: int) -> None:  # type: ignore[no-untyped-def]
    envelope = make_envelope(
        message,
        aggregate_type="user",
        aggregate_id=user_id,
        aggregate_version=version,
        producer="identity",
        occurred_at=datetime.now(UTC),
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(env.prefix + IDENTITY_USER, envelope.SerializeToString(), key=user_id.encode())
    finally:
        await producer.stop()


async def test_a_profile_projected_from_identity_events_lets_the_person_join(env, world: World, kafka_bootstrap: str):
    person = env.mint.user()
    env.identity.no_profile.add(person.user_id)  # identity's direct answer would refuse: the projection decides
    created = identity_pb2.ProfileCreated(profile=identity_pb2.ProfileSnapshot(user_id=person.user_id))
    await _publish_identity(env, kafka_bootstrap, created, person.user_id, 2)

    async def projected() -> bool:
        return await env.db["profiles"].find_one({"_id": person.user_id, "state": 1}) is not None

    await _until(projected, "ProfileCreated not projected")
    asked = len(env.identity.asked)
    await world.join(person, ev.SCHOOL_ROLE_STUDENT, class_id=world.c5b.class_id)
    assert await _seats(env, person) == 2
    assert len(env.identity.asked) == asked


async def test_a_profile_created_a_moment_ago_is_not_refused_while_the_projection_lags(env, world: World):
    person = env.mint.user()  # no ProfileCreated has reached school; identity knows the profile
    await world.join(person, ev.SCHOOL_ROLE_STUDENT, class_id=world.c5b.class_id)
    assert await _seats(env, person) == 2
    assert env.identity.asked.count(person.user_id) == 1
    # Remembered: the next participation does not ask again.
    await world.join(person, ev.SCHOOL_ROLE_STUDENT, class_id=world.c5a.class_id)
    assert env.identity.asked.count(person.user_id) == 1


async def test_another_replica_forgets_what_this_one_changed(env, world: World, mongo_uri: str, kafka_bootstrap: str):
    """Two replicas on one database: replica B answers CheckPermission from its view; a removal written by
    replica A reaches B's view through the events, well before the view's expiry (set to an hour here)."""
    from school.bootstrap import build

    database = env.db.name
    b = await build(
        settings_for(mongo_uri, database, kafka_bootstrap, env.prefix, access_view_ttl_seconds=3600),
        key_source=env.mint.mint.source(),
    )
    port = await b.runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        on_b = Stubs(channel)
        student = await world.new_student(world.c5b.class_id)
        check = pb.CheckPermissionRequest(
            user_id=student.user_id,
            school_id=world.school.school_id,
            class_id=world.c5b.class_id,
            action=pb.ACTION_POST_CLASS_CHAT,
        )
        assert (await on_b.members.CheckPermission(check, metadata=world.admin.md)).allowed
        assert (await on_b.members.CheckPermission(check, metadata=world.admin.md)).allowed  # from B's view
        await world.s.members.RemoveMember(
            pb.RemoveMemberRequest(school_id=world.school.school_id, user_id=student.user_id), metadata=world.admin.md
        )

        async def forgotten() -> bool:
            return not (await on_b.members.CheckPermission(check, metadata=world.admin.md)).allowed

        await _until(forgotten, "replica B still allows the removed student")
    finally:
        await channel.close()
        await b.runner.stop()


async def test_check_permission_reflects_this_replicas_own_writes_at_once(world: World):
    student = await world.new_student(world.c5b.class_id)
    assert await _may(world, student, pb.ACTION_POST_CLASS_CHAT, world.c5b.class_id)
    await world.s.members.Leave(pb.LeaveRequest(school_id=world.school.school_id), metadata=student.md)
    assert not await _may(world, student, pb.ACTION_POST_CLASS_CHAT, world.c5b.class_id)


async def test_check_permission_asks_the_rule_book_about_two_people(env, world: World, kafka_bootstrap: str):
    """Person to person, as chat and media-signal decide it: the verified class head may DM and call the
    student, the unverified subject teacher is told STAFF_NOT_VERIFIED, a student of another class is
    CONTACT_NOT_ALLOWED; a child awaiting a guardian (ConsentChanged through real Kafka) is kept out of
    calls with AWAITING_GUARDIAN."""
    for user in (world.head, world.sub, world.student, world.parent):
        created = identity_pb2.ProfileCreated(profile=identity_pb2.ProfileSnapshot(user_id=user.user_id))
        await _publish_identity(env, kafka_bootstrap, created, user.user_id, 2)
    other = await world.new_student(world.c5b.class_id)

    async def ask(a: User, b: User, action: int) -> tuple[bool, str]:
        reply = await world.s.members.CheckPermission(
            pb.CheckPermissionRequest(
                user_id=a.user_id, target_user_id=b.user_id, school_id=world.school.school_id, action=action
            ),
            metadata=world.admin.md,
        )
        return reply.allowed, reply.reason

    async def projected() -> bool:
        ids = [u.user_id for u in (world.head, world.sub, world.student, world.parent)]
        return await env.db["profiles"].count_documents({"_id": {"$in": ids}}) == 4

    await _until(projected, "profiles not projected")
    assert await ask(world.head, world.student, pb.ACTION_DIRECT_MESSAGE) == (True, "")
    assert await ask(world.head, world.student, pb.ACTION_CALL) == (True, "")
    assert await ask(world.sub, world.student, pb.ACTION_DIRECT_MESSAGE) == (False, "STAFF_NOT_VERIFIED")
    assert await ask(world.parent, other, pb.ACTION_DIRECT_MESSAGE) == (False, "CONTACT_NOT_ALLOWED")
    assert await ask(world.parent, world.student, pb.ACTION_SHARE_GROUP) == (True, "")

    awaiting = identity_pb2.ConsentChanged(
        user_id=world.student.user_id, consent_state=identity_pb2.CONSENT_STATE_AWAITING_GUARDIAN
    )
    await _publish_identity(env, kafka_bootstrap, awaiting, world.student.user_id, 3)

    async def kept_out() -> bool:
        return await ask(world.head, world.student, pb.ACTION_CALL) == (False, "AWAITING_GUARDIAN")

    await _until(kept_out, "the awaiting child is still callable")
    assert await ask(world.head, world.student, pb.ACTION_DIRECT_MESSAGE) == (True, "")
