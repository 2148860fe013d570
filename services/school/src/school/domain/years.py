"""The academic-year rollover (1 September): which classes move up, which graduate, and when it may start."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from parta_common.errors import FailedPrecondition

from school.domain.classes import MAX_GRADE, SchoolClass, class_title
from school.domain.schools import School

# The school model has no per-school setting for it: Russian schools end with the 11th grade.
TOP_GRADE = MAX_GRADE
GRADUATED = "graduated"


def next_academic_year(year: str) -> str:
    """ "2026/2027" → "2027/2028"; `year` passed check_academic_year."""
    first = int(year.split("/")[0])
    return f"{first + 1}/{first + 2}"


@dataclass(frozen=True)
class YearPlan:
    from_year: str
    to_year: str
    promoted: tuple[str, ...]  # class ids, by id
    graduated: tuple[str, ...]


def plan_of(school: School) -> YearPlan:
    """The plan the school document recorded when its rollover started."""
    return YearPlan(
        school.rollover_from_year, school.academic_year, school.rollover_promoted, school.rollover_graduated
    )


def already_started(school: School, to_year: str) -> bool:
    """True when the rollover to `to_year` was recorded already (a retry: resume or return the result);
    False when it may start now. Refuses every other year, and a second rollover before the first ended."""
    if school.academic_year == to_year:
        if school.rollover_from_year == _previous(to_year):
            return True
        raise FailedPrecondition(
            f"the school is in {to_year} already, set without a rollover: its classes stay as they are",
            reason="ACADEMIC_YEAR_ALREADY_SET",
        )
    if school.rollover_pending:
        raise FailedPrecondition(
            f"the rollover to {school.academic_year} is not finished: repeat it first", reason="ROLLOVER_IN_PROGRESS"
        )
    expected = next_academic_year(school.academic_year)
    if to_year != expected:
        raise FailedPrecondition(
            f"the school is in {school.academic_year}: the next academic year is {expected}",
            reason="ACADEMIC_YEAR_NOT_NEXT",
            metadata={"current": school.academic_year, "expected": expected},
        )
    return False


def plan_rollover(school: School, classes: Iterable[SchoolClass], to_year: str) -> YearPlan:
    """Every live class of the current year moves up one grade keeping its id and letter (its people stay
    with it); top-grade classes graduate. A class created early for the new year under the name a class
    moves into is a conflict: refused as a whole, before anything changes, naming both classes (the admin
    renames or archives one of them and repeats)."""
    live = [c for c in classes if not c.archived and not c.is_staff_room]
    current = sorted((c for c in live if c.academic_year == school.academic_year), key=lambda c: c.id)
    promoted = [c for c in current if c.grade < TOP_GRADE]
    graduated = [c for c in current if c.grade >= TOP_GRADE]
    taken = {(c.grade, c.letter): c for c in live if c.academic_year == to_year}
    conflicts = [(c, taken[(c.grade + 1, c.letter)]) for c in promoted if (c.grade + 1, c.letter) in taken]
    if conflicts:
        names = ", ".join(f"{c.title} → {other.title} (class {other.id})" for c, other in conflicts)
        raise FailedPrecondition(
            f"classes of {to_year} already hold the names these classes move into: {names}",
            reason="CLASS_NAME_TAKEN",
            metadata={"conflicting_class_ids": ",".join(other.id for _, other in conflicts)},
        )
    return YearPlan(school.academic_year, to_year, tuple(c.id for c in promoted), tuple(c.id for c in graduated))


def start_rollover(school: School, plan: YearPlan) -> School:
    """The first write: the new year and the plan, in the school document, before any class moves."""
    return replace(
        school,
        academic_year=plan.to_year,
        rollover_from_year=plan.from_year,
        rollover_promoted=plan.promoted,
        rollover_graduated=plan.graduated,
        rollover_pending=True,
    )


def move_up(school_class: SchoolClass, plan: YearPlan) -> SchoolClass | None:
    """The class in the new year; None when nothing is left to do. Conditional on the class still being
    in the year left, so a retry never moves a class twice (5А → 6А → 7А)."""
    if school_class.archived or school_class.academic_year != plan.from_year:
        return None
    grade = min(school_class.grade + 1, TOP_GRADE)
    return replace(
        school_class,
        grade=grade,
        title=class_title(grade, school_class.letter),
        academic_year=plan.to_year,
        version=school_class.version + 1,
    )


def graduate(school_class: SchoolClass, plan: YearPlan) -> SchoolClass | None:
    """The graduated class, archived under its last year's name; None when archived already."""
    if school_class.archived or school_class.academic_year != plan.from_year:
        return None
    return replace(school_class, archived=True, version=school_class.version + 1)


def _previous(year: str) -> str:
    first = int(year.split("/")[0])
    return f"{first - 1}/{first}"
