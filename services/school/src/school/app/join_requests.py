"""Join requests: made by accepting an invite that needs approval; the class head (or an admin) decides,
the requester sees the state."""

from __future__ import annotations

from dataclasses import replace

from parta_common.errors import FailedPrecondition, NotFound, Violations
from parta_common.retries import saved, with_retries

from school.app.common import Caller, Deps
from school.app.invites import Invites
from school.domain.events import JoinRequestDecided
from school.domain.join_requests import JoinRequest, JoinState
from school.domain.memberships import check_role_conflict
from school.domain.permissions import Action
from school.domain.profiles import ProfileState
from school.domain.validation import check_id


class JoinRequests:
    def __init__(self, deps: Deps, invites: Invites):
        self.d = deps
        self.invites = invites

    async def list_join_requests(
        self, caller: Caller, school_id: str, class_id: str, state: JoinState, after: str, limit: int
    ) -> list[JoinRequest]:
        v = Violations()
        check_id(v, "school_id", school_id)
        check_id(v, "class_id", class_id, required=False)
        if state not in JoinState.__members__.values():
            v.add("state", "unknown state")
        v.raise_if_any()
        school, roles = await self.d.school_for(caller, school_id)
        if class_id:
            await self.d.class_of_school(school, class_id)
        self.d.require(roles, Action.DECIDE_JOIN_REQUESTS, class_id)
        return await self.d.join_requests.list(school_id, class_id, state, after=after, limit=limit)

    async def decide(self, caller: Caller, request_id: str, approve: bool) -> JoinRequest:
        v = Violations()
        check_id(v, "join_request_id", request_id)
        v.raise_if_any()
        request = await self.d.join_requests.get(request_id)
        school = await self.d.schools.get(request.school_id) if request else None
        roles = await self.d.roles(school, caller.user_id) if school else None
        if request is None or school is None or roles is None or not roles.is_member:
            raise NotFound("join request not found", reason="JOIN_REQUEST_NOT_FOUND")
        self.d.require(roles, Action.DECIDE_JOIN_REQUESTS, request.class_id)
        if approve and request.state == JoinState.PENDING:
            # The requester's situation may have changed while the request waited.
            if await self.d.profiles.state(request.user_id) == ProfileState.DELETED:
                raise FailedPrecondition("the requester's account was deleted", reason="ACCOUNT_DELETED")
            held = await self.d.roles(school, request.user_id)
            check_role_conflict(held.school_roles, request.role)

        async def attempt() -> JoinRequest:
            fresh = await self.d.join_requests.get(request_id)
            assert fresh is not None
            decided = fresh.decide(approve, caller.user_id, self.d.now())
            if decided is fresh:
                return fresh
            decided = replace(decided, version=fresh.version + 1)
            ok = await self.d.join_requests.save(decided, fresh.version, [JoinRequestDecided(decided)])
            return saved(decided, ok)

        decided = await with_retries(attempt)
        if decided.state == JoinState.APPROVED:
            # Idempotent: approving again (a retry after a crash) finishes the memberships.
            await self.invites.join_by(school, decided.user_id, decided.role, decided.class_id, decided.child_user_id)
        return decided

    async def list_my_join_requests(self, caller: Caller) -> list[JoinRequest]:
        return await self.d.join_requests.of_user(caller.user_id)
