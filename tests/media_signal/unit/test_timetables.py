"""Lessons from the timetable: the pure expansion of a week into lesson instants in the school's
timezone (a zone without daylight saving and one with it, holidays, cancellations, the term), and the
materialisation pass on fakes (created once, changed, cancelled, replays)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from media_signal.app.timetables import LessonPlanner
from media_signal.domain import events
from media_signal.domain.rooms import RoomKind, RoomState
from media_signal.domain.timetables import TimetablePlan, WeekSlot, expand, lesson_id
from parta_common.testing.fakes import FakeClock

from tests.media_signal.fakes import CLASS, SCHOOL, FakePlans, FakeRooms, FakeTimetableLessons

MATHS = WeekSlot("1-09:00", 1, 9 * 60, 45, "Математика", "olga")
RUSSIAN = WeekSlot("1-10:00", 1, 10 * 60, 45, "Русский язык", "olga")
PHYSICS = WeekSlot("3-12:30", 3, 12 * 60 + 30, 40, "Физика", "pavel")
SATURDAY = WeekSlot("6-08:30", 6, 8 * 60 + 30, 45, "Литература", "olga")


def plan(tz: str = "Europe/Moscow", **kw: object) -> TimetablePlan:
    base = TimetablePlan(
        school_id=SCHOOL,
        class_id=CLASS,
        class_title="5А",
        academic_year="2026/2027",
        timezone=tz,
        first_day=date(2026, 9, 1),
        last_day=date(2027, 5, 31),
        slots=(MATHS, RUSSIAN, PHYSICS, SATURDAY),
        version=1,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def instants(p: TimetablePlan, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    return [(x.subject, x.starts_at) for x in expand(p, start, end)]


def test_a_week_in_moscow():
    # Monday 7 December 2026, 00:00 in Moscow (UTC+3 all year) … a week later.
    start = utc(2026, 12, 6, 21)
    assert instants(plan(), start, start + timedelta(days=7)) == [
        ("Математика", utc(2026, 12, 7, 6)),
        ("Русский язык", utc(2026, 12, 7, 7)),
        ("Физика", utc(2026, 12, 9, 9, 30)),
        ("Литература", utc(2026, 12, 12, 5, 30)),
    ]


def test_the_wall_clock_stays_across_daylight_saving():
    """Berlin: 09:00 is 08:00 UTC in winter and 07:00 UTC in summer (clocks change 28 March 2027 and
    25 October 2026); the lesson stays at 09:00 local."""
    p = plan("Europe/Berlin", slots=(MATHS,))
    assert instants(p, utc(2027, 3, 20), utc(2027, 4, 3)) == [
        ("Математика", utc(2027, 3, 22, 8)),
        ("Математика", utc(2027, 3, 29, 7)),
    ]
    assert instants(p, utc(2026, 10, 18), utc(2026, 11, 1)) == [
        ("Математика", utc(2026, 10, 19, 7)),
        ("Математика", utc(2026, 10, 26, 8)),
    ]
    # A start that does not exist (02:30 on the spring-forward Sunday) takes the offset before the change.
    night = WeekSlot("7-02:30", 7, 150, 30, "Астрономия", "olga")
    assert instants(replace(p, slots=(night,)), utc(2027, 3, 27), utc(2027, 3, 29)) == [
        ("Астрономия", utc(2027, 3, 28, 1, 30)),
    ]


def test_holidays_and_cancelled_lessons_are_skipped():
    p = plan(
        slots=(MATHS,),
        holidays=((date(2026, 12, 30), date(2027, 1, 8)),),
        cancelled=frozenset({(date(2027, 1, 18), "1-09:00")}),
    )
    assert [x.day for x in expand(p, utc(2026, 12, 27), utc(2027, 1, 26))] == [
        date(2026, 12, 28),
        date(2027, 1, 11),  # 4 January is a holiday, 18 January cancelled
        date(2027, 1, 25),
    ]
    # A holiday's first and last days are holidays too.
    edge = plan(slots=(MATHS,), holidays=((date(2026, 12, 7), date(2026, 12, 14)),))
    assert expand(edge, utc(2026, 12, 6), utc(2026, 12, 22)) == expand(
        plan(slots=(MATHS,)), utc(2026, 12, 20), utc(2026, 12, 22)
    )


def test_lessons_stay_within_the_term():
    p = plan(slots=(MATHS,), first_day=date(2026, 9, 1), last_day=date(2027, 5, 31))
    assert [x.day for x in expand(p, utc(2026, 8, 20), utc(2026, 9, 15))] == [date(2026, 9, 7), date(2026, 9, 14)]
    assert [x.day for x in expand(p, utc(2027, 5, 20), utc(2027, 6, 15))] == [date(2027, 5, 24), date(2027, 5, 31)]


def test_the_window_is_half_open_and_ids_are_deterministic():
    p = plan(slots=(MATHS,))
    at = utc(2026, 12, 7, 6)
    assert [x.starts_at for x in expand(p, at, at + timedelta(minutes=1))] == [at]
    assert expand(p, at - timedelta(days=1), at) == []
    [lesson] = expand(p, at, at + timedelta(days=1))
    assert lesson.room_id == lesson_id(CLASS, date(2026, 12, 7), "1-09:00")
    assert lesson.room_id != lesson_id(CLASS, date(2026, 12, 14), "1-09:00")
    assert lesson.room_id != lesson_id("class-6b", date(2026, 12, 7), "1-09:00")


def test_an_unknown_zone_falls_back_to_moscow():
    p = plan("Mars/Olympus", slots=(MATHS,))
    assert instants(p, utc(2026, 12, 7), utc(2026, 12, 8)) == [("Математика", utc(2026, 12, 7, 6))]


# --- the materialisation pass on fakes --------------------------------------------------------


def planner() -> tuple[LessonPlanner, FakeRooms, FakeClock]:
    rooms = FakeRooms()
    clock = FakeClock(utc(2026, 12, 6, 21))  # Monday 00:00 in Moscow
    p = LessonPlanner(plans=FakePlans(), lessons=FakeTimetableLessons(rooms), rooms=rooms, clock=clock)
    return p, rooms, clock


def kinds(evts: list[object]) -> list[tuple[str, str]]:
    return [(type(e).__name__, e.room.title) for e in evts]  # type: ignore[attr-defined]


async def test_the_next_seven_days_become_scheduled_lessons_once():
    p, rooms, clock = planner()
    await p.plan_changed(plan())
    assert kinds(rooms.events) == [
        ("RoomScheduled", "Математика"),
        ("RoomScheduled", "Русский язык"),
        ("RoomScheduled", "Физика"),
        ("RoomScheduled", "Литература"),
    ]
    maths = rooms.rooms[lesson_id(CLASS, date(2026, 12, 7), "1-09:00")]
    assert (maths.kind, maths.state, maths.host_user_id, maths.class_id) == (
        RoomKind.LESSON,
        RoomState.SCHEDULED,
        "olga",
        CLASS,
    )
    assert (maths.scheduled_for, maths.timetable_slot_id, maths.duration_minutes) == (
        utc(2026, 12, 7, 6),
        "1-09:00",
        45,
    )
    # A replay of the same plan, and a pass over it, change nothing.
    await p.plan_changed(plan())
    await p.tick()
    assert len(rooms.events) == 4
    # A day later the horizon reaches next Monday.
    clock.advance(86400)
    await p.tick()
    assert kinds(rooms.events[4:]) == [("RoomScheduled", "Математика"), ("RoomScheduled", "Русский язык")]


async def test_a_changed_slot_changes_its_lessons_and_a_removed_one_cancels_them():
    p, rooms, _clock = planner()
    await p.plan_changed(plan())
    rooms.events.clear()
    algebra = replace(MATHS, subject="Алгебра", duration_minutes=40)
    await p.plan_changed(plan(slots=(algebra, RUSSIAN, SATURDAY), version=2))
    assert kinds(rooms.events) == [("RoomRescheduled", "Алгебра"), ("RoomCancelled", "Физика")]
    changed = rooms.events[0]
    assert isinstance(changed, events.RoomRescheduled) and changed.previous.title == "Математика"
    physics = rooms.rooms[lesson_id(CLASS, date(2026, 12, 9), "3-12:30")]
    assert physics.state is RoomState.ENDED and physics.started_at is None
    # An older plan arriving late changes nothing: the newest stays in force.
    await p.plan_changed(plan(version=1))
    assert len(rooms.events) == 2
    # The slot comes back: its lesson is scheduled again (announced again).
    await p.plan_changed(plan(slots=(algebra, RUSSIAN, PHYSICS, SATURDAY), version=3))
    assert kinds(rooms.events[2:]) == [("RoomScheduled", "Физика")]
    assert rooms.rooms[physics.room_id].state is RoomState.SCHEDULED


async def test_a_cancelled_date_and_a_holiday_cancel_only_their_lessons():
    p, rooms, _clock = planner()
    await p.plan_changed(plan())
    rooms.events.clear()
    cancelled = frozenset({(date(2026, 12, 7), "1-09:00")})
    await p.plan_changed(plan(cancelled=cancelled, version=2))
    assert kinds(rooms.events) == [("RoomCancelled", "Математика")]
    await p.plan_changed(plan(cancelled=cancelled, holidays=((date(2026, 12, 12), date(2026, 12, 13)),), version=3))
    assert kinds(rooms.events[1:]) == [("RoomCancelled", "Литература")]


async def test_a_started_lesson_is_left_alone():
    p, rooms, _clock = planner()
    await p.plan_changed(plan(slots=(MATHS,)))
    room = rooms.rooms[lesson_id(CLASS, date(2026, 12, 7), "1-09:00")]
    room.start(utc(2026, 12, 7, 5, 58))
    rooms.events.clear()
    await p.plan_changed(plan(slots=(), version=2))
    await p.plan_changed(plan(slots=(replace(MATHS, subject="Алгебра"),), version=3))
    assert rooms.events == [] and room.state is RoomState.LIVE and room.title == "Математика"


async def test_an_archived_class_has_its_upcoming_lessons_cancelled():
    rooms = FakeRooms()
    lessons = FakeTimetableLessons(rooms)
    p = LessonPlanner(plans=FakePlans(), lessons=lessons, rooms=rooms, clock=FakeClock(utc(2026, 12, 6, 21)))
    await p.plan_changed(plan(slots=(MATHS, PHYSICS)))
    rooms.events.clear()
    lessons.archived.add(CLASS)  # school archived the class (the directory projection says so)
    await p.tick()
    assert kinds(rooms.events) == [("RoomCancelled", "Математика"), ("RoomCancelled", "Физика")]
    await p.tick()
    assert len(rooms.events) == 2
