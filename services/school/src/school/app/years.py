"""Academic years: the rollover an admin starts on 1 September (classes move up, graduates leave).

The store has no multi-document transactions, so the rollover is a resumable sequence of single-document
writes: (1) the school document records the new year and the plan (SchoolUpdated); (2) each class moves
by a version-checked write conditional on it still being in the year left (ClassUpdated / ClassArchived,
then the graduates' seats end); (3) the school document clears the pending mark (AcademicYearStarted).
A crash anywhere leaves the plan recorded; repeating the call skips what is done and finishes the rest,
so every class changes — and every event goes out — exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from parta_common.errors import Violations
from parta_common.retries import saved, with_retries

from school.app.common import Caller, Deps
from school.domain.classes import SchoolClass
from school.domain.events import AcademicYearStarted, ClassArchived, ClassUpdated, DomainEvent, SchoolUpdated
from school.domain.permissions import Action
from school.domain.schools import School, check_academic_year
from school.domain.validation import check_id, check_request_id
from school.domain.years import (
    GRADUATED,
    YearPlan,
    already_started,
    graduate,
    move_up,
    plan_of,
    plan_rollover,
    start_rollover,
)

PAGE = 200


@dataclass(frozen=True)
class YearStarted:
    school: School
    previous_academic_year: str
    promoted: list[SchoolClass]
    graduated: list[SchoolClass]


class AcademicYears:
    def __init__(self, deps: Deps):
        self.d = deps

    async def start_academic_year(
        self, caller: Caller, request_id: str, school_id: str, academic_year: str
    ) -> YearStarted:
        v = Violations()
        check_request_id(v, request_id)
        check_id(v, "school_id", school_id)
        check_academic_year(v, "academic_year", academic_year, required=True)
        v.raise_if_any()
        _school, roles = await self.d.school_for(caller, school_id)
        self.d.require(roles, Action.MANAGE_SCHOOL)

        async def record() -> School:
            fresh = await self.d.schools.get(school_id)
            assert fresh is not None
            if already_started(fresh, academic_year):
                return fresh  # a retry: resume or return the result
            plan = plan_rollover(fresh, await self._classes(school_id), academic_year)
            started = replace(start_rollover(fresh, plan), version=fresh.version + 1)
            return saved(
                started, await self.d.schools.save(started, fresh.version, [SchoolUpdated(started, caller.user_id)])
            )

        school = await with_retries(record)
        plan = plan_of(school)
        if school.rollover_pending:
            await self._apply(plan)
            school = await self._finish(school_id, plan)
        return YearStarted(
            school,
            plan.from_year,
            [c for c in [await self.d.classes.get(i) for i in plan.promoted] if c is not None],
            [c for c in [await self.d.classes.get(i) for i in plan.graduated] if c is not None],
        )

    async def _classes(self, school_id: str) -> list[SchoolClass]:
        out: list[SchoolClass] = []
        while True:
            page = await self.d.classes.list(
                school_id, include_archived=False, after=out[-1].id if out else "", limit=PAGE
            )
            out.extend(page)
            if len(page) < PAGE:
                return out

    async def _apply(self, plan: YearPlan) -> None:
        for class_id in plan.promoted:
            await self._move(class_id, lambda c: move_up(c, plan), ClassUpdated)
        for class_id in plan.graduated:
            await self._move(class_id, lambda c: graduate(c, plan), lambda c: ClassArchived(c, GRADUATED))
            # As ArchiveClass: every seat ends; chat keeps the graduates reading (reason class_archived).
            # Repeated on a retry, so seats a crash left active end too (ended seats stay ended).
            await self.d.leave(await self.d.memberships.of_class(class_id), "class_archived")

    async def _move(
        self,
        class_id: str,
        change: Callable[[SchoolClass], SchoolClass | None],
        event: Callable[[SchoolClass], DomainEvent],
    ) -> None:
        async def attempt() -> bool:
            fresh = await self.d.classes.get(class_id)
            changed = change(fresh) if fresh is not None else None
            if fresh is None or changed is None:
                return True  # done already (or gone): nothing to repeat
            return saved(True, await self.d.classes.save(changed, fresh.version, [event(changed)]))

        await with_retries(attempt)

    async def _finish(self, school_id: str, plan: YearPlan) -> School:
        async def attempt() -> School:
            fresh = await self.d.schools.get(school_id)
            assert fresh is not None
            if not fresh.rollover_pending:
                return fresh
            done = replace(fresh, rollover_pending=False, version=fresh.version + 1)
            started = AcademicYearStarted(done, plan.from_year, plan.promoted, plan.graduated)
            return saved(done, await self.d.schools.save(done, fresh.version, [started]))

        return await with_retries(attempt)
