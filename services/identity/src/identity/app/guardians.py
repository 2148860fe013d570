"""Guardians: link (by the child's phone or a link code), confirm, consent, unlink, list."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from parta_common.clock import Clock
from parta_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, ResourceExhausted
from parta_common.retries import with_retries
from parta_common.validation import require_id

from identity.app.common import live_user
from identity.app.policy import IdentityPolicy
from identity.app.ports import MembershipDirectory, RateLimiter, UserRepository
from identity.domain.guardians import GuardianLink, LinkConfirmation, LinkState
from identity.domain.hashing import KeyedHasher
from identity.domain.phones import normalize_phone
from identity.domain.profiles import ADULT_AGE
from identity.domain.users import User

# No 0/O/1/I/L: read aloud from a child's screen without mistakes. 31^8 ≈ 8.5e11 combinations.
LINK_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LINK_CODE_LENGTH = 8


@dataclass(frozen=True)
class LinkView:
    child: User
    link: GuardianLink
    other: User | None  # the other side's user, for display names


class Guardians:
    def __init__(
        self,
        *,
        users: UserRepository,
        directory: MembershipDirectory,
        limiter: RateLimiter,
        hasher: KeyedHasher,
        clock: Clock,
        policy: IdentityPolicy,
    ):
        self.users = users
        self.directory = directory
        self.limiter = limiter
        self.hasher = hasher
        self.clock = clock
        self.policy = policy

    async def _load(self, user_id: str) -> User:
        return await live_user(self.users, user_id)

    async def _adult_guardian(self, guardian_id: str) -> User:
        guardian = await self._load(guardian_id)
        if guardian.profile is None:
            raise FailedPrecondition("create your profile first", reason="PROFILE_MISSING")
        if guardian.profile.age_on(self.clock.now().date()) < ADULT_AGE:
            raise FailedPrecondition("a guardian must be an adult", reason="GUARDIAN_NOT_ADULT")
        return guardian

    @property
    def _request_ttl(self) -> timedelta:
        return timedelta(seconds=self.policy.guardian_request_ttl_seconds)

    async def link(self, guardian_id: str, child_phone: str | None, link_code: str | None) -> LinkView | None:
        """A confirmed link (a link code, or the school binds this guardian to the child), or None:
        a request by phone was recorded — or there is nobody with that phone, which must look
        exactly the same to the caller (no name, id, consent state or existence oracle)."""
        if child_phone is None and link_code is None:
            raise InvalidArgument.field("child", "give child_phone or link_code")
        phone = normalize_phone(child_phone, "child_phone") if child_phone is not None else None
        code = _check_link_code(link_code) if link_code is not None else None
        guardian = await self._adult_guardian(guardian_id)
        now = self.clock.now()
        # Bounds phone lookups (who has an account) and link-code guessing per guardian.
        wait = await self.limiter.hit(f"link:{guardian_id}", self.policy.guardian_links_per_day, 86_400, now)
        if wait is None and phone is not None:
            # Per child, keyed by the phone's hash whether or not an account has it.
            wait = await self.limiter.hit(
                f"link-child:{self.hasher.hash('phone', phone)}", self.policy.child_link_requests_per_day, 86_400, now
            )
        if wait is not None:
            raise ResourceExhausted(
                "too many link attempts today", retry_after_seconds=wait, reason="LINK_RATE_LIMITED"
            )

        async def attempt() -> LinkView | None:
            today = self.clock.now().date()
            if phone is not None:
                child = await self.users.by_phone(phone)
                if child is None or child.deleted:
                    return None  # the same answer as a recorded request
                school = await self.directory.is_parent_of(guardian_id, child.id)
                how = LinkConfirmation.SCHOOL if school else LinkConfirmation.NONE
            else:
                assert code is not None
                found = await self.users.by_link_code(self.hasher.hash("link", code))
                if found is None or found.deleted:
                    raise NotFound("unknown or used link code", reason="LINK_CODE_INVALID")
                child = found
                child.consume_link_code(self.clock.now())
                how = LinkConfirmation.LINK_CODE
            try:
                link = child.request_guardian(
                    guardian_id, self.clock.now(), how, today, self.policy.consent_age, self._request_ttl
                )
            except FailedPrecondition as exc:
                if how is LinkConfirmation.NONE and exc.reason != "GUARDIAN_SELF":
                    return None  # a stranger learns nothing about the child's links
                raise
            await self.users.save(child)
            return LinkView(child, link, guardian) if link.state is LinkState.LINKED else None

        return await with_retries(attempt)

    async def create_link_code(self, child_id: str) -> tuple[str, datetime]:
        code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))

        async def attempt() -> datetime:
            child = await self._load(child_id)
            expires = child.set_link_code(
                self.hasher.hash("link", code), self.clock.now(), self.policy.link_code_ttl_seconds
            )
            await self.users.save(child)
            return expires

        return code, await with_retries(attempt)

    async def confirm(self, child_id: str, guardian_id: str) -> LinkView:
        guardian_id = require_id(guardian_id, "guardian_user_id", uuid=True)

        async def attempt() -> LinkView:
            child = await self._load(child_id)
            link = child.confirm_guardian(
                guardian_id, self.clock.now().date(), self.policy.consent_age, self.clock.now(), self._request_ttl
            )
            await self.users.save(child)
            return LinkView(child, link, await self.users.get(guardian_id))

        return await with_retries(attempt)

    async def set_consent(self, guardian_id: str, child_id: str, granted: bool) -> LinkView:
        child_id = require_id(child_id, "child_user_id", uuid=True)

        async def attempt() -> LinkView:
            child = await self.users.get(child_id)
            if child is None or child.deleted or child.link_of(guardian_id) is None:
                # Not your child looks like no child: ids of minors are not confirmed to strangers.
                raise NotFound("no such child", reason="GUARDIAN_LINK_NOT_FOUND")
            link = child.set_consent(guardian_id, granted, self.clock.now().date(), self.policy.consent_age)
            await self.users.save(child)
            return LinkView(child, link, child)

        return await with_retries(attempt)

    async def unlink(self, caller_id: str, guardian_id: str, child_id: str) -> None:
        guardian_id = require_id(guardian_id, "guardian_user_id", uuid=True)
        child_id = require_id(child_id, "child_user_id", uuid=True)
        if caller_id not in (guardian_id, child_id):
            raise PermissionDenied("only the guardian or the child may unlink", reason="NOT_PARTY_TO_LINK")

        async def attempt() -> None:
            child = await self.users.get(child_id)
            if child is None or child.link_of(guardian_id) is None:
                raise NotFound("no such link", reason="GUARDIAN_LINK_NOT_FOUND")
            child.unlink_guardian(guardian_id, self.clock.now().date(), self.policy.consent_age, by=caller_id)
            await self.users.save(child)

        await with_retries(attempt)

    async def children(self, guardian_id: str) -> list[LinkView]:
        """Confirmed links only: a pending request shows its maker nothing about the child."""
        out = []
        for child in await self.users.children_of(guardian_id):
            link = child.link_of(guardian_id)
            if link is not None and link.state is LinkState.LINKED and not child.deleted:
                out.append(LinkView(child, link, child))
        return out

    async def guardians(self, child_id: str) -> list[LinkView]:
        """The child's guardians and live requests, with names, so the child can decide."""
        child = await self._load(child_id)
        now = self.clock.now()
        links = [g for g in child.guardians if not g.lapsed(now, self._request_ttl)]
        people = {u.id: u for u in await self.users.many([g.guardian_id for g in links])}
        return [LinkView(child, g, people.get(g.guardian_id)) for g in links]


def _check_link_code(value: str) -> str:
    text = value.strip().upper().replace("-", "").replace(" ", "")
    if len(text) != LINK_CODE_LENGTH or any(ch not in LINK_CODE_ALPHABET for ch in text):
        raise InvalidArgument.field("link_code", f"must be {LINK_CODE_LENGTH} characters from the code alphabet")
    return text
