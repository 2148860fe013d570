"""A class's weekly timetable and the school's holidays (pure Python).

The week is a list of slots (ISO weekday, start in minutes after midnight in the school's timezone,
length, subject, teacher). A slot is named by its weekday and start ("1-09:00"): two lessons of one
class never start together, and a lesson whose subject, teacher or length changes keeps its name, so
the lessons made from it are "changed", not "cancelled and created". A timetable belongs to one
academic year and a term inside it (1 September … 31 May unless set); the rollover does not carry it
(docs/school.md, Timetable): a class in a new year has an empty timetable until someone sets one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from itertools import pairwise

from parta_common.errors import FailedPrecondition, InvalidArgument, Violations

from school.domain.memberships import ClassRole, Roles
from school.domain.validation import check_id, check_text

MAX_SLOTS = 70
MAX_SUBJECT = 100
MIN_DURATION, MAX_DURATION = 5, 240
MAX_HOLIDAYS = 50
MAX_HOLIDAY_TITLE = 100
MAX_CANCELLED = 500
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class Slot:
    weekday: int  # ISO: 1 = Monday … 7 = Sunday
    start_minute: int  # after midnight, the school's wall clock
    duration_minutes: int
    subject: str
    teacher_user_id: str = ""

    @property
    def slot_id(self) -> str:
        return slot_id(self.weekday, self.start_minute)


@dataclass(frozen=True)
class DateRange:
    first_day: date
    last_day: date  # inclusive
    title: str = ""

    def holds(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class Cancelled:
    day: date
    slot_id: str


@dataclass(frozen=True)
class Timetable:
    class_id: str
    school_id: str
    academic_year: str
    first_day: date
    last_day: date
    slots: tuple[Slot, ...] = ()
    cancelled: tuple[Cancelled, ...] = ()
    version: int = 0
    # The version of the school's holidays the last published snapshot carried.
    holidays_version: int = 0

    def same_plan(self, other: Timetable) -> bool:
        """Equal in everything a lesson depends on (the version aside)."""
        return replace(self, version=0, holidays_version=0) == replace(other, version=0, holidays_version=0)


@dataclass(frozen=True)
class Holidays:
    school_id: str
    ranges: tuple[DateRange, ...] = ()
    version: int = 0


def slot_id(weekday: int, start_minute: int) -> str:
    return f"{weekday}-{start_minute // 60:02d}:{start_minute % 60:02d}"


def first_year(academic_year: str) -> int:
    """ "2026/2027" → 2026; `academic_year` passed check_academic_year."""
    return int(academic_year.split("/")[0])


def year_bounds(academic_year: str) -> tuple[date, date]:
    """An academic year runs from 1 September to 31 August (the rollover starts the next)."""
    y = first_year(academic_year)
    return date(y, 9, 1), date(y + 1, 8, 31)


def default_term(academic_year: str) -> tuple[date, date]:
    """Lessons run 1 September … 31 May unless the timetable says otherwise."""
    y = first_year(academic_year)
    return date(y, 9, 1), date(y + 1, 5, 31)


def parse_day(v: Violations, name: str, value: str, *, required: bool = True) -> date | None:
    if not value:
        if required:
            v.add(name, "required: an ISO date, 2026-09-01")
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        v.add(name, "must be an ISO date, 2026-09-01")
        return None


def check_slots(v: Violations, slots: list[Slot]) -> None:
    """Each slot in range; no two lessons of the class overlap on one weekday."""
    if len(slots) > MAX_SLOTS:
        v.add("slots", f"at most {MAX_SLOTS} lessons a week")
        return
    for i, s in enumerate(slots):
        name = f"slots[{i}]"
        if not 1 <= s.weekday <= 7:
            v.add(f"{name}.weekday", "must be 1 (Monday) … 7 (Sunday)")
        if not 0 <= s.start_minute < MINUTES_PER_DAY:
            v.add(f"{name}.start_minute", "must be 0..1439 (minutes after midnight)")
        if not MIN_DURATION <= s.duration_minutes <= MAX_DURATION:
            v.add(f"{name}.duration_minutes", f"must be {MIN_DURATION}..{MAX_DURATION}")
        elif s.start_minute + s.duration_minutes > MINUTES_PER_DAY:
            v.add(f"{name}.duration_minutes", "a lesson ends the day it starts")
        check_text(v, f"{name}.subject", s.subject, MAX_SUBJECT, required=True)
        if s.teacher_user_id:
            check_id(v, f"{name}.teacher_user_id", s.teacher_user_id)
    if v.items:
        return
    ordered = sorted(enumerate(slots), key=lambda p: (p[1].weekday, p[1].start_minute))
    for (_, a), (j, b) in pairwise(ordered):
        if a.weekday == b.weekday and b.start_minute < a.start_minute + a.duration_minutes:
            v.add(f"slots[{j}]", f"overlaps the lesson at {slot_id(a.weekday, a.start_minute)}")


def check_term(v: Violations, academic_year: str, first: date | None, last: date | None) -> tuple[date, date]:
    """The term inside the academic year; the default term for what is not given."""
    start, end = year_bounds(academic_year)
    d_first, d_last = default_term(academic_year)
    first, last = first or d_first, last or d_last
    if not start <= first <= end:
        v.add("first_day", f"must be within the academic year {academic_year} ({start} … {end})")
    if not start <= last <= end:
        v.add("last_day", f"must be within the academic year {academic_year} ({start} … {end})")
    if first > last:
        v.add("last_day", "must not be before first_day")
    return first, last


def check_holidays(v: Violations, ranges: list[DateRange]) -> None:
    if len(ranges) > MAX_HOLIDAYS:
        v.add("holidays", f"at most {MAX_HOLIDAYS} ranges")
        return
    for i, r in enumerate(ranges):
        if r.first_day > r.last_day:
            v.add(f"holidays[{i}].last_day", "must not be before first_day")
        elif (r.last_day - r.first_day).days > 366:
            v.add(f"holidays[{i}].last_day", "a holiday is at most a year long")
        check_text(v, f"holidays[{i}].title", r.title, MAX_HOLIDAY_TITLE, required=False)


def may_edit(roles: Roles, class_id: str) -> bool:
    """Admins, and the class head once verified, edit the class's timetable."""
    if roles.is_admin:
        return True
    return roles.is_verified_staff and ClassRole.CLASS_HEAD in roles.in_class(class_id)


