"""ListAttendance end to end: media-signal as a real process over the real store and Kafka, people
joining, leaving and rejoining lessons through the real signalling stream. The numbers are checked
against the moments each client recorded around its own join and leave (the server's times must
fall inside them), never against sleeps; then the role matrix with real memberships. On the way the
host locks the lesson: a newcomer is refused, a student who was in may come back.

The service runs with both graces at 0 (MEDIA_SIGNAL_ATTENDANCE_*_GRACE_SECONDS) so "late" and
"left early" follow from the order of events alone; the grace boundaries are unit-tested."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.media_signal.v1 import events_pb2 as ev
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta.media_signal.v1 import media_signal_pb2_grpc as pb_grpc
from parta.school.v1 import events_pb2 as school_pb2

from tests.e2e.media_signal_support import MediaStack, School, SignalClient, User, error_reason

# Server and clients share the machine's clock; the store keeps milliseconds.
SLACK = 0.005


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):
    graces = {
        "MEDIA_SIGNAL_ATTENDANCE_LATE_GRACE_SECONDS": "0",
        "MEDIA_SIGNAL_ATTENDANCE_EARLY_LEAVE_GRACE_SECONDS": "0",
    }
    async with MediaStack(mongo_uri, kafka_bootstrap, extra=graces) as s:
        yield s


def _stamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _secs(stamp: timestamp_pb2.Timestamp) -> float:
    return stamp.seconds + stamp.nanos / 1e9


class Bracket:
    """The client's clock before it acted and after it saw the effect."""

    def __init__(self) -> None:
        self.before = time.time()
        self.after = 0.0

    def done(self) -> Bracket:
        self.after = time.time()
        return self

    def holds(self, stamp: timestamp_pb2.Timestamp) -> bool:
        return self.before - SLACK <= _secs(stamp) <= self.after + SLACK


async def _join(user: User, room_id: str) -> tuple[SignalClient, Bracket]:
    bracket = Bracket()
    client = await user.signal(room_id=room_id)
    await client.expect("joined")
    return client, bracket.done()


async def _leave(client: SignalClient) -> Bracket:
    bracket = Bracket()
    await client.send(pb.SignalRequest(leave=pb.LeaveRequest()))
    assert await client.wait_closed() is None
    return bracket.done()


async def _attendance(user: User, **fields: object) -> pb.ListAttendanceResponse:
    stub = pb_grpc.AttendanceServiceStub(user.channel)
    return await stub.ListAttendance(pb.ListAttendanceRequest(**fields), metadata=user.metadata, timeout=5)


async def _outcome(user: User, **fields: object) -> list[str] | str:
    try:
        reply = await _attendance(user, **fields)
    except grpc.aio.AioRpcError as error:
        return f"{error.code().name}/{error_reason(error)}"
    return sorted(r.user_id for r in reply.rows)


