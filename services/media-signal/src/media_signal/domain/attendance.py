"""Attendance of lessons: what each person's presence in a lesson amounts to, and who may read it.

Pure Python. The room document records, per person, every stretch of presence (domain/rooms.py
`AttendanceEntry.intervals`); this module turns one room into rows (first join, total time present,
late, left early, the intervals) and decides which rows a reader may see. The rules are tabled in
docs/media-signal.md "Attendance".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from parta_common.errors import PermissionDenied, Violations

from media_signal.domain.rooms import Access, AttendanceEntry, Room, RoomState, id_ok

# A student who joins within this long after the lesson's start is on time (a deployment may set
# another: MEDIA_SIGNAL_ATTENDANCE_LATE_GRACE_SECONDS).
LATE_GRACE = timedelta(minutes=5)
# A student whose last stretch ended more than this long before the lesson ended left early
# (MEDIA_SIGNAL_ATTENDANCE_EARLY_LEAVE_GRACE_SECONDS): saying goodbye before the teacher presses
# "end" is not leaving early.
EARLY_LEAVE_GRACE = timedelta(minutes=2)
# A class's or a student's attendance is asked for at most this many days at a time.
MAX_RANGE = timedelta(days=93)


class Scope(StrEnum):
    LESSON = "lesson"
    CLASS = "class"
    STUDENT = "student"


@dataclass(frozen=True)
class Graces:
    late: timedelta = LATE_GRACE
    early_leave: timedelta = EARLY_LEAVE_GRACE


@dataclass(frozen=True)
class Interval:
    joined_at: datetime
    left_at: datetime | None  # None: still in the room


@dataclass(frozen=True)
class AttendanceRow:
    """One person's presence in one lesson."""

    room: Room
    user_id: str
    is_host: bool
    first_joined_at: datetime
    last_left_at: datetime | None
    total_seconds: float
    late: bool
    left_early: bool
    present_now: bool
    intervals: tuple[Interval, ...]


DEFAULT_GRACES = Graces()


def lesson_start(room: Room) -> datetime | None:
    """What lateness is measured from: the scheduled time, or the actual start when the teacher
    started later than scheduled (a teacher's late start makes no student late) or the lesson was
    never scheduled."""
    if room.scheduled_for is not None and room.started_at is not None:
        return max(room.scheduled_for, room.started_at)
    return room.scheduled_for or room.started_at


def intervals_of(entry: AttendanceEntry) -> tuple[Interval, ...]:
    if entry.intervals:
        return tuple(Interval(j, left) for j, left in entry.intervals)
    # Recorded before intervals were kept: one stretch from the first join to the last leave.
    return (Interval(entry.first_joined_at, entry.last_left_at if entry.open_streams == 0 else None),)


def row_of(room: Room, user_id: str, entry: AttendanceEntry, now: datetime, graces: Graces) -> AttendanceRow:
    present = entry.open_streams > 0 and room.state is not RoomState.ENDED
    total = entry.total_seconds
    if present and entry.open_since is not None:
        total += max(0.0, (now - entry.open_since).total_seconds())
    start = lesson_start(room)
    late = start is not None and entry.first_joined_at > start + graces.late
    left_early = False
    if room.state is RoomState.ENDED and room.ended_at is not None and entry.last_left_at is not None:
        left_early = entry.last_left_at < room.ended_at - graces.early_leave
    return AttendanceRow(
        room=room,
        user_id=user_id,
        is_host=user_id == room.host_user_id,
        first_joined_at=entry.first_joined_at,
        last_left_at=None if present else entry.last_left_at,
        total_seconds=total,
        late=late,
        left_early=left_early,
        present_now=present,
        intervals=intervals_of(entry),
    )


def rows_of(room: Room, now: datetime, graces: Graces = DEFAULT_GRACES) -> list[AttendanceRow]:
    """Everyone who joined the room, by first join."""
    rows = [row_of(room, user_id, entry, now, graces) for user_id, entry in room.attendance.items()]
    return sorted(rows, key=lambda r: (r.first_joined_at, r.user_id))


