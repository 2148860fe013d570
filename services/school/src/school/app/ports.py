"""Ports of the school use cases. Each write stores one document's new state together with its events
(the outbox lives in the same document), so a state change never loses its events."""

from __future__ import annotations

import builtins  # `list` is also a repository method name below
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from school.domain.classes import SchoolClass
from school.domain.events import DomainEvent
from school.domain.info import SchoolInfo, SchoolLogo
from school.domain.invites import Invite
from school.domain.join_requests import JoinRequest, JoinState
from school.domain.memberships import Membership
from school.domain.profiles import ProfileFacts, ProfileState
from school.domain.schools import School
from school.domain.timetables import Holidays, Timetable


class SchoolRepository(Protocol):
    async def get(self, school_id: str) -> School | None: ...

    async def insert(self, school: School, events: Sequence[DomainEvent]) -> bool:
        """False when a school with this id exists already (an idempotent retry)."""

    async def save(self, school: School, expected_version: int, events: Sequence[DomainEvent]) -> bool:
        """False when the stored version is not `expected_version` (a concurrent change won)."""

    async def pending_for_phone(self, phone_hash: str) -> list[School]: ...

    async def claimed_by(self, user_id: str) -> list[School]: ...

    async def get_many(self, school_ids: Sequence[str]) -> list[School]: ...

    async def vacant(self, *, after: str, limit: int) -> list[School]:
        """Schools whose admin seat is vacant, by id after `after`."""


class ClassRepository(Protocol):
    async def get(self, class_id: str) -> SchoolClass | None: ...

    async def insert(self, school_class: SchoolClass, events: Sequence[DomainEvent]) -> bool:
        """False when the id exists; raises AlreadyExists(CLASS_EXISTS) for a taken grade+letter."""

    async def save(self, school_class: SchoolClass, expected_version: int, events: Sequence[DomainEvent]) -> bool:
        """As insert for the grade+letter rule; False on a version conflict."""

    async def list(self, school_id: str, *, include_archived: bool, after: str, limit: int) -> list[SchoolClass]: ...


class MembershipRepository(Protocol):
    async def get(self, membership_id: str) -> Membership | None: ...

    async def insert(self, membership: Membership, events: Sequence[DomainEvent]) -> bool: ...

    async def insert_all(self, items: Sequence[tuple[Membership, Sequence[DomainEvent]]]) -> int:
        """Inserts in order in one store command, stopping at the first id that exists; returns how many
        were inserted (the first n)."""

    async def save(self, membership: Membership, expected_version: int, events: Sequence[DomainEvent]) -> bool: ...

    async def of_user(self, user_id: str, school_id: str = "", *, active_only: bool = True) -> list[Membership]: ...

    async def of_class(self, class_id: str) -> list[Membership]: ...

    async def list(self, school_id: str, class_id: str, *, after: str, limit: int) -> list[Membership]:
        """Active memberships of a school (school level when class_id is empty) or of a class."""


class InviteRepository(Protocol):
    async def get(self, invite_id: str) -> Invite | None: ...

    async def by_token_hash(self, token_hash: str) -> Invite | None: ...

    async def insert(self, invite: Invite, token_hash: str, events: Sequence[DomainEvent]) -> bool: ...

    async def save(self, invite: Invite, expected_version: int, events: Sequence[DomainEvent]) -> bool: ...

    async def count_use(self, invite_id: str, user_id: str, now: datetime, events: Sequence[DomainEvent] = ()) -> bool:
        """Atomically count `user_id` as one use if the invite is usable (not revoked, not expired, a use
        left, not counted yet), with `events` (InviteAccepted) in the same write; False otherwise. A whole
        class scanning one QR code at once contends on this one document, so it is a conditional increment
        rather than read-modify-write."""

    async def list(self, school_id: str, class_id: str, *, after: str, limit: int) -> list[Invite]: ...


class JoinRequestRepository(Protocol):
    async def get(self, request_id: str) -> JoinRequest | None: ...

    async def insert(self, request: JoinRequest, events: Sequence[DomainEvent]) -> bool: ...

    async def save(self, request: JoinRequest, expected_version: int, events: Sequence[DomainEvent]) -> bool: ...

    async def list(
        self, school_id: str, class_id: str, state: JoinState, *, after: str, limit: int
    ) -> list[JoinRequest]: ...

    async def of_user(self, user_id: str) -> builtins.list[JoinRequest]: ...


class GuardianDirectory(Protocol):
    """Projection of identity's GuardianLinked/GuardianUnlinked."""

    async def apply(self, guardian_id: str, child_id: str, *, linked: bool, confirmed: bool, version: int) -> None: ...

    async def is_guardian(self, guardian_id: str, child_id: str) -> bool: ...


class ProfileDirectory(Protocol):
    """Projection of identity's ProfileCreated/ProfileUpdated/AccountDeleted: who has a profile."""

    async def state(self, user_id: str) -> ProfileState: ...

    async def facts(self, user_id: str) -> ProfileFacts: ...

    async def apply(self, user_id: str, state: ProfileState, version: int, *, awaiting_guardian: bool = False) -> None:
        """Newest version wins, except that DELETED is final."""


class ProfileLookup(Protocol):
    """Identity asked directly, with the caller's own access token: the fallback when the projection has
    not seen a profile yet (ProfileCreated may still be on its way)."""

    async def has_profile(self, user_id: str, bearer: str) -> bool | None:
        """True/False from identity; None when identity cannot answer now."""


class QrRenderer(Protocol):
    def png(self, text: str, scale: int) -> bytes: ...

    def svg(self, text: str, scale: int) -> bytes: ...


class TimetableRepository(Protocol):
    """One document per class (its id), whatever the academic year; versions only grow."""

    async def get(self, class_id: str) -> Timetable | None: ...

    async def save(self, timetable: Timetable, expected_version: int, events: Sequence[DomainEvent]) -> bool:
        """Inserts when `expected_version` is 0; False when another write won."""

    async def of_school(self, school_id: str) -> builtins.list[Timetable]: ...


class HolidayRepository(Protocol):
    async def get(self, school_id: str) -> Holidays | None: ...

    async def save(self, holidays: Holidays, expected_version: int) -> bool:
        """Inserts when `expected_version` is 0; False when another write won."""


class SchoolInfoRepository(Protocol):
    """The school cards: one document per school, the logo's bytes inside it (read only on request)."""

    async def get(self, school_id: str) -> SchoolInfo | None: ...

    async def logo(self, school_id: str) -> tuple[SchoolLogo, bytes] | None: ...

    async def save(self, info: SchoolInfo, logo_data: bytes | None, expected_version: int) -> bool:
        """Writes `info` if the stored version is `expected_version` (0: no card stored yet); `logo_data`
        None keeps the stored logo bytes, b"" removes them. False when another write won."""
