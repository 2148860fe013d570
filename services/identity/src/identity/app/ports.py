"""Ports: what the use cases need from the outside world. Adapters implement them; tests fake them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from identity.domain.challenges import Challenge
from identity.domain.erasure import ServiceReport
from identity.domain.exports import ExportRequest
from identity.domain.keys import SigningKeyMaterial
from identity.domain.sessions import RevokeReason, Session
from identity.domain.users import User


class UserRepository(Protocol):
    async def get(self, user_id: str) -> User | None: ...

    async def by_phone(self, phone: str) -> User | None: ...

    async def by_link_code(self, code_hash: str) -> User | None: ...

    async def many(self, user_ids: Iterable[str]) -> list[User]: ...

    async def children_of(self, guardian_id: str) -> list[User]: ...

    async def age_band_due(self, today: date, rule: str, limit: int) -> list[User]:
        """Up to `limit` living users with a profile whose stored age band may be stale: its change
        day is on or before `today`, or it was computed under another `rule` (or none)."""
        ...

    async def add(self, user: User) -> bool:
        """Insert a new user with its events; False when the phone already belongs to someone."""
        ...

    async def save(self, user: User) -> None:
        """Write the user and its pending events if nobody else changed it since it was read;
        raises ConcurrentChange (reason CONCURRENT_CHANGE) otherwise. Clears `user.events`."""
        ...


class ChallengeRepository(Protocol):
    async def get(self, challenge_id: str) -> Challenge | None: ...

    async def add(self, challenge: Challenge) -> bool:
        """False when a challenge with this id exists (an idempotent retry)."""
        ...

    async def save(self, challenge: Challenge) -> None: ...

    async def supersede_pending(self, phone: str, except_id: str) -> None: ...


class SessionRepository(Protocol):
    async def get(self, session_id: str) -> Session | None: ...

    async def add(self, session: Session) -> None: ...

    async def save(self, session: Session) -> None: ...

    async def list_active(self, user_id: str) -> list[Session]: ...

    async def revoke_all(self, user_id: str, reason: RevokeReason, now: datetime, keep: str = "") -> int: ...

    async def is_active(self, session_id: str, user_id: str) -> bool: ...


@dataclass(frozen=True)
class PhoneCodeSlot:
    """What the per-phone limits say about one more code: the seconds to wait for the resend
    cooldown or for the daily cap (None when free), and whether the phone had no code within the
    hold (then no earlier code of it can still be pending)."""

    resend_wait: float | None = None
    cap_wait: float | None = None
    first: bool = False


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: int, now: datetime) -> float | None:
        """Count one use of `key` in the current fixed window; seconds to wait when over `limit`."""
        ...

    async def cooldown(self, key: str, seconds: int, now: datetime) -> float | None:
        """Take `key` for `seconds`; when already taken, the seconds left."""
        ...

    async def phone_code(
        self, key: str, cooldown_seconds: int, daily_cap: int, hold_seconds: int, now: datetime
    ) -> PhoneCodeSlot:
        """The resend cooldown and the daily code cap of one phone in one step: when the cooldown
        is free, take it and count one code today (a code over the cap still counts and still
        takes the cooldown). The phone's record lives at least `hold_seconds` after each code."""
        ...


class SmsGateway(Protocol):
    async def send_code(self, phone: str, code: str) -> None: ...


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


class TokenIssuer(Protocol):
    def issue(self, user_id: str, session_id: str, phone: str, now: datetime) -> IssuedToken: ...


class MembershipDirectory(Protocol):
    """Identity's projection of school memberships (from school.membership.v1)."""

    async def sharing_school(self, user_id: str, others: Iterable[str]) -> set[str]:
        """The subset of `others` who share at least one school with `user_id`."""
        ...

    async def is_parent_of(self, guardian_id: str, child_id: str) -> bool:
        """The school made `guardian_id` a parent member bound to `child_id`."""
        ...

    async def is_admin_over(self, admin_id: str, user_id: str) -> bool:
        """`admin_id` is an active admin of a school where `user_id` is an active member."""
        ...


@dataclass(frozen=True)
class MembershipFact:
    """What identity keeps of one school membership (from school.membership.v1)."""

    membership_id: str
    school_id: str
    user_id: str
    active: bool
    is_parent: bool
    child_user_id: str
    is_admin: bool = False


class MembershipProjection(Protocol):
    """The write side of identity's membership projection (the consumer of school's events)."""

    async def apply(self, fact: MembershipFact, version: int) -> bool:
        """Stores `fact` unless the stored version is `version` or newer; False when ignored."""
        ...


class PublishedKeys(Protocol):
    """The signing keys whose public halves identity publishes (SigningKeyService)."""

    def published(self) -> list[tuple[SigningKeyMaterial, bytes]]: ...


class ExportRepository(Protocol):
    """Data exports identity started (app/exports.py): each with its DataExportRequested and the
    profile part in its outbox, written in one insert."""

    async def add(self, request: ExportRequest, profile: dict[str, object]) -> ExportRequest:
        """Stores the export with its events; an export with this id already stored is returned
        instead (a retried request), nothing written."""
        ...

    async def get(self, export_id: str) -> ExportRequest | None: ...

    async def count_since(self, requested_by: str, since: datetime) -> int:
        """Exports `requested_by` started at or after `since`."""
        ...


class ErasureReports(Protocol):
    """Each service's erasure report per erased account (topic erasure.report.v1), kept for the
    guardian who asked for the erasure (app/erasure.py)."""

    async def record(self, report: ServiceReport) -> None:
        """Idempotent: one report per account and service, a repeat overwrites it with the same."""

    async def of(self, user_id: str) -> list[ServiceReport]: ...
