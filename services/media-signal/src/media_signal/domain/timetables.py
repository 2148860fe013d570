"""Lessons from a class's timetable (pure Python): the week expanded into lesson instants in the
school's timezone, and what a materialisation pass does to the rooms it finds.

A slot ("Monday 09:00, 45 minutes, Математика") gives one lesson on every day of the term with its
weekday, except the school's holidays and the lessons cancelled one by one. 09:00 is the school's
wall clock: the instant is computed in the school's IANA zone for each date, so a zone with daylight
saving keeps lessons at 09:00 local across the change (their UTC instant moves). A wall-clock time
that does not exist on a spring-forward day is taken with the offset before the change (zoneinfo's
fold=0), one that exists twice (autumn) at its first occurrence. Lesson ids are derived from the
class, the date and the slot, so replays and every replica's passes find the same room.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parta_common.ids import IdNamespace

from media_signal.domain.rooms import DEFAULT_MAX, Room, RoomKind, RoomState

# How far ahead lessons exist as rooms (docs/media-signal.md, Lessons from the timetable).
HORIZON = timedelta(days=7)
DEFAULT_ZONE = "Europe/Moscow"

_LESSON_IDS = IdNamespace(uuid.UUID("0d6f5b62-8a43-4f0b-a2c5-6b1e2a9f4c17"))


@dataclass(frozen=True)
class WeekSlot:
    slot_id: str
    weekday: int  # ISO: 1 = Monday … 7 = Sunday
    start_minute: int
    duration_minutes: int
    subject: str
    teacher_user_id: str


@dataclass(frozen=True)
class TimetablePlan:
    """What school published (TimetableChanged): everything needed to expand the week."""

    school_id: str
    class_id: str
    class_title: str
    academic_year: str
    timezone: str
    first_day: date
    last_day: date
    slots: tuple[WeekSlot, ...] = ()
    holidays: tuple[tuple[date, date], ...] = ()  # inclusive ranges
    cancelled: frozenset[tuple[date, str]] = frozenset()  # (date, slot id)
    version: int = 0


@dataclass(frozen=True)
class PlannedLesson:
    room_id: str
    class_id: str
    school_id: str
    slot_id: str
    day: date  # the school's date
    starts_at: datetime  # UTC
    duration_minutes: int
    subject: str
    teacher_user_id: str


def lesson_id(class_id: str, day: date, slot_id: str) -> str:
    return _LESSON_IDS.derive("lesson", class_id, day.isoformat(), slot_id)


def zone(name: str) -> ZoneInfo:
    """The school's zone; Europe/Moscow when the name is unknown here (school validated it)."""
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def on_holiday(plan: TimetablePlan, day: date) -> bool:
    return any(first <= day <= last for first, last in plan.holidays)


def expand(plan: TimetablePlan, start: datetime, end: datetime) -> list[PlannedLesson]:
    """The lessons of `plan` starting in [start, end), in time order (then by slot)."""
    tz = zone(plan.timezone)
    by_weekday: dict[int, list[WeekSlot]] = {}
    for s in plan.slots:
        by_weekday.setdefault(s.weekday, []).append(s)
    day = max(start.astimezone(tz).date() - timedelta(days=1), plan.first_day)
    last = min(end.astimezone(tz).date() + timedelta(days=1), plan.last_day)
    out: list[PlannedLesson] = []
    while day <= last:
        if not on_holiday(plan, day):
            for s in by_weekday.get(day.isoweekday(), ()):
                if (day, s.slot_id) in plan.cancelled:
                    continue
                local = datetime.combine(day, time(s.start_minute // 60, s.start_minute % 60), tzinfo=tz)
                at = local.astimezone(UTC)
                if start <= at < end:
                    out.append(
                        PlannedLesson(
                            room_id=lesson_id(plan.class_id, day, s.slot_id),
                            class_id=plan.class_id,
                            school_id=plan.school_id,
                            slot_id=s.slot_id,
                            day=day,
                            starts_at=at,
                            duration_minutes=s.duration_minutes,
                            subject=s.subject,
                            teacher_user_id=s.teacher_user_id,
                        )
                    )
        day += timedelta(days=1)
    out.sort(key=lambda p: (p.starts_at, p.slot_id))
    return out


def lesson_room(p: PlannedLesson, now: datetime) -> Room:
    """A new scheduled lesson room for a planned lesson; the teacher hosts it."""
    return Room(
        room_id=p.room_id,
        school_id=p.school_id,
        kind=RoomKind.LESSON,
        title=p.subject,
        host_user_id=p.teacher_user_id,
        created_at=now,
        class_id=p.class_id,
        scheduled_for=p.starts_at,
        max_participants=DEFAULT_MAX[RoomKind.LESSON],
        timetable_slot_id=p.slot_id,
        duration_minutes=p.duration_minutes,
    )


def differs(room: Room, p: PlannedLesson) -> bool:
    return (room.title, room.host_user_id, room.scheduled_for, room.duration_minutes) != (
        p.subject,
        p.teacher_user_id,
        p.starts_at,
        p.duration_minutes,
    )


def reschedule(room: Room, p: PlannedLesson) -> Room:
    """The scheduled room following its changed slot (a copy, version + 1)."""
    return replace(
        room,
        title=p.subject,
        host_user_id=p.teacher_user_id,
        scheduled_for=p.starts_at,
        duration_minutes=p.duration_minutes,
        version=room.version + 1,
    )


def cancelled(room: Room, now: datetime) -> Room:
    """A scheduled timetable lesson no longer planned: ended without ever starting."""
    return replace(room, state=RoomState.ENDED, ended_at=now, version=room.version + 1)


def was_cancelled(room: Room) -> bool:
    return bool(room.timetable_slot_id) and room.state is RoomState.ENDED and room.started_at is None


def restored(room: Room, p: PlannedLesson) -> Room:
    """A cancelled lesson planned again (its holiday or cancellation was taken back)."""
    return replace(reschedule(room, p), state=RoomState.SCHEDULED, ended_at=None)
