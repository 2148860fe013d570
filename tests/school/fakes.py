"""In-memory fakes of school's ports, and a `World` that builds the use cases on them (unit tests)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from parta_common.errors import AlreadyExists
from parta_common.testing.fakes import FakeClock
from school.app.access import AccessView
from school.app.common import Caller, Deps, Policy
from school.app.service import build_app
from school.domain.classes import SchoolClass
from school.domain.events import DomainEvent
from school.domain.info import SchoolInfo, SchoolLogo
from school.domain.invites import Invite
from school.domain.join_requests import JoinRequest, JoinState
from school.domain.memberships import Membership
from school.domain.profiles import ProfileFacts, ProfileState
from school.domain.schools import School
from school.domain.secrets import Secrets
from school.domain.timetables import Holidays, Timetable

E = TypeVar("E")


class FakeRepo(Generic[E]):
    def __init__(self) -> None:
        self.items: dict[str, E] = {}
        self.events: list[DomainEvent] = []
        self.on_change: Any = lambda entity: None

    async def get(self, entity_id: str) -> E | None:
        return copy.deepcopy(self.items.get(entity_id))

    def _check_unique(self, entity: E) -> None:
        return None

    async def insert(self, entity: E, events: Sequence[DomainEvent]) -> bool:
        if entity.id in self.items:  # type: ignore[attr-defined]
            return False
        self._check_unique(entity)
        self.items[entity.id] = entity  # type: ignore[attr-defined]
        self.events.extend(events)
        self.on_change(entity)
        return True

    async def save(self, entity: E, expected_version: int, events: Sequence[DomainEvent]) -> bool:
        stored = self.items.get(entity.id)  # type: ignore[attr-defined]
        if stored is None or stored.version != expected_version:  # type: ignore[attr-defined]
            return False
        self._check_unique(entity)
        self.items[entity.id] = entity  # type: ignore[attr-defined]
        self.events.extend(events)
        self.on_change(entity)
        return True

    def _where(self, **conditions: Any) -> list[E]:
        return sorted(
            (e for e in self.items.values() if all(getattr(e, k) == v for k, v in conditions.items())),
            key=lambda e: e.id,  # type: ignore[attr-defined]
        )


class FakeSchools(FakeRepo[School]):
    async def pending_for_phone(self, phone_hash: str) -> list[School]:
        return self._where(pending_admin_phone_hash=phone_hash)

    async def claimed_by(self, user_id: str) -> list[School]:
        return self._where(admin_claimed_by=user_id)

    async def get_many(self, school_ids: Sequence[str]) -> list[School]:
        return [self.items[i] for i in sorted(school_ids) if i in self.items]

    async def vacant(self, *, after: str, limit: int) -> list[School]:
        return [s for i, s in sorted(self.items.items()) if s.admin_vacant and i > after][:limit]


class FakeClasses(FakeRepo[SchoolClass]):
    def _check_unique(self, entity: SchoolClass) -> None:
        key = entity.unique_key()
        if key and any(c.unique_key() == key and c.id != entity.id for c in self.items.values()):
            raise AlreadyExists("a class with this grade and letter exists this year", reason="CLASS_EXISTS")

    async def list(self, school_id: str, *, include_archived: bool, after: str, limit: int) -> list[SchoolClass]:
        found = [c for c in self._where(school_id=school_id) if include_archived or not c.archived]
        return [c for c in found if c.id > after][:limit]


class FakeMemberships(FakeRepo[Membership]):
    async def insert_all(self, items: Sequence[tuple[Membership, Sequence[DomainEvent]]]) -> int:
        inserted = 0
        for membership, events in items:
            if membership.id in self.items:
                break
            self.items[membership.id] = membership
            self.events.extend(events)
            self.on_change(membership)
            inserted += 1
        return inserted

    async def of_user(self, user_id: str, school_id: str = "", *, active_only: bool = True) -> list[Membership]:
        return [
            m
            for m in self._where(user_id=user_id)
            if (not school_id or m.school_id == school_id) and (m.active or not active_only)
        ]

    async def of_class(self, class_id: str) -> list[Membership]:
        return self._where(class_id=class_id, active=True)

    async def list(self, school_id: str, class_id: str, *, after: str, limit: int) -> list[Membership]:
        return [m for m in self._where(school_id=school_id, class_id=class_id, active=True) if m.id > after][:limit]


class FakeInvites(FakeRepo[Invite]):
    def __init__(self) -> None:
        super().__init__()
        self.token_hashes: dict[str, str] = {}

    async def insert(self, invite: Invite, token_hash: str, events: Sequence[DomainEvent]) -> bool:  # type: ignore[override]
        if await super().insert(invite, events):
            self.token_hashes[token_hash] = invite.id
            return True
        return False

    async def by_token_hash(self, token_hash: str) -> Invite | None:
        invite_id = self.token_hashes.get(token_hash)
        return await self.get(invite_id) if invite_id else None

    async def count_use(self, invite_id: str, user_id: str, now: datetime, events: Sequence[DomainEvent] = ()) -> bool:
        invite = self.items[invite_id]
        if invite.revoked or now >= invite.expires_at or user_id in invite.accepted_by:
            return False
        if invite.uses >= invite.max_uses:
            return False
        self.items[invite_id] = replace(
            invite, uses=invite.uses + 1, accepted_by=(*invite.accepted_by, user_id), version=invite.version + 1
        )
        self.events.extend(events)
        return True

    async def list(self, school_id: str, class_id: str, *, after: str, limit: int) -> list[Invite]:
        found = self._where(school_id=school_id)
        return [i for i in found if (not class_id or i.class_id == class_id) and i.id > after][:limit]


class FakeJoinRequests(FakeRepo[JoinRequest]):
    async def list(
        self, school_id: str, class_id: str, state: JoinState, *, after: str, limit: int
    ) -> list[JoinRequest]:
        found = self._where(school_id=school_id)
        return [
            r
            for r in found
            if (not class_id or r.class_id == class_id) and (not state or r.state == state) and r.id > after
        ][:limit]

    async def of_user(self, user_id: str) -> list[JoinRequest]:
        return self._where(user_id=user_id)


class FakeGuardians:
    def __init__(self) -> None:
        self.links: dict[tuple[str, str], tuple[bool, int]] = {}

    async def apply(self, guardian_id: str, child_id: str, *, linked: bool, confirmed: bool, version: int) -> None:
        current = self.links.get((guardian_id, child_id))
        if current is None or current[1] < version:
            self.links[(guardian_id, child_id)] = (linked, version)

    async def is_guardian(self, guardian_id: str, child_id: str) -> bool:
        return self.links.get((guardian_id, child_id), (False, 0))[0]


class FakeProfiles:
    """The profile projection; by default everyone has a profile (tests of other rules need not care)."""

    def __init__(self) -> None:
        self.states: dict[str, ProfileFacts] = {}
        self.default = ProfileState.PRESENT
        self.calls = 0

    async def state(self, user_id: str) -> ProfileState:
        return (await self.facts(user_id)).state

    async def facts(self, user_id: str) -> ProfileFacts:
        self.calls += 1
        return self.states.get(user_id, ProfileFacts(self.default))

    async def apply(self, user_id: str, state: ProfileState, version: int, *, awaiting_guardian: bool = False) -> None:
        current = self.states.get(user_id, ProfileFacts())
        if state == ProfileState.DELETED:
            self.states[user_id] = ProfileFacts(state, False, version)
        elif current.state != ProfileState.DELETED and current.version < version:
            self.states[user_id] = ProfileFacts(state, awaiting_guardian, version)


class FakeProfileLookup:
    """Identity's answer for the caller: `present` users have a profile; None while `down`."""

    def __init__(self) -> None:
        self.present: set[str] = set()
        self.down = False
        self.calls = 0

    async def has_profile(self, user_id: str, bearer: str) -> bool | None:
        self.calls += 1
        return None if self.down else user_id in self.present


