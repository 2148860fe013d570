"""What every school use case shares: dependencies, the caller, access checks, membership writes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from parta_common.clock import Clock
from parta_common.errors import (
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    Violations,
)
from parta_common.retries import saved, with_retries

from school.app.access import AccessView
from school.app.ports import (
    ClassRepository,
    GuardianDirectory,
    InviteRepository,
    JoinRequestRepository,
    MembershipRepository,
    ProfileDirectory,
    ProfileLookup,
    QrRenderer,
    SchoolRepository,
)
from school.domain.classes import SchoolClass
from school.domain.events import DomainEvent, MemberJoined, MemberLeft, MemberRoleChanged
from school.domain.memberships import Membership, Roles, SchoolRole
from school.domain.permissions import Action, allowed
from school.domain.profiles import ProfileState
from school.domain.schools import School
from school.domain.secrets import Secrets
from school.domain.validation import check_id

T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """The authenticated person behind a call, as the api layer read it from the access token."""

    user_id: str
    phone: str = ""  # E.164 from the token's `phone_number` claim; never logged
    # The caller's access token, only to ask identity about the caller themself (profile fallback).
    bearer: str = field(default="", repr=False)


@dataclass(frozen=True)
class Policy:
    operator_phones: frozenset[str]
    internal_clients: frozenset[str]
    invite_base_url: str
    default_timezone: str = "Europe/Moscow"
    default_invite_ttl_seconds: int = 7 * 86400


@dataclass
class Deps:
    schools: SchoolRepository
    classes: ClassRepository
    memberships: MembershipRepository
    invites: InviteRepository
    join_requests: JoinRequestRepository
    guardians: GuardianDirectory
    qr: QrRenderer
    secrets: Secrets
    clock: Clock
    policy: Policy
    profiles: ProfileDirectory
    profile_lookup: ProfileLookup
    view: AccessView

    def now(self) -> datetime:
        """Stored times have millisecond precision (BSON dates): truncate, so a retry returns exactly
        what the first call returned."""
        now = self.clock.now()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    # --- access ----------------------------------------------------------------------------

    async def roles(self, school: School, user_id: str) -> Roles:
        return Roles.of(user_id, school.id, await self.memberships.of_user(user_id, school.id), school.verified_ids)

    async def school_for(self, caller: Caller, school_id: str) -> tuple[School, Roles]:
        """The school and the caller's roles in it. Non-members get NOT_FOUND, exactly as if the school
        did not exist: the closed contour does not even confirm that a school id is real."""
        school = await self.schools.get(school_id) if school_id else None
        if school is None:
            raise NotFound("school not found", reason="SCHOOL_NOT_FOUND")
        roles = await self.roles(school, caller.user_id)
        if not roles.is_member:
            raise NotFound("school not found", reason="SCHOOL_NOT_FOUND")
        return school, roles

    async def school_listing(self, caller: Caller, school_id: str, class_id: str) -> Roles:
        """For a list of a school, or of one of its classes: both ids checked, the caller's roles in the
        school (NOT_FOUND for non-members), and the class, when named, one of this school's."""
        v = Violations()
        check_id(v, "school_id", school_id)
        check_id(v, "class_id", class_id, required=False)
        v.raise_if_any()
        school, roles = await self.school_for(caller, school_id)
        if class_id:
            await self.class_of_school(school, class_id)
        return roles

    async def class_for(self, caller: Caller, class_id: str) -> tuple[SchoolClass, School, Roles]:
        school_class = await self.classes.get(class_id) if class_id else None
        if school_class is None:
            raise NotFound("class not found", reason="CLASS_NOT_FOUND")
        school = await self.schools.get(school_class.school_id)
        roles = await self.roles(school, caller.user_id) if school else None
        if school is None or roles is None or not roles.is_member:
            raise NotFound("class not found", reason="CLASS_NOT_FOUND")
        return school_class, school, roles

    async def class_of_school(self, school: School, class_id: str, field: str = "class_id") -> SchoolClass:
        school_class = await self.classes.get(class_id)
        if school_class is None or school_class.school_id != school.id:
            raise NotFound("class not found", reason="CLASS_NOT_FOUND", metadata={"field": field})
        return school_class

    @staticmethod
    def require(roles: Roles, action: Action, class_id: str = "") -> None:
        if not allowed(roles, action, class_id):
            raise PermissionDenied(
                f"not allowed to {action.name.lower()}", reason="PERMISSION_DENIED", metadata={"action": action.name}
            )

    async def require_profile(self, caller: Caller) -> None:
        """No school participation without an educational profile (PROFILE_MISSING), none at all for a
        deleted account. The projection usually knows; right after CreateProfile its ProfileCreated may
        still be on the way, so "unknown" asks identity itself (with the caller's token) before refusing:
        a person who just made a profile is never turned away by a lagging projection."""
        if self.view.known_deleted(caller.user_id):
            raise Unauthenticated("this account was deleted", reason="ACCOUNT_DELETED")
        if self.view.has_profile(caller.user_id):
            return
        state = await self.profiles.state(caller.user_id)
        if state == ProfileState.DELETED:
            raise Unauthenticated("this account was deleted", reason="ACCOUNT_DELETED")
        if state == ProfileState.UNKNOWN:
            answer = await self.profile_lookup.has_profile(caller.user_id, caller.bearer)
            if answer is None:
                raise Unavailable("cannot confirm the profile right now, retry", reason="IDENTITY_UNAVAILABLE")
            if not answer:
                raise FailedPrecondition(
                    "create your educational profile before joining a school", reason="PROFILE_MISSING"
                )
        self.view.remember_profile(caller.user_id)

    def is_operator(self, caller: Caller) -> bool:
        return bool(caller.phone) and caller.phone in self.policy.operator_phones

    # --- the school aggregate ----------------------------------------------------------------

    async def change_school(
        self,
        school_id: str,
        change: Callable[[School], School],
        events: Callable[[School], list[DomainEvent]] = lambda _school: [],
    ) -> School:
        """The school's one read-change-write: `change` the stored school (raise to refuse; return it as
        it was and nothing is written, so a retry is a no-op), then save it with the next version and
        `events(saved school)` in the same write; a lost concurrent write is tried again (with_retries)."""

        async def attempt() -> School:
            fresh = await self.schools.get(school_id)
            if fresh is None:
                raise NotFound("school not found", reason="SCHOOL_NOT_FOUND")
            updated = change(fresh)
            if updated == fresh:
                return fresh
            updated = replace(updated, version=fresh.version + 1)
            return saved(updated, await self.schools.save(updated, fresh.version, events(updated)))

        return await with_retries(attempt)

    # --- memberships -----------------------------------------------------------------------

    async def join(self, membership: Membership) -> Membership:
        """Make the membership active; no-op when it is. Emits MemberJoined only for a real change."""

        # Most joins are new: try the insert first and read only when the seat exists already.
        fresh = replace(membership, active=True, version=1)
        if await self.memberships.insert(fresh, [MemberJoined(fresh)]):
            return fresh

        async def attempt() -> Membership:
            stored = await self.memberships.get(membership.id)
            if stored is None:
                return saved(fresh, await self.memberships.insert(fresh, [MemberJoined(fresh)]))
            if stored.active:
                return stored
            again = replace(membership, active=True, version=stored.version + 1)
            return saved(again, await self.memberships.save(again, stored.version, [MemberJoined(again)]))

        return await with_retries(attempt)

    async def join_all(self, memberships: list[Membership]) -> list[Membership]:
        """`join` for several seats of one person, in order. New seats (the common case) go to the store
        in one batched insert; a seat that exists already, and every seat after it, takes `join`'s path."""
        fresh = [replace(m, active=True, version=1) for m in memberships]
        inserted = await self.memberships.insert_all([(m, [MemberJoined(m)]) for m in fresh])
        return fresh[:inserted] + [await self.join(m) for m in memberships[inserted:]]

    async def change(
        self, membership_id: str, change: Callable[[Membership], Membership], actor: str = ""
    ) -> Membership | None:
        """Apply `change` to an active membership and emit MemberRoleChanged (by `actor`: who changed it,
        empty when no person did directly) when it changed anything."""

        async def attempt() -> Membership:
            stored = await self.memberships.get(membership_id)
            if stored is None or not stored.active:
                return replace(stored, active=False) if stored else _MISSING
            changed = change(stored)
            if changed == stored:
                return stored
            changed = replace(changed, version=stored.version + 1)
            ok = await self.memberships.save(changed, stored.version, [MemberRoleChanged(changed, actor)])
            return saved(changed, ok)

        result = await with_retries(attempt)
        return None if result is _MISSING else result

    async def leave(self, memberships: Iterable[Membership], reason: str, actor: str = "") -> int:
        """End memberships (MemberLeft with `reason`, by `actor`); returns how many were active."""
        ended = 0
        for membership in memberships:

            async def attempt(m: Membership = membership) -> bool:
                stored = await self.memberships.get(m.id)
                if stored is None or not stored.active:
                    return False
                gone = replace(stored, active=False, version=stored.version + 1)
                return saved(True, await self.memberships.save(gone, stored.version, [MemberLeft(gone, reason, actor)]))

            if await with_retries(attempt):
                ended += 1
        return ended


_MISSING = Membership(id="", school_id="", user_id="", school_role=SchoolRole.UNSPECIFIED)
