"""Timetables: a class's week (admins and the class head set it; the class reads it), one lesson
cancelled, and the school's holidays. Every change publishes TimetableChanged with the full snapshot
(the school's timezone and holidays included); media-signal makes the lessons from it."""

from __future__ import annotations

from dataclasses import dataclass, replace

from parta_common.errors import FailedPrecondition, PermissionDenied, Violations
from parta_common.retries import saved, with_retries

from school.app.common import Caller, Deps
from school.app.ports import HolidayRepository, TimetableRepository
from school.domain.classes import SchoolClass
from school.domain.events import TimetableChanged
from school.domain.memberships import ClassRole, Roles
from school.domain.permissions import Action
from school.domain.schools import School
from school.domain.timetables import (
    DateRange,
    Holidays,
    Slot,
    Timetable,
    cancel,
    check_holidays,
    check_slots,
    check_term,
    default_term,
    may_edit,
    of_year,
    parse_day,
    replace_week,
)
from school.domain.validation import check_id

TEACHING = (ClassRole.CLASS_HEAD, ClassRole.SUBJECT_TEACHER)


@dataclass(frozen=True)
class SetWeek:
    class_id: str
    slots: list[Slot]
    first_day: str = ""
    last_day: str = ""


@dataclass(frozen=True)
class ClassTimetable:
    timetable: Timetable
    timezone: str


