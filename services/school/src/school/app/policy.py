"""The school's communication policy: tighten-only switches only admins see and set (docs/safety.md)."""

from __future__ import annotations

from dataclasses import replace

from parta_common.errors import PermissionDenied, Violations
from parta_common.safety import SchoolPolicy

from school.app.common import Caller, Deps
from school.domain.events import SchoolUpdated
from school.domain.schools import School
from school.domain.validation import check_id


class Policies:
    def __init__(self, deps: Deps):
        self.d = deps

    async def _as_admin(self, caller: Caller, school_id: str) -> School:
        v = Violations()
        check_id(v, "school_id", school_id)
        v.raise_if_any()
        school, roles = await self.d.school_for(caller, school_id)
        if not roles.is_admin:
            raise PermissionDenied("only admins see and set the school's policy", reason="NOT_AN_ADMIN")
        return school

    async def get_policy(self, caller: Caller, school_id: str) -> SchoolPolicy:
        return (await self._as_admin(caller, school_id)).policy

    async def set_policy(self, caller: Caller, school_id: str, switches: dict[str, bool]) -> SchoolPolicy:
        """Changes the named switches; SchoolUpdated carries the new policy to chat and media-signal.
        Every switch only takes rights away (SchoolPolicy), so no admin can open what the defaults close."""
        await self._as_admin(caller, school_id)

        # A repeat changes nothing, so nothing is written or published.
        updated = await self.d.change_school(
            school_id,
            lambda fresh: replace(fresh, policy=replace(fresh.policy, **switches)),
            lambda changed: [SchoolUpdated(changed, caller.user_id)],
        )
        return updated.policy
