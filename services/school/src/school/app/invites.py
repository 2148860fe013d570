"""Invites: links (and QR codes) that carry school, class, role, expiry and a use limit; accepting one
makes memberships, or a join request when the invite needs approval."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from parta_common.errors import FailedPrecondition, NotFound, PermissionDenied, Violations
from parta_common.retries import saved, with_retries

from school.app.common import Caller, Deps
from school.domain.classes import SchoolClass
from school.domain.events import InviteAccepted, InviteCreated, InviteRevoked, JoinRequested
from school.domain.invites import Invite, check_invite_shape
from school.domain.join_requests import JoinRequest, JoinState
from school.domain.memberships import (
    STAFF_ROLES,
    ClassRole,
    Membership,
    Roles,
    SchoolRole,
    check_role_conflict,
    memberships_for_joining,
)
from school.domain.permissions import role_for_invite
from school.domain.schools import School
from school.domain.secrets import looks_like_token, token_hash
from school.domain.validation import check_id, check_request_id, derived_id

MAX_QR_SCALE = 40


@dataclass(frozen=True)
class CreateInvite:
    request_id: str
    school_id: str
    class_id: str
    role: SchoolRole
    child_user_id: str
    ttl_seconds: int
    max_uses: int
    requires_approval: bool


@dataclass(frozen=True)
class CreatedInvite:
    invite: Invite
    token: str
    link: str


@dataclass(frozen=True)
class Preview:
    invite: Invite
    school: School
    school_class: SchoolClass | None


@dataclass(frozen=True)
class Accepted:
    invite: Invite
    join_request: JoinRequest | None
    memberships: list[Membership]


class Invites:
    def __init__(self, deps: Deps):
        self.d = deps

    def link(self, token: str) -> str:
        return f"{self.d.policy.invite_base_url}{token}"

    async def create_invite(self, caller: Caller, cmd: CreateInvite) -> CreatedInvite:
        v = Violations()
        check_request_id(v, cmd.request_id)
        check_id(v, "school_id", cmd.school_id)
        check_id(v, "class_id", cmd.class_id, required=False)
        check_id(v, "child_user_id", cmd.child_user_id, required=False)
        ttl = cmd.ttl_seconds or self.d.policy.default_invite_ttl_seconds
        check_invite_shape(v, cmd.role, cmd.class_id, cmd.child_user_id, cmd.max_uses, ttl)
        v.raise_if_any()
        school, roles = await self.d.school_for(caller, cmd.school_id)
        if cmd.class_id:
            school_class = await self.d.class_of_school(school, cmd.class_id)
            if school_class.archived:
                raise FailedPrecondition("the class is archived", reason="CLASS_ARCHIVED")
        self.d.require(roles, role_for_invite(cmd.role), cmd.class_id)
        if cmd.role == SchoolRole.PARENT:
            # The child must be a student of this class: a parent joins through their child.
            child = await self.d.roles(school, cmd.child_user_id)
            if ClassRole.STUDENT not in child.in_class(cmd.class_id):
                raise FailedPrecondition("the child is not a student of this class", reason="CHILD_NOT_IN_CLASS")
        now = self.d.now()
        invite = Invite(
            id=derived_id("invite", school.id, caller.user_id, cmd.request_id),
            school_id=school.id,
            class_id=cmd.class_id,
            role=cmd.role,
            child_user_id=cmd.child_user_id,
            expires_at=now + timedelta(seconds=ttl),
            max_uses=cmd.max_uses,
            uses=0,
            requires_approval=cmd.requires_approval,
            revoked=False,
            created_by=caller.user_id,
            created_at=now,
            version=1,
        )
        token = self.d.secrets.invite_token(invite.id)
        if not await self.d.invites.insert(invite, token_hash(token), [InviteCreated(invite)]):
            stored = await self.d.invites.get(invite.id)
            assert stored is not None
            invite = stored
        return CreatedInvite(invite, token, self.link(token))

    async def _by_token(self, token: str) -> Invite:
        if not looks_like_token(token):
            raise NotFound("invite not found", reason="INVITE_NOT_FOUND")
        invite = await self.d.invites.by_token_hash(token_hash(token))
        if invite is None:
            raise NotFound("invite not found", reason="INVITE_NOT_FOUND")
        return invite

    @staticmethod
    def _check_token_shape(token: str) -> None:
        v = Violations()
        if not token:
            v.add("token", "must not be empty")
        elif not looks_like_token(token):
            v.add("token", "is not an invite token")
        v.raise_if_any()

    async def preview_invite(self, token: str) -> Preview:
        self._check_token_shape(token)
        invite = await self._by_token(token)
        invite.check_usable(self.d.now(), user_id="")
        school = await self.d.schools.get(invite.school_id)
        if school is None:
            raise NotFound("invite not found", reason="INVITE_NOT_FOUND")
        school_class = await self.d.classes.get(invite.class_id) if invite.class_id else None
        return Preview(invite, school, school_class)

    async def accept_invite(self, caller: Caller, token: str) -> Accepted:
        """The burst path (a whole class scanning one QR code): reads come from the access view, the use
        is one conditional update and the seats one batched insert, so a warm acceptance costs the store
        two writes plus the profile lookup."""
        self._check_token_shape(token)
        if not looks_like_token(token):
            raise NotFound("invite not found", reason="INVITE_NOT_FOUND")
        invite = await self.d.view.invite_by_token_hash(token_hash(token))
        if invite is None:
            raise NotFound("invite not found", reason="INVITE_NOT_FOUND")
        now = self.d.now()
        invite.check_usable(now, caller.user_id)
        # The profile check and the reads go out together: one round trip of latency, not two.
        _, school, school_class, mine = await asyncio.gather(
            self.d.require_profile(caller),
            self.d.view.school(invite.school_id),
            self.d.view.school_class(invite.class_id) if invite.class_id else _none(),
            self.d.view.seats(caller.user_id, invite.school_id),
        )
        if school is None:
            raise NotFound("invite not found", reason="INVITE_NOT_FOUND")
        if invite.class_id and (school_class is None or school_class.archived):
            raise FailedPrecondition("the class of this invite is archived", reason="CLASS_ARCHIVED")
        if invite.role == SchoolRole.PARENT and invite.child_user_id == caller.user_id:
            raise FailedPrecondition("a child cannot become their own parent", reason="PARENT_IS_CHILD")
        check_role_conflict(Roles.of(caller.user_id, school.id, mine).school_roles, invite.role)

        # Count the use first (atomically, on the invite document: the filter re-checks revoked, expiry
        # and uses left, so the view's copy never grants a use); a retry by the same person is not
        # counted twice, and everything after it is an idempotent upsert.
        accepted = [InviteAccepted(invite, caller.user_id, now)]
        if not await self.d.invites.count_use(invite.id, caller.user_id, now, accepted):
            fresh = await self.d.invites.get(invite.id)
            assert fresh is not None
            fresh.check_usable(self.d.now(), caller.user_id)  # raises the precise reason
            if caller.user_id not in fresh.accepted_by:
                raise FailedPrecondition("this invite has been used up", reason="INVITE_EXHAUSTED")
        used = invite
        if used.requires_approval:
            request = await self._request(used, caller.user_id)
            return Accepted(used, request, [])
        # Staff seats carry `verified`: read the school itself for them (teacher invites are rare);
        # student and parent seats do not depend on it.
        staff = used.role in STAFF_ROLES
        joined = await self.join_by(
            school, caller.user_id, used.role, used.class_id, used.child_user_id, fresh=not staff
        )
        return Accepted(used, None, joined)

    async def join_by(
        self, school: School, user_id: str, role: SchoolRole, class_id: str, child_user_id: str, *, fresh: bool = False
    ) -> list[Membership]:
        """`fresh`: `school` was read during this call already (its verified list is current enough)."""
        current = school if fresh else (await self.d.schools.get(school.id) or school)
        verified = user_id in current.verified_ids
        # School-level seat first, then class seats, so consumers rarely see a class member outside the school.
        return await self.d.join_all(memberships_for_joining(current, user_id, role, class_id, child_user_id, verified))

    async def _request(self, invite: Invite, user_id: str) -> JoinRequest:
        request = JoinRequest(
            id=derived_id("join-request", invite.id, user_id),
            school_id=invite.school_id,
            class_id=invite.class_id,
            user_id=user_id,
            role=invite.role,
            child_user_id=invite.child_user_id,
            invite_id=invite.id,
            state=JoinState.PENDING,
            created_at=self.d.now(),
            version=1,
        )
        if await self.d.join_requests.insert(request, [JoinRequested(request)]):
            return request
        stored = await self.d.join_requests.get(request.id)
        assert stored is not None
        return stored

    async def revoke_invite(self, caller: Caller, invite_id: str) -> Invite:
        v = Violations()
        check_id(v, "invite_id", invite_id)
        v.raise_if_any()
        invite = await self._managed(caller, invite_id)

        async def attempt() -> Invite:
            fresh = await self.d.invites.get(invite.id)
            assert fresh is not None
            if fresh.revoked:
                return fresh
            revoked = replace(fresh, revoked=True, version=fresh.version + 1)
            return saved(
                revoked, await self.d.invites.save(revoked, fresh.version, [InviteRevoked(revoked, caller.user_id)])
            )

        return await with_retries(attempt)

    async def _managed(self, caller: Caller, invite_id: str) -> Invite:
        """Invites are managed by their creator and by admins; others in the school get PERMISSION_DENIED,
        outsiders NOT_FOUND."""
        invite = await self.d.invites.get(invite_id)
        if invite is None:
            raise NotFound("invite not found", reason="INVITE_NOT_FOUND")
        school = await self.d.schools.get(invite.school_id)
        roles = await self.d.roles(school, caller.user_id) if school else None
        if roles is None or not roles.is_member:
            raise NotFound("invite not found", reason="INVITE_NOT_FOUND")
        if invite.created_by != caller.user_id and not roles.is_admin:
            raise PermissionDenied("only the invite's creator or an admin manages it", reason="PERMISSION_DENIED")
        return invite

    async def list_invites(self, caller: Caller, school_id: str, class_id: str, after: str, limit: int) -> list[Invite]:
        roles = await self.d.school_listing(caller, school_id, class_id)
        if not roles.is_staff:
            raise PermissionDenied("only staff see invites", reason="PERMISSION_DENIED")
        invites = await self.d.invites.list(school_id, class_id, after=after, limit=limit)
        if roles.is_admin:
            return invites
        return [i for i in invites if i.created_by == caller.user_id]

    async def render_invite_qr(self, caller: Caller, token: str, fmt: str, scale: int) -> tuple[bytes, str, str]:
        self._check_token_shape(token)
        v = Violations()
        if fmt not in ("png", "svg"):
            v.add("format", "must be QR_FORMAT_PNG or QR_FORMAT_SVG")
        if not 0 <= scale <= MAX_QR_SCALE:
            v.add("scale", f"must be between 1 and {MAX_QR_SCALE}")
        v.raise_if_any()
        invite = await self._by_token(token)
        await self._managed(caller, invite.id)
        link = self.link(token)
        scale = scale or 8
        if fmt == "png":
            return self.d.qr.png(link, scale), "image/png", link
        return self.d.qr.svg(link, scale), "image/svg+xml", link

    def now(self) -> datetime:
        return self.d.now()


async def _none() -> None:
    return None
