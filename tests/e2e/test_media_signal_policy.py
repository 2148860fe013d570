"""Safety for minors and staff verification end to end: the membership projection learns
guardians (child_user_id) and verification (verified) from school's events over Kafka, and
media-signal refuses calls and lessons the school's policy does not allow."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from parta.identity.v1 import events_pb2 as identity_pb2
from parta.media_signal.v1 import events_pb2 as ev
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta.school.v1 import events_pb2 as school_pb2

from tests.e2e.media_signal_support import MediaStack, error_reason


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):
    async with MediaStack(mongo_uri, kafka_bootstrap) as s:
        yield s


def _id(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


async def _refused(user, request: pb.CreateRoomRequest) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await user.rooms.CreateRoom(request, metadata=user.metadata, timeout=5)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED, info.value
    return error_reason(info.value)


async def test_calls_follow_guardianship_and_lessons_need_verified_staff(stack: MediaStack) -> None:
    kid, mom, other_parent, other_kid, nina = _id("kid"), _id("mom"), _id("parent"), _id("kid2"), _id("nina")
    school = await stack.school([])
    nina_seat = str(uuid.uuid4())
    # One partition per school (key = school id): the refusals below are checked after mom's
    # call succeeded, so every earlier membership is in the projection by then.
    await stack.membership_events(
        school,
        [
            school_pb2.MemberJoined(membership=school.snapshot(other_kid, "student", "student")),
            school_pb2.MemberJoined(
                membership=school.snapshot(other_parent, "parent", "parent", child_user_id=other_kid)
            ),
            school_pb2.MemberJoined(
                membership=school.snapshot(nina, "teacher", "subject_teacher", verified=False, membership_id=nina_seat)
            ),
            school_pb2.MemberJoined(membership=school.snapshot(kid, "student", "student")),
            school_pb2.MemberJoined(membership=school.snapshot(mom, "parent", "parent", child_user_id=kid)),
        ],
    )
    # A guardian calls her child (retried while the projection catches up; refused forever if
    # the projection lost child_user_id).
    m = stack.user(mom)
    call = await m.create_room(school, ev.ROOM_KIND_CALL, title="Мама", invited_user_ids=[kid], start_now=True)
    assert (await stack.user(kid).join_token(call.room_id)).grants.can_publish

    # Another parent of the class may not call the child.
    p = stack.user(other_parent)
    invite_kid = pb.CreateRoomRequest(
        request_id=uuid.uuid4().hex,
        school_id=school.school_id,
        kind=ev.ROOM_KIND_CALL,
        title="Звонок",
        invited_user_ids=[kid],
        start_now=True,
    )
    assert await _refused(p, invite_kid) == "CONTACT_NOT_ALLOWED"
    # ... nor join a call with him (not invited in the first place; the policy also holds at join).
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await p.join_token(call.room_id)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # An unverified teacher cannot schedule a lesson ...
    n = stack.user(nina)
    lesson = pb.CreateRoomRequest(
        request_id=uuid.uuid4().hex,
        school_id=school.school_id,
        class_id=school.class_id,
        kind=ev.ROOM_KIND_LESSON,
        title="Физика",
    )
    assert await _refused(n, lesson) == "STAFF_NOT_VERIFIED"
    # ... until school publishes her seat as verified (MemberRoleChanged, verified=true).
    await stack.membership_events(
        school,
        [
            school_pb2.MemberRoleChanged(
                membership=school.snapshot(nina, "teacher", "subject_teacher", verified=True, membership_id=nina_seat)
            )
        ],
    )
    room = await n.create_room(school, ev.ROOM_KIND_LESSON, title="Физика", start_now=True)
    assert room.state == pb.ROOM_STATE_LIVE
    assert (await n.join_token(room.room_id)).grants.is_host


async def _eventually_refused(user, request: pb.CreateRoomRequest, reason: str, timeout: float = 20.0) -> None:
    """Refused with `reason`, once the projections have caught up (before that: other refusals)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await user.rooms.CreateRoom(request, metadata=user.metadata, timeout=5)
        if error_reason(info.value) == reason:
            return
        assert asyncio.get_running_loop().time() < deadline, f"still {error_reason(info.value)}, not {reason}"
        await asyncio.sleep(0.2)


async def test_a_child_awaiting_consent_watches_lessons_and_is_kept_out_of_calls(stack: MediaStack) -> None:
    kid, mom, teacher = _id("kid"), _id("mom"), _id("teacher")
    school = await stack.school([(teacher, "teacher", "class_head")])
    await stack.membership_events(
        school,
        [
            school_pb2.MemberJoined(membership=school.snapshot(kid, "student", "student")),
            school_pb2.MemberJoined(membership=school.snapshot(mom, "parent", "parent", child_user_id=kid)),
        ],
    )
    awaiting = identity_pb2.ProfileSnapshot(
        user_id=kid, is_minor=True, consent_state=identity_pb2.CONSENT_STATE_AWAITING_GUARDIAN
    )
    await stack.identity_events(kid, [(1, identity_pb2.ProfileCreated(profile=awaiting))])

    # Even his mother cannot call him before she confirms (identity: "may read, may not call").
    call = pb.CreateRoomRequest(
        request_id=uuid.uuid4().hex, school_id=school.school_id, kind=ev.ROOM_KIND_CALL, title="Мама",
        invited_user_ids=[kid], start_now=True,
    )  # fmt: skip
    await _eventually_refused(stack.user(mom), call, "AWAITING_GUARDIAN")
    # He watches the lesson, but may not publish.
    lesson = await stack.user(teacher).create_room(school, ev.ROOM_KIND_LESSON, title="Чтение", start_now=True)
    watching = (await stack.user(kid).join_token(lesson.room_id)).grants
    assert watching.can_subscribe and not watching.can_publish

    # The guardian confirms: calls and speaking open up.
    granted = identity_pb2.ConsentChanged(
        user_id=kid, consent_state=identity_pb2.CONSENT_STATE_GRANTED, guardian_user_id=mom
    )
    await stack.identity_events(kid, [(2, granted)])
    room = await stack.user(mom).create_room(
        school, ev.ROOM_KIND_CALL, title="Мама", invited_user_ids=[kid], start_now=True
    )
    assert (await stack.user(kid).join_token(room.room_id)).grants.can_publish
    # A late replay of the old snapshot, once handled, does not bring the block back.
    replay = await stack.identity_events(kid, [(1, identity_pb2.ProfileCreated(profile=awaiting))])
    await stack.consumed(replay)
    assert (await stack.user(kid).join_token(room.room_id)).grants.can_publish
    assert (await stack.user(kid).join_token(lesson.room_id)).grants.can_publish
