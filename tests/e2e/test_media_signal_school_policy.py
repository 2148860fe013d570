"""A school's communication policy in media-signal, two replicas as processes on the real store and
Kafka: when an admin switches students_reach_classmates off (school publishes SchoolUpdated whose
snapshot carries the policy), both replicas refuse a call between classmates and a classmate's join
to an existing call with CONTACT_NOT_ALLOWED within seconds — whichever replica's consumer applied
the event — while a teacher still calls the student; calls_with_students off then stops that too,
and switched on again everything is allowed again."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from aiokafka import AIOKafkaProducer
from parta.media_signal.v1 import events_pb2 as ev
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta.school.v1 import events_pb2 as school_pb2
from parta_common.events.envelope import make_envelope
from parta_common.events.topics import SCHOOL_SCHOOL

from tests.e2e.media_signal_support import MediaStack, School, error_reason

DENIED = (grpc.StatusCode.PERMISSION_DENIED, "CONTACT_NOT_ALLOWED")
OK = (grpc.StatusCode.OK, "")


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):
    async with MediaStack(mongo_uri, kafka_bootstrap) as s:
        yield s


async def set_policy(stack: MediaStack, school: School, **switches: bool) -> None:
    """What school publishes after SetSchoolPolicy: SchoolUpdated with every switch filled in."""
    school.version += 1
    policy = school_pb2.CommunicationPolicy(
        **{
            n: switches.get(n, True)
            for n in ("students_reach_classmates", "parents_reach_parents", "calls_with_students")
        }
    )
    snapshot = school_pb2.SchoolSnapshot(school_id=school.school_id, name="Школа", communication_policy=policy)
    envelope = make_envelope(
        school_pb2.SchoolUpdated(school=snapshot),
        aggregate_type="school",
        aggregate_id=school.school_id,
        aggregate_version=school.version,
        producer="school",
        occurred_at=datetime.now(UTC),
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{stack.prefix}{SCHOOL_SCHOOL}", envelope.SerializeToString(), key=school.school_id.encode()
        )
    finally:
        await producer.stop()


async def outcome(call: Any) -> tuple[grpc.StatusCode, str]:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error.code(), error_reason(error)
    return OK


async def until(check: Any, timeout: float = 20.0) -> float:
    """Waits for an async condition; returns the seconds it took."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, "condition not reached in time"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def call_request(school: School, invited: str) -> pb.CreateRoomRequest:
    return pb.CreateRoomRequest(
        request_id=uuid.uuid4().hex,
        school_id=school.school_id,
        kind=ev.ROOM_KIND_CALL,
        title="Звонок",
        invited_user_ids=[invited],
        start_now=True,
    )


async def test_switching_classmates_off_refuses_their_calls_on_every_replica_and_on_again(stack: MediaStack) -> None:
    ann, bob, head = f"ann-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}", f"head-{uuid.uuid4().hex[:6]}"
    school = await stack.school(
        [(ann, "student", "student"), (bob, "student", "student"), (head, "teacher", "class_head")]
    )
    second = await stack.start_replica("b")
    on_a, on_b = (
        (stack.user(ann), stack.user(bob), stack.user(head)),
        (
            stack.user(ann, second),
            stack.user(bob, second),
            stack.user(head, second),
        ),
    )
    # Before: classmates call each other (retried while the projection catches up).
    call = await on_a[0].create_room(school, ev.ROOM_KIND_CALL, title="Уроки", invited_user_ids=[bob], start_now=True)
    await on_b[1].join_token(call.room_id)

    await set_policy(stack, school, students_reach_classmates=False)

    async def refused_everywhere() -> bool:
        for a_, b_, _h in (on_a, on_b):
            if await outcome(a_.rooms.CreateRoom(call_request(school, bob), metadata=a_.metadata)) != DENIED:
                return False
            join = pb.CreateJoinTokenRequest(room_id=call.room_id)
            if await outcome(b_.rooms.CreateJoinToken(join, metadata=b_.metadata)) != DENIED:
                return False
        return True

    await until(refused_everywhere)
    # The switch is about students among themselves: their teacher still calls them.
    for _a, _b, h in (on_a, on_b):
        assert await outcome(h.rooms.CreateRoom(call_request(school, ann), metadata=h.metadata)) == OK

    await set_policy(stack, school, students_reach_classmates=False, calls_with_students=False)

    async def teacher_refused_everywhere() -> bool:
        for _a, _b, h in (on_a, on_b):
            if await outcome(h.rooms.CreateRoom(call_request(school, ann), metadata=h.metadata)) != DENIED:
                return False
        return True

    await until(teacher_refused_everywhere)

    await set_policy(stack, school)

    async def allowed_everywhere() -> bool:
        for a_, b_, h in (on_a, on_b):
            if await outcome(a_.rooms.CreateRoom(call_request(school, bob), metadata=a_.metadata)) != OK:
                return False
            join = pb.CreateJoinTokenRequest(room_id=call.room_id)
            if await outcome(b_.rooms.CreateJoinToken(join, metadata=b_.metadata)) != OK:
                return False
            if await outcome(h.rooms.CreateRoom(call_request(school, ann), metadata=h.metadata)) != OK:
                return False
        return True

    await until(allowed_everywhere)