class Timetables:
    def __init__(self, deps: Deps, timetables: TimetableRepository, holidays: HolidayRepository):
        self.d = deps
        self.timetables = timetables
        self.holidays = holidays

    # --- the week ----------------------------------------------------------------------------

    async def set_timetable(self, caller: Caller, cmd: SetWeek) -> Timetable:
        v = Violations()
        check_id(v, "class_id", cmd.class_id)
        check_slots(v, cmd.slots)
        first = parse_day(v, "first_day", cmd.first_day, required=False)
        last = parse_day(v, "last_day", cmd.last_day, required=False)
        v.raise_if_any()
        school_class, school, roles = await self.d.class_for(caller, cmd.class_id)
        self._require_edit(roles, school_class)
        v = Violations()
        first, last = check_term(v, school_class.academic_year, first, last)
        v.raise_if_any()
        slots = await self._with_teachers(school, school_class, cmd.slots)

        async def attempt() -> Timetable:
            stored = await self.timetables.get(cmd.class_id)
            current = of_year(stored, school_class.academic_year)
            week = replace_week(
                stored,
                current,
                class_id=school_class.id,
                school_id=school.id,
                academic_year=school_class.academic_year,
                first_day=first,
                last_day=last,
                slots=slots,
            )
            if current is not None and current.same_plan(week):
                return current
            return await self._publish(week, stored, school, school_class)

        return await with_retries(attempt)

    async def get_timetable(self, caller: Caller, class_id: str) -> ClassTimetable:
        v = Violations()
        check_id(v, "class_id", class_id)
        v.raise_if_any()
        school_class, school, roles = await self.d.class_for(caller, class_id)
        self.d.require(roles, Action.VIEW_CLASS, class_id)
        current = of_year(await self.timetables.get(class_id), school_class.academic_year)
        if current is None:
            first, last = default_term(school_class.academic_year)
            current = Timetable(class_id, school.id, school_class.academic_year, first, last)
        return ClassTimetable(current, school.timezone)

    async def cancel_lesson(self, caller: Caller, class_id: str, day: str, slot_id: str) -> Timetable:
        v = Violations()
        check_id(v, "class_id", class_id)
        when = parse_day(v, "date", day)
        if not slot_id:
            v.add("slot_id", "required, e.g. 1-09:00")
        v.raise_if_any()
        assert when is not None
        school_class, school, roles = await self.d.class_for(caller, class_id)
        self._require_edit(roles, school_class)

        async def attempt() -> Timetable:
            stored = await self.timetables.get(class_id)
            current = of_year(stored, school_class.academic_year)
            if current is None:
                raise FailedPrecondition("the class has no timetable this year", reason="NO_TIMETABLE")
            changed = cancel(current, when, slot_id)
            if changed is current:
                return current
            return await self._publish(changed, stored, school, school_class)

        return await with_retries(attempt)

    # --- holidays ----------------------------------------------------------------------------

    async def set_holidays(self, caller: Caller, school_id: str, ranges: list[tuple[str, str, str]]) -> Holidays:
        """Replaces the school's holidays, then re-publishes every timetable of the school with them
        (each a version-checked write; repeating the call finishes what a crash left undone)."""
        v = Violations()
        check_id(v, "school_id", school_id)
        parsed: list[DateRange] = []
        for i, (first, last, title) in enumerate(ranges):
            a = parse_day(v, f"holidays[{i}].first_day", first)
            b = parse_day(v, f"holidays[{i}].last_day", last)
            if a is not None and b is not None:
                parsed.append(DateRange(a, b, title))
        if not v.items:
            check_holidays(v, parsed)
        v.raise_if_any()
        school, roles = await self.d.school_for(caller, school_id)
        self.d.require(roles, Action.MANAGE_SCHOOL)
        wanted = tuple(sorted(parsed, key=lambda r: (r.first_day, r.last_day, r.title)))

        async def attempt() -> Holidays:
            stored = await self.holidays.get(school_id)
            if stored is not None and stored.ranges == wanted:
                return stored
            version = stored.version if stored else 0
            fresh = Holidays(school_id, wanted, version + 1)
            return saved(fresh, await self.holidays.save(fresh, version))

        holidays = await with_retries(attempt)
        for stored in await self.timetables.of_school(school_id):
            if stored.holidays_version < holidays.version:
                await self._republish(stored.class_id, school)
        return holidays

    async def get_holidays(self, caller: Caller, school_id: str) -> Holidays:
        v = Violations()
        check_id(v, "school_id", school_id)
        v.raise_if_any()
        await self.d.school_for(caller, school_id)  # any member reads them; others learn nothing
        return await self.holidays.get(school_id) or Holidays(school_id)

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _require_edit(roles: Roles, school_class: SchoolClass) -> None:
        if not may_edit(roles, school_class.id):
            raise PermissionDenied(
                "only admins and the class head edit the timetable",
                reason="PERMISSION_DENIED",
                metadata={"action": "MANAGE_TIMETABLE"},
            )
        if school_class.is_staff_room or school_class.archived:
            raise FailedPrecondition("the class has no lessons", reason="CLASS_HAS_NO_LESSONS")

    async def _with_teachers(self, school: School, school_class: SchoolClass, slots: list[Slot]) -> list[Slot]:
        """Each lesson's teacher teaches the class (class head or subject teacher) and is verified (only
        verified staff start lessons); an empty teacher is the class head."""
        seats = [m for m in await self.d.memberships.of_class(school_class.id) if m.active]
        teachers = {m.user_id for m in seats if m.class_role in TEACHING}
        head = next((m.user_id for m in seats if m.class_role == ClassRole.CLASS_HEAD), "")
        out: list[Slot] = []
        v = Violations()
        for i, s in enumerate(slots):
            teacher = s.teacher_user_id or head
            if not teacher:
                v.add(f"slots[{i}].teacher_user_id", "required: the class has no class head")
            elif teacher not in teachers:
                v.add(f"slots[{i}].teacher_user_id", "not a teacher of this class")
            elif teacher not in school.verified_ids:
                v.add(f"slots[{i}].teacher_user_id", "not verified yet: an admin verifies teachers first")
            out.append(replace(s, teacher_user_id=teacher))
        v.raise_if_any()
        return out

    async def _publish(
        self, timetable: Timetable, stored: Timetable | None, school: School, school_class: SchoolClass
    ) -> Timetable:
        holidays = await self.holidays.get(school.id) or Holidays(school.id)
        version = stored.version if stored else 0
        fresh = replace(timetable, version=version + 1, holidays_version=holidays.version)
        event = TimetableChanged(fresh, school.timezone, holidays.ranges, school_class.title)
        return saved(fresh, await self.timetables.save(fresh, version, [event]))

    async def _republish(self, class_id: str, school: School) -> None:
        school_class = await self.d.classes.get(class_id)
        if school_class is None:
            return

        async def attempt() -> Timetable:
            stored = await self.timetables.get(class_id)
            assert stored is not None  # timetables are never deleted
            return await self._publish(stored, stored, school, school_class)

        await with_retries(attempt)
