"""The academic-year rollover: the pure rules (promotion table, graduation, conflicts, which year) and the
use case on fakes (idempotent retry, crash resume, seats of graduates, admins only)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from parta_common.errors import FailedPrecondition, PermissionDenied
from school.app.common import Caller
from school.app.schools import RegisterSchool
from school.domain import events as de
from school.domain.classes import SchoolClass
from school.domain.events import DomainEvent
from school.domain.memberships import ClassRole, SchoolRole
from school.domain.schools import School
from school.domain.years import (
    already_started,
    graduate,
    move_up,
    next_academic_year,
    plan_of,
    plan_rollover,
    start_rollover,
)

from tests.school.fakes import OPERATOR, FakeClasses, World

ADMIN = Caller("irina", "+79990000001")
Y1, Y2, Y3 = "2026/2027", "2027/2028", "2028/2029"


def _school(year: str = Y1) -> School:
    return School("s", "Школа", "", "", "", "Europe/Moscow", year, "staff", version=1)


def _class(cid: str, grade: int, letter: str, year: str = Y1, archived: bool = False) -> SchoolClass:
    return SchoolClass(cid, "s", grade, letter, f"{grade}{letter}", year, archived=archived, version=1)


def _reason(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(FailedPrecondition) as info:
        call()
    return str(info.value.reason)


# --- domain ------------------------------------------------------------------------------------


def test_next_year_and_the_promotion_table():
    assert next_academic_year(Y1) == Y2
    classes = [_class(f"c{g}", g, "А") for g in range(0, 12)]
    plan = plan_rollover(_school(), [*classes, _class("old", 5, "Б", archived=True)], Y2)
    by_id = {c.id: c for c in classes}
    moved = {by_id[i].title: move_up(by_id[i], plan) for i in plan.promoted}
    table = {old: (new.title, new.grade, new.letter, new.academic_year, new.id) for old, new in moved.items() if new}
    assert table == {f"{g}А": (f"{g + 1}А", g + 1, "А", Y2, f"c{g}") for g in range(0, 11)}
    assert plan.graduated == ("c11",)  # the top grade leaves; the archived 5Б is not touched
    assert "old" not in plan.promoted
    gone = graduate(by_id["c11"], plan)
    assert gone is not None and gone.archived and gone.title == "11А" and gone.academic_year == Y1


def test_the_staff_room_and_classes_of_other_years_stay():
    staff = SchoolClass("staff", "s", 0, "", "Учительская", Y1, is_staff_room=True, version=1)
    early = _class("new1", 1, "А", Y2)  # first-graders created early for the new year: no conflict
    plan = plan_rollover(_school(), [staff, early, _class("c5", 5, "А")], Y2)
    assert plan.promoted == ("c5",) and plan.graduated == ()


def test_a_name_taken_in_the_new_year_refuses_everything_naming_both_classes():
    early = _class("early6", 6, "А", Y2)
    with pytest.raises(FailedPrecondition) as info:
        plan_rollover(_school(), [_class("c5", 5, "А"), _class("c7", 7, "Б"), early], Y2)
    assert info.value.reason == "CLASS_NAME_TAKEN"
    assert "5А → 6А" in str(info.value) and "early6" in str(info.value)
    assert info.value.metadata["conflicting_class_ids"] == "early6"


def test_only_the_next_year_may_start_and_a_started_one_is_a_retry():
    assert already_started(_school(), Y2) is False
    assert _reason(lambda: already_started(_school(), Y3)) == "ACADEMIC_YEAR_NOT_NEXT"
    assert _reason(lambda: already_started(_school(), "2025/2026")) == "ACADEMIC_YEAR_NOT_NEXT"
    # Registered (or set by UpdateSchool) in that year: nothing was rolled over, so nothing to return.
    assert _reason(lambda: already_started(_school(Y2), Y2)) == "ACADEMIC_YEAR_ALREADY_SET"
    started = start_rollover(_school(), plan_rollover(_school(), [_class("c5", 5, "А")], Y2))
    assert started.academic_year == Y2 and started.rollover_pending
    assert already_started(started, Y2) is True  # resume
    assert _reason(lambda: already_started(started, Y3)) == "ROLLOVER_IN_PROGRESS"


def test_a_class_moves_once_however_often_the_step_repeats():
    plan = plan_rollover(_school(), [_class("c5", 5, "А"), _class("c11", 11, "А")], Y2)
    moved = move_up(_class("c5", 5, "А"), plan)
    assert moved is not None and moved.title == "6А"
    assert move_up(moved, plan) is None  # already in the new year: no 7А
    gone = graduate(_class("c11", 11, "А"), plan)
    assert gone is not None and graduate(gone, plan) is None
    assert plan_of(start_rollover(_school(), plan)) == plan


# --- use case on fakes ---------------------------------------------------------------------------


def _ids(w: World) -> set[int]:
    return {id(e) for e in w.events()}


def _new(w: World, before: set[int]) -> list[DomainEvent]:
    return [e for e in w.events() if id(e) not in before]


async def _school_with_classes(w: World) -> tuple[School, dict[str, SchoolClass]]:
    school = await w.schools.register_school(
        OPERATOR, RegisterSchool("r1", "Школа № 17", "", "", "", "", Y1, ADMIN.phone)
    )
    await w.admins.claim_pending_roles(ADMIN)
    out = {}
    for n, (grade, letter) in enumerate([(5, "А"), (5, "Б"), (10, "А"), (11, "А")]):
        c = await w.classes.create_class(ADMIN, f"c{n}", school.id, grade, letter, "")
        out[c.title] = c
    return school, out


async def test_admin_starts_the_year_retries_return_the_same_result_with_no_new_events():
    w = World()
    school, classes = await _school_with_classes(w)
    student = Caller("petya")
    await w.deps.join(
        _seat(school.id, student.user_id, classes["11А"].id),
    )
    before = _ids(w)
    first = await w.years.start_academic_year(ADMIN, "y1", school.id, Y2)
    assert first.school.academic_year == Y2 and not first.school.rollover_pending
    assert first.previous_academic_year == Y1
    assert sorted(c.title for c in first.promoted) == ["11А", "6А", "6Б"]
    assert [(c.title, c.archived) for c in first.graduated] == [("11А", True)]
    events = _new(w, before)
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("ClassUpdated") == 3 and kinds.count("ClassArchived") == 1
    assert [type(e).__name__ for e in w.schools_repo.events[-2:]] == ["SchoolUpdated", "AcademicYearStarted"]
    archived = next(e for e in events if isinstance(e, de.ClassArchived))
    assert archived.reason == "graduated"
    left = [e for e in events if isinstance(e, de.MemberLeft)]
    assert [(e.membership.user_id, e.reason) for e in left] == [("petya", "class_archived")]
    # The same year again (another request id too): the same answer, nothing written.
    again = await w.years.start_academic_year(ADMIN, "y2", school.id, Y2)
    assert again == first and len(_new(w, before)) == len(events)
    # Skipping a year is refused.
    with pytest.raises(FailedPrecondition) as info:
        await w.years.start_academic_year(ADMIN, "y3", school.id, "2029/2030")
    assert info.value.reason == "ACADEMIC_YEAR_NOT_NEXT"


def _seat(school_id: str, user_id: str, class_id: str):  # type: ignore[no-untyped-def]
    from school.domain.memberships import Membership

    return Membership.new(school_id, user_id, SchoolRole.STUDENT, class_id, ClassRole.STUDENT)


async def test_only_admins_start_a_year_and_conflicts_change_nothing():
    w = World()
    school, classes = await _school_with_classes(w)
    student = Caller("petya")
    await w.deps.join(_seat(school.id, student.user_id, classes["5А"].id))
    with pytest.raises(PermissionDenied):
        await w.years.start_academic_year(student, "y", school.id, Y2)
    early = await w.classes.create_class(ADMIN, "early", school.id, 6, "Б", Y2)
    before = _ids(w)
    with pytest.raises(FailedPrecondition) as info:
        await w.years.start_academic_year(ADMIN, "y", school.id, Y2)
    assert info.value.reason == "CLASS_NAME_TAKEN" and early.id in str(info.value)
    assert _new(w, before) == []
    stored = await w.schools_repo.get(school.id)
    assert stored is not None and stored.academic_year == Y1 and not stored.rollover_pending


class Crash(Exception):
    pass


class CrashingClasses(FakeClasses):
    """Saves `allowed` class writes, then fails like a process dying mid-rollover."""

    def __init__(self, inner: FakeClasses, allowed: int):
        super().__init__()
        self.items, self.events, self.allowed = inner.items, inner.events, allowed

    async def save(self, entity: SchoolClass, expected_version: int, events: Sequence[DomainEvent]) -> bool:
        if self.allowed <= 0:
            raise Crash()
        self.allowed -= 1
        return await super().save(entity, expected_version, events)


async def test_a_crash_after_two_classes_resumes_and_every_class_moves_exactly_once():
    w = World()
    school, classes = await _school_with_classes(w)
    before = _ids(w)
    real = w.deps.classes
    w.deps.classes = CrashingClasses(w.classes_repo, allowed=2)
    with pytest.raises(Crash):
        await w.years.start_academic_year(ADMIN, "y1", school.id, Y2)
    stored = await w.schools_repo.get(school.id)
    assert stored is not None and stored.rollover_pending and stored.academic_year == Y2
    # Meanwhile the year cannot be changed under the unfinished plan.
    with pytest.raises(FailedPrecondition) as info:
        await w.schools.update_school(ADMIN, school.id, {"academic_year": Y1})
    assert info.value.reason == "ROLLOVER_IN_PROGRESS"
    w.deps.classes = real
    done = await w.years.start_academic_year(ADMIN, "y1", school.id, Y2)
    assert sorted(c.title for c in done.promoted) == ["11А", "6А", "6Б"]
    assert [c.title for c in done.graduated] == ["11А"]
    per_class: dict[str, int] = {}
    for e in _new(w, before):
        if isinstance(e, de.ClassUpdated | de.ClassArchived):
            per_class[e.school_class.id] = per_class.get(e.school_class.id, 0) + 1
    assert per_class == dict.fromkeys((c.id for c in classes.values()), 1)
    started = [e for e in w.events() if isinstance(e, de.AcademicYearStarted)]
    assert len(started) == 1 and started[0].previous_academic_year == Y1
