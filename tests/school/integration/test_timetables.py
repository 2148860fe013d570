"""Timetables through the real service, store and Kafka: the class head sets a week, others are
refused (the subject teacher, the student; another school's admin gets NOT_FOUND), holidays re-publish
the timetable, and every change reaches school.timetable.v1 as TimetableChanged with the full
snapshot and a growing aggregate version; the same week again publishes nothing."""

from __future__ import annotations

import grpc
import pytest
from parta.school.v1 import school_pb2 as pb
from parta.school.v1 import timetable_pb2 as tt
from parta.school.v1 import timetable_pb2_grpc
from parta_common.events.topics import SCHOOL_TIMETABLE

from tests.school.integration.world import build_world
from tests.school.support import read_events


async def test_a_week_and_holidays_are_published_as_full_snapshots(env, kafka_bootstrap: str):  # type: ignore[no-untyped-def]
    w = await build_world(env)
    channel = grpc.aio.insecure_channel(env.address)
    stub = timetable_pb2_grpc.TimetableServiceStub(channel)
    week = tt.SetTimetableRequest(
        class_id=w.c5a.class_id,
        slots=[
            tt.TimetableSlot(weekday=1, start_minute=540, duration_minutes=45, subject="Математика"),
            tt.TimetableSlot(
                weekday=1, start_minute=600, duration_minutes=45, subject="Алгебра", teacher_user_id=w.sub.user_id
            ),
        ],
    )
    for who, code in (
        (w.sub, grpc.StatusCode.PERMISSION_DENIED),  # a subject teacher of the class
        (w.student, grpc.StatusCode.PERMISSION_DENIED),
        (w.parent, grpc.StatusCode.PERMISSION_DENIED),
        (w.other_admin, grpc.StatusCode.NOT_FOUND),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.SetTimetable(week, metadata=who.md)
        assert refused.value.code() == code
    bad = tt.SetTimetableRequest(class_id=w.c5a.class_id, slots=[tt.TimetableSlot(weekday=9, subject="Х")])
    with pytest.raises(grpc.aio.AioRpcError) as invalid:
        await stub.SetTimetable(bad, metadata=w.head.md)
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # The subject teacher is not verified yet: they could not start the lesson, so they do not hold it.
    with pytest.raises(grpc.aio.AioRpcError) as unverified:
        await stub.SetTimetable(week, metadata=w.head.md)
    assert unverified.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await w.s.schools.VerifyStaff(
        pb.VerifyStaffRequest(school_id=w.school.school_id, user_id=w.sub.user_id), metadata=w.admin.md
    )

    first = (await stub.SetTimetable(week, metadata=w.head.md)).timetable
    assert (first.version, first.first_day, first.last_day) == (1, "2026-09-01", "2027-05-31")
    assert (await stub.SetTimetable(week, metadata=w.head.md)).timetable.version == 1  # the same week: no change
    holidays = tt.SetHolidaysRequest(
        school_id=w.school.school_id,
        holidays=[tt.DateRange(first_day="2026-12-30", last_day="2027-01-08", title="Зимние каникулы")],
    )
    with pytest.raises(grpc.aio.AioRpcError) as not_admin:
        await stub.SetHolidays(holidays, metadata=w.head.md)
    assert not_admin.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await stub.SetHolidays(holidays, metadata=w.admin.md)).version == 1
    read = await stub.GetTimetable(tt.GetTimetableRequest(class_id=w.c5a.class_id), metadata=w.parent.md)
    assert read.timetable.version == 2 and read.timezone == "Europe/Moscow"
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await stub.GetHolidays(tt.GetHolidaysRequest(school_id=w.school.school_id), metadata=w.other_admin.md)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND

    topic = env.prefix + SCHOOL_TIMETABLE

    def mine(seen):  # type: ignore[no-untyped-def]
        return [e for e in seen if e.aggregate_id == w.c5a.class_id]

    seen = await read_events(kafka_bootstrap, [topic], until=lambda s: len(mine(s)) >= 2)
    envelopes = mine(seen)
    assert [e.aggregate_version for e in envelopes] == [1, 2]
    assert {e.aggregate_type for e in envelopes} == {"timetable"}
    snapshots = []
    for e in envelopes:
        changed = tt.TimetableChanged()
        assert e.payload.Unpack(changed)
        snapshots.append(changed.timetable)
    assert [s.timezone for s in snapshots] == ["Europe/Moscow"] * 2
    assert [s.class_title for s in snapshots] == [w.c5a.title] * 2
    assert [len(s.holidays) for s in snapshots] == [0, 1]
    assert [x.teacher_user_id for x in snapshots[1].timetable.slots] == [w.head.user_id, w.sub.user_id]
    await channel.close()