class FakeQr:
    def png(self, text: str, scale: int) -> bytes:
        return b"PNG:" + text.encode()

    def svg(self, text: str, scale: int) -> bytes:
        return b"<svg>" + text.encode()


OPERATOR = Caller("operator", "+79990000000")


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)

    def __post_init__(self) -> None:
        self.schools_repo, self.classes_repo = FakeSchools(), FakeClasses()
        self.memberships_repo, self.invites_repo = FakeMemberships(), FakeInvites()
        self.requests_repo = FakeJoinRequests()
        self.profiles, self.profile_lookup = FakeProfiles(), FakeProfileLookup()
        self.now_s = 0.0
        self.view = AccessView(
            self.schools_repo,
            self.classes_repo,
            self.memberships_repo,
            self.invites_repo,
            self.profiles,
            now=lambda: self.now_s,
        )
        for repo in (self.schools_repo, self.classes_repo, self.memberships_repo, self.invites_repo):
            repo.on_change = self.view.changed
        self.deps = Deps(
            schools=self.schools_repo,
            classes=self.classes_repo,
            memberships=self.memberships_repo,
            invites=self.invites_repo,
            join_requests=self.requests_repo,
            guardians=FakeGuardians(),
            qr=FakeQr(),
            secrets=Secrets(b"k" * 32),
            clock=self.clock,
            policy=Policy(
                operator_phones=frozenset({OPERATOR.phone}),
                internal_clients=frozenset({"bot"}),
                invite_base_url="https://parta.test/join/",
            ),
            profiles=self.profiles,
            profile_lookup=self.profile_lookup,
            view=self.view,
        )
        self.app = build_app(self.deps)
        self.schools, self.admins, self.staff = self.app.schools, self.app.admins, self.app.staff
        self.policies, self.years, self.classes = self.app.policies, self.app.years, self.app.classes
        self.memberships, self.invites = self.app.memberships, self.app.invites
        self.join_requests = self.app.join_requests

    def events(self) -> list[DomainEvent]:
        return [
            e
            for repo in (
                self.schools_repo,
                self.classes_repo,
                self.memberships_repo,
                self.invites_repo,
                self.requests_repo,
            )
            for e in repo.events
        ]