# ------------------------------------------------------------------ who reads what


def sees_whole_lesson(room: Room, access: Access) -> bool:
    """Admins, the lesson's teacher (its host) and the class head of its class see every row."""
    person = access.person
    return person.is_admin or room.host_user_id == access.user_id or room.class_id in person.heads


def may_see_row(room: Room, user_id: str, access: Access) -> bool:
    """Beyond the whole-lesson readers: a student sees their own row, a parent their child's."""
    return sees_whole_lesson(room, access) or user_id == access.user_id or user_id in access.person.children


def check_may_read_lesson(room: Room, access: Access) -> None:
    """Who may ask for one lesson: the whole-lesson readers, and the class's own students and
    parents (for their own rows). Anyone else in the school (a teacher of another class, a parent
    of another class) is PERMISSION_DENIED: GetRoom already tells them the lesson is not theirs."""
    person = access.person
    if sees_whole_lesson(room, access):
        return
    if room.class_id and (room.class_id in person.student_in or room.class_id in person.parent_in):
        return
    raise PermissionDenied("this lesson's attendance is for its class and teachers", reason="ATTENDANCE_NOT_ALLOWED")


def check_may_read_class(class_id: str, access: Access) -> None:
    """A class over a date range: admins and the class head (every row), the class's teachers (the
    lessons they held), its students (own rows) and parents (their children's rows)."""
    person = access.person
    if person.is_admin or class_id in person.teaches or class_id in person.student_in or class_id in person.parent_in:
        return
    raise PermissionDenied("this class's attendance is for its class and teachers", reason="ATTENDANCE_NOT_ALLOWED")


def check_may_read_student(student_id: str, access: Access) -> None:
    """One student over a date range: the student, their parents, and staff (filtered by row: an
    admin sees all, a teacher the lessons they held or the classes they head; a teacher with no
    such lesson gets an empty answer, whoever the student is). Other students and parents are
    PERMISSION_DENIED whoever the id names, so the answer reveals nothing about the id."""
    person = access.person
    if person.is_staff or student_id == access.user_id or student_id in person.children:
        return
    raise PermissionDenied("a student's attendance is for the family and staff", reason="ATTENDANCE_NOT_ALLOWED")


@dataclass(frozen=True)
class AttendanceQuery:
    school_id: str = ""
    room_id: str = ""
    class_id: str = ""
    student_id: str = ""
    since: datetime | None = None
    until: datetime | None = None

    @property
    def scope(self) -> Scope:
        if self.room_id:
            return Scope.LESSON
        if self.student_id:
            return Scope.STUDENT
        return Scope.CLASS


def validate_query(q: AttendanceQuery) -> None:
    """One of room_id, class_id, student_user_id; a range (since < until, at most MAX_RANGE) for a class
    or a student; the school for a class or a student."""
    v = Violations()
    given = {"room_id": q.room_id, "class_id": q.class_id, "student_user_id": q.student_id}
    named = [name for name, value in given.items() if value]
    if len(named) != 1:
        v.add("room_id", "exactly one of room_id, class_id, student_user_id")
    for name in named:
        v.check(id_ok(given[name]), name, "up to 64 printable characters")
    if q.room_id or not named:
        v.raise_if_any()
        return
    v.check(id_ok(q.school_id), "school_id", "required with class_id or student_user_id")
    if q.since is None:
        v.add("since", "required with class_id or student_user_id")
    if q.until is None:
        v.add("until", "required with class_id or student_user_id")
    if q.since is not None and q.until is not None:
        if q.until <= q.since:
            v.add("until", "must be after since")
        elif q.until - q.since > MAX_RANGE:
            v.add("until", f"at most {MAX_RANGE.days} days after since")
    v.raise_if_any()