async def test_attendance_matches_what_people_did_and_each_role_sees_its_rows(stack: MediaStack) -> None:
    ids = {n: f"{n}-{uuid.uuid4().hex[:6]}" for n in ("teacher", "head", "admin", "misha", "petya", "sasha", "anna")}
    other = {n: f"{n}-{uuid.uuid4().hex[:6]}" for n in ("teacher2", "vera", "olga", "outsider", "admin2")}
    foreign = await stack.school([(other["admin2"], "admin", "")])
    school = School()
    # Another class of the same school: its teacher, student and parent.
    class_b = School(school_id=school.school_id)
    await stack.school(
        [(other["teacher2"], "teacher", "subject_teacher"), (other["vera"], "student", "student")], class_b
    )
    await stack.membership_events(
        class_b,
        [
            school_pb2.MemberJoined(
                membership=class_b.snapshot(other["olga"], "parent", "parent", child_user_id=other["vera"])
            )
        ],
    )
    await stack.school(
        [
            (ids["admin"], "admin", ""),
            (ids["head"], "teacher", "class_head"),
            (ids["misha"], "student", "student"),
            (ids["petya"], "student", "student"),
            (ids["sasha"], "student", "student"),
            (ids["teacher"], "teacher", "subject_teacher"),
        ],
        school,
    )
    await stack.membership_events(
        school,
        [
            school_pb2.MemberJoined(
                membership=school.snapshot(ids["anna"], "parent", "parent", child_user_id=ids["misha"])
            )
        ],
    )
    teacher, misha, petya = stack.user(ids["teacher"]), stack.user(ids["misha"]), stack.user(ids["petya"])

    # Lesson 1, scheduled in an hour and started now: everyone who joins is on time.
    lesson = await teacher.create_room(
        school, ev.ROOM_KIND_LESSON, title="Алгебра", scheduled_for=_stamp(datetime.now(UTC) + timedelta(hours=1))
    )
    await teacher.rooms.StartRoom(pb.StartRoomRequest(room_id=lesson.room_id), metadata=teacher.metadata)
    host, _ = await _join(teacher, lesson.room_id)
    m1, m1_join = await _join(misha, lesson.room_id)
    p1, p_join = await _join(petya, lesson.room_id)
    m1_leave = await _leave(m1)
    m2, m2_join = await _join(misha, lesson.room_id)
    p_leave = await _leave(p1)  # petya leaves for good before the end: left early
    # The host locks the lesson: a newcomer is refused (at the grant); petya, who was in, could come back.
    await host.send(pb.SignalRequest(host_action=pb.HostActionRequest(action=pb.HOST_ACTION_TYPE_LOCK)))
    await m2.expect("host_action", where=lambda r: r.host_action.action == pb.HOST_ACTION_TYPE_LOCK)
    with pytest.raises(grpc.aio.AioRpcError) as locked:
        await stack.user(ids["sasha"]).join_token(lesson.room_id)
    assert locked.value.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(locked.value) == "ROOM_LOCKED"
    assert (await petya.join_token(lesson.room_id)).token

    # While live: misha is present, his open stretch has no end yet.
    live = {r.user_id: r for r in (await _attendance(teacher, room_id=lesson.room_id)).rows}
    assert live[ids["misha"]].present and not live[ids["misha"]].HasField("last_left_at")
    assert not live[ids["misha"]].intervals[-1].HasField("left_at")
    assert not live[ids["petya"]].present

    end = Bracket()
    ended = (await teacher.rooms.EndRoom(pb.EndRoomRequest(room_id=lesson.room_id), metadata=teacher.metadata)).room
    end.done()
    await m2.expect("room_ended")
    await host.close()
    await m2.close()

    reply = await _attendance(teacher, room_id=lesson.room_id)
    assert reply.late_grace_seconds == 0 and reply.early_leave_grace_seconds == 0
    rows = {r.user_id: r for r in reply.rows}
    assert set(rows) == {ids["teacher"], ids["misha"], ids["petya"]}
    assert rows[ids["teacher"]].host and not rows[ids["misha"]].host
    m = rows[ids["misha"]]
    assert len(m.intervals) == 2
    assert m1_join.holds(m.intervals[0].joined_at) and m1_leave.holds(m.intervals[0].left_at)
    assert m2_join.holds(m.intervals[1].joined_at) and end.holds(m.intervals[1].left_at)
    # Present at the end: the stretch closes when the lesson ended (the store keeps milliseconds).
    assert m.intervals[1].left_at == m.lesson_ended_at
    assert abs(_secs(m.lesson_ended_at) - _secs(ended.ended_at)) < 0.001
    assert m.first_joined_at == m.intervals[0].joined_at
    spent = sum(_secs(i.left_at) - _secs(i.joined_at) for i in m.intervals)
    assert abs(m.seconds_present - spent) <= 1
    assert not m.late and not m.left_early and not m.present
    p = rows[ids["petya"]]
    assert len(p.intervals) == 1 and p_join.holds(p.intervals[0].joined_at) and p_leave.holds(p.intervals[0].left_at)
    assert not p.late and p.left_early
    assert m.lesson_start == lesson.scheduled_for

    # Lesson 2, never scheduled: misha joins after its start, so (with no grace) late.
    second = await teacher.create_room(school, ev.ROOM_KIND_LESSON, title="Геометрия", start_now=True)
    host, _ = await _join(teacher, second.room_id)
    m3, _ = await _join(misha, second.room_id)
    await teacher.rooms.EndRoom(pb.EndRoomRequest(room_id=second.room_id), metadata=teacher.metadata)
    await m3.expect("room_ended")
    await host.close()
    await m3.close()

    week = dict(
        school_id=school.school_id,
        since=_stamp(datetime.now(UTC) - timedelta(days=1)),
        until=_stamp(datetime.now(UTC) + timedelta(days=1)),
    )
    anna = stack.user(ids["anna"])
    his = (await _attendance(anna, student_user_id=ids["misha"], **week)).rows
    assert [(r.room_id, r.late) for r in his] == [(lesson.room_id, False), (second.room_id, True)]
    head_view = (await _attendance(stack.user(ids["head"]), class_id=school.class_id, **week)).rows
    assert [(r.room_id, r.user_id) for r in head_view if r.user_id == ids["misha"]] == [
        (lesson.room_id, ids["misha"]),
        (second.room_id, ids["misha"]),
    ]
    assert len(head_view) == 5
    # Paging through the class, two rows a page.
    seen, token = [], ""
    while True:
        page = await _attendance(
            stack.user(ids["head"]), class_id=school.class_id, page={"page_size": 2, "page_token": token}, **week
        )
        seen += [(r.room_id, r.user_id) for r in page.rows]
        token = page.page.next_page_token
        if not token:
            break
    assert seen == [(r.room_id, r.user_id) for r in head_view]

    # The role matrix on lesson 1.
    everyone = sorted([ids["teacher"], ids["misha"], ids["petya"]])
    expected = {
        ids["admin"]: everyone,
        ids["head"]: everyone,
        ids["teacher"]: everyone,
        ids["misha"]: [ids["misha"]],
        ids["anna"]: [ids["misha"]],
        other["teacher2"]: "PERMISSION_DENIED/ATTENDANCE_NOT_ALLOWED",
        other["vera"]: "PERMISSION_DENIED/ATTENDANCE_NOT_ALLOWED",
        other["olga"]: "PERMISSION_DENIED/ATTENDANCE_NOT_ALLOWED",
        other["outsider"]: "NOT_FOUND/ROOM_NOT_FOUND",
        other["admin2"]: "NOT_FOUND/ROOM_NOT_FOUND",
    }
    got = {who: await _outcome(stack.user(who), room_id=lesson.room_id) for who in expected}
    assert got == expected
    # A teacher of another class asking for the student: nothing, as for any id.
    assert await _outcome(stack.user(other["teacher2"]), student_user_id=ids["misha"], **week) == []
    assert await _outcome(stack.user(other["olga"]), student_user_id=ids["misha"], **week) == (
        "PERMISSION_DENIED/ATTENDANCE_NOT_ALLOWED"
    )
    assert await _outcome(stack.user(other["admin2"]), class_id=school.class_id, **week) == "NOT_FOUND/ROOM_NOT_FOUND"
    assert foreign.school_id != school.school_id

    # Bad ranges: INVALID_ARGUMENT naming the field.
    too_long = dict(week, until=_stamp(datetime.now(UTC) + timedelta(days=100)))
    for fields, field in (
        (dict(student_user_id=ids["misha"], **too_long), "until"),
        (dict(class_id=school.class_id, school_id=school.school_id), "since"),
        (dict(room_id=lesson.room_id, class_id=school.class_id), "room_id"),
        (dict(room_id=lesson.room_id, page={"page_token": "garbage!"}), "page.page_token"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _attendance(anna, **fields)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        status = rpc_status.from_call(info.value)
        bad = error_details_pb2.BadRequest()
        assert any(d.Unpack(bad) for d in status.details)
        assert field in [v.field for v in bad.field_violations]