class FakeTimetables:
    """TimetableRepository in memory: one timetable per class, version-checked, events kept."""

    def __init__(self) -> None:
        self.items: dict[str, Timetable] = {}
        self.events: list[DomainEvent] = []

    async def get(self, class_id: str) -> Timetable | None:
        return self.items.get(class_id)

    async def save(self, timetable: Timetable, expected_version: int, events: Sequence[DomainEvent]) -> bool:
        stored = self.items.get(timetable.class_id)
        if (stored.version if stored else 0) != expected_version:
            return False
        self.items[timetable.class_id] = timetable
        self.events.extend(events)
        return True

    async def of_school(self, school_id: str) -> list[Timetable]:
        return sorted((t for t in self.items.values() if t.school_id == school_id), key=lambda t: t.class_id)


class FakeHolidays:
    def __init__(self) -> None:
        self.items: dict[str, Holidays] = {}

    async def get(self, school_id: str) -> Holidays | None:
        return self.items.get(school_id)

    async def save(self, holidays: Holidays, expected_version: int) -> bool:
        stored = self.items.get(holidays.school_id)
        if (stored.version if stored else 0) != expected_version:
            return False
        self.items[holidays.school_id] = holidays
        return True


class FakeSchoolInfos:
    """app.ports.SchoolInfoRepository in memory, with the same version check as the store's."""

    def __init__(self) -> None:
        self.cards: dict[str, tuple[SchoolInfo, bytes]] = {}

    async def get(self, school_id: str) -> SchoolInfo | None:
        found = self.cards.get(school_id)
        return found[0] if found else None

    async def logo(self, school_id: str) -> tuple[SchoolLogo, bytes] | None:
        found = self.cards.get(school_id)
        if found is None or found[0].logo is None or not found[1]:
            return None
        return found[0].logo, found[1]

    async def save(self, info: SchoolInfo, logo_data: bytes | None, expected_version: int) -> bool:
        stored = self.cards.get(info.school_id)
        if (stored[0].version if stored else 0) != expected_version:
            return False
        self.cards[info.school_id] = (info, (stored[1] if stored else b"") if logo_data is None else logo_data)
        return True