def of_year(timetable: Timetable | None, academic_year: str) -> Timetable | None:
    """The class's timetable for its current year; None when the stored one is of another year (the
    rollover does not carry timetables)."""
    return timetable if timetable is not None and timetable.academic_year == academic_year else None


def replace_week(
    stored: Timetable | None,
    current: Timetable | None,
    *,
    class_id: str,
    school_id: str,
    academic_year: str,
    first_day: date,
    last_day: date,
    slots: list[Slot],
) -> Timetable:
    """The new week (not yet versioned). Cancellations of the current year stay where their slot still
    exists; versions never go back, across years too (consumers keep the newest version)."""
    keep = {s.slot_id for s in slots}
    cancelled = tuple(c for c in (current.cancelled if current else ()) if c.slot_id in keep)
    ordered = tuple(sorted(slots, key=lambda s: (s.weekday, s.start_minute)))
    return Timetable(
        class_id=class_id,
        school_id=school_id,
        academic_year=academic_year,
        first_day=first_day,
        last_day=last_day,
        slots=ordered,
        cancelled=cancelled,
        version=stored.version if stored else 0,
        holidays_version=stored.holidays_version if stored else 0,
    )


def cancel(timetable: Timetable, day: date, slot: str) -> Timetable:
    """The timetable with one lesson cancelled; unchanged when it was cancelled already."""
    found = next((s for s in timetable.slots if s.slot_id == slot), None)
    if found is None:
        raise InvalidArgument.field("slot_id", "no such lesson in the class's week")
    if day.isoweekday() != found.weekday:
        raise InvalidArgument.field("date", f"the lesson {slot} is not on that weekday")
    if not timetable.first_day <= day <= timetable.last_day:
        raise InvalidArgument.field("date", "outside the timetable's term")
    entry = Cancelled(day, slot)
    if entry in timetable.cancelled:
        return timetable
    if len(timetable.cancelled) >= MAX_CANCELLED:
        raise FailedPrecondition("too many cancelled lessons this year", reason="TOO_MANY_CANCELLED")
    return replace(timetable, cancelled=(*timetable.cancelled, entry))
