"""The school's retention of ended academic years: how long chats and files of a year that ended are
kept before chat archives and then purges them (docs/school.md "Retention"). Admins only; carried to
chat in SchoolUpdated's snapshot, like the communication policy."""

from __future__ import annotations

from dataclasses import replace

from parta_common.errors import PermissionDenied, Violations
from parta_common.retention import RetentionRule, check_retention

from school.app.common import Caller, Deps
from school.domain.events import SchoolUpdated
from school.domain.schools import School
from school.domain.validation import check_id


class Retention:
    def __init__(self, deps: Deps):
        self.d = deps

    async def _as_admin(self, caller: Caller, school_id: str) -> School:
        school, roles = await self.d.school_for(caller, school_id)
        if not roles.is_admin:
            raise PermissionDenied("only admins see and set the school's retention", reason="NOT_AN_ADMIN")
        return school

    async def get_retention(self, caller: Caller, school_id: str) -> RetentionRule:
        v = Violations()
        check_id(v, "school_id", school_id)
        v.raise_if_any()
        return (await self._as_admin(caller, school_id)).retention

    async def set_retention(
        self, caller: Caller, school_id: str, keep_days: int, archive_grace_days: int
    ) -> RetentionRule:
        """Both values at once (0 = the default). A repeat changes nothing: nothing written or published."""
        v = Violations()
        check_id(v, "school_id", school_id)
        rule = check_retention(v, "retention.", keep_days, archive_grace_days)
        v.raise_if_any()
        await self._as_admin(caller, school_id)
        updated = await self.d.change_school(
            school_id,
            lambda fresh: replace(
                fresh, retention_keep_days=rule.keep_days, retention_grace_days=rule.archive_grace_days
            ),
            lambda changed: [SchoolUpdated(changed)],
        )
        return updated.retention
