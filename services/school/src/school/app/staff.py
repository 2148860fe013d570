"""Staff verification: an admin confirms that a teacher or admin is who they say; the verification ends
when the person leaves the school."""

from __future__ import annotations

from dataclasses import replace

from parta_common.errors import FailedPrecondition, Violations
from parta_common.retries import saved, with_retries

from school.app.common import Caller, Deps
from school.domain.events import StaffVerified
from school.domain.memberships import SchoolRole
from school.domain.permissions import Action
from school.domain.schools import School, add_once, forget_verification
from school.domain.validation import check_id


class StaffVerification:
    def __init__(self, deps: Deps):
        self.d = deps

    async def forget_verification(self, school_id: str, user_id: str) -> None:
        """The person leaves the school: their verification ends with it (domain/schools.forget_verification)."""

        async def attempt() -> School | bool:
            fresh = await self.d.schools.get(school_id)
            if fresh is None:
                return False
            updated = forget_verification(fresh, user_id)
            if updated == fresh:
                return fresh
            updated = replace(updated, version=fresh.version + 1)
            return saved(updated, await self.d.schools.save(updated, fresh.version, []))

        await with_retries(attempt)

    async def verify_staff(self, caller: Caller, school_id: str, user_id: str) -> None:
        v = Violations()
        check_id(v, "school_id", school_id)
        check_id(v, "user_id", user_id)
        v.raise_if_any()
        school, roles = await self.d.school_for(caller, school_id)
        self.d.require(roles, Action.VERIFY_STAFF)
        target = await self.d.roles(school, user_id)
        if not target.is_staff:
            raise FailedPrecondition("only staff members are verified", reason="NOT_STAFF")

        await self.d.change_school(
            school_id,
            lambda fresh: replace(fresh, verified_ids=add_once(fresh.verified_ids, user_id)),
            lambda _verified: [StaffVerified(school_id, user_id, caller.user_id)],
        )
        # Snapshots carry `verified`, so every staff seat of the person is re-published with it.
        for m in await self.d.memberships.of_user(user_id, school_id):
            if m.school_role in (SchoolRole.ADMIN, SchoolRole.TEACHER) and not m.verified:
                await self.d.change(m.id, lambda x: replace(x, verified=True), caller.user_id)
