"""In-memory fakes of identity's ports, for unit tests of the use cases."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from identity.app.policy import IdentityPolicy
from identity.app.ports import IssuedToken, PhoneCodeSlot
from identity.app.sign_in import SignIn
from identity.domain.challenges import Challenge, ChallengeState
from identity.domain.events import DomainEvent
from identity.domain.hashing import KeyedHasher
from identity.domain.sessions import RevokeReason, Session
from identity.domain.users import User
from parta_common.errors import ConcurrentChange
from parta_common.testing.fakes import FakeClock


class FakeUsers:
    def __init__(self) -> None:
        self.rows: dict[str, User] = {}
        self.published: list[DomainEvent] = []

    def _copy(self, user: User | None) -> User | None:
        return copy.deepcopy(user) if user is not None else None

    async def get(self, user_id: str) -> User | None:
        return self._copy(self.rows.get(user_id))

    async def by_phone(self, phone: str) -> User | None:
        return self._copy(next((u for u in self.rows.values() if u.phone == phone), None))

    async def by_link_code(self, code_hash: str) -> User | None:
        return self._copy(next((u for u in self.rows.values() if u.link_code_hash == code_hash), None))

    async def many(self, user_ids: Iterable[str]) -> list[User]:
        return [copy.deepcopy(self.rows[i]) for i in user_ids if i in self.rows]

    async def children_of(self, guardian_id: str) -> list[User]:
        return [copy.deepcopy(u) for u in self.rows.values() if u.link_of(guardian_id) is not None]

    async def age_band_due(self, today: date, rule: str, limit: int) -> list[User]:
        due = [
            u
            for u in self.rows.values()
            if (u.age_band_changes_on is not None and u.age_band_changes_on <= today)
            or (u.age_band_rule != rule and u.profile is not None and not u.deleted)
        ]
        return [copy.deepcopy(u) for u in due[:limit]]

    async def add(self, user: User) -> bool:
        if user.id in self.rows or any(u.phone == user.phone for u in self.rows.values()):
            return False
        await self._store(user)
        return True

    async def save(self, user: User) -> None:
        stored = self.rows.get(user.id)
        if stored is None or stored.version != user.version:
            raise ConcurrentChange("conflict")
        await self._store(user)

    async def _store(self, user: User) -> None:
        self.published.extend(user.events)
        user.version += max(len(user.events), 1)
        user.events.clear()
        self.rows[user.id] = copy.deepcopy(user)


class FakeChallenges:
    def __init__(self) -> None:
        self.rows: dict[str, Challenge] = {}

    async def get(self, challenge_id: str) -> Challenge | None:
        c = self.rows.get(challenge_id)
        return copy.deepcopy(c) if c else None

    async def add(self, challenge: Challenge) -> bool:
        if challenge.id in self.rows:
            return False
        self.rows[challenge.id] = copy.deepcopy(challenge)
        return True

    async def save(self, challenge: Challenge) -> None:
        if self.rows[challenge.id].version != challenge.version:
            raise ConcurrentChange("conflict")
        challenge.version += 1
        self.rows[challenge.id] = copy.deepcopy(challenge)

    async def supersede_pending(self, phone: str, except_id: str) -> None:
        for c in self.rows.values():
            if c.phone == phone and c.id != except_id and c.state is ChallengeState.PENDING:
                c.state = ChallengeState.SUPERSEDED
                c.version += 1


class FakeSessions:
    def __init__(self) -> None:
        self.rows: dict[str, Session] = {}
        self.published: list[object] = []  # SessionRevoked events, as the outbox would relay them

    async def get(self, session_id: str) -> Session | None:
        s = self.rows.get(session_id)
        return copy.deepcopy(s) if s else None

    async def add(self, session: Session) -> None:
        self.rows[session.id] = copy.deepcopy(session)

    async def save(self, session: Session) -> None:
        if self.rows[session.id].version != session.version:
            raise ConcurrentChange("conflict")
        session.version += 1
        self.published.extend(session.events)
        session.events.clear()
        self.rows[session.id] = copy.deepcopy(session)

    async def list_active(self, user_id: str) -> list[Session]:
        return [copy.deepcopy(s) for s in self.rows.values() if s.user_id == user_id and s.active]

    async def revoke_all(self, user_id: str, reason: RevokeReason, now: datetime, keep: str = "") -> int:
        n = 0
        for s in self.rows.values():
            if s.user_id == user_id and s.id != keep and s.revoke(reason, now):
                s.version += 1
                self.published.extend(s.events)
                s.events.clear()
                n += 1
        return n

    async def is_active(self, session_id: str, user_id: str) -> bool:
        s = self.rows.get(session_id)
        return s is not None and s.user_id == user_id and s.active


class FakeLimiter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.taken: dict[str, datetime] = {}
        self.held: dict[str, datetime] = {}

    async def hit(self, key: str, limit: int, window_seconds: int, now: datetime) -> float | None:
        epoch = int(now.timestamp())
        start = epoch - epoch % window_seconds
        slot = f"{key}@{start}"
        self.counts[slot] = self.counts.get(slot, 0) + 1
        return float(start + window_seconds - epoch) if self.counts[slot] > limit else None

    async def cooldown(self, key: str, seconds: int, now: datetime) -> float | None:
        until = self.taken.get(key)
        if until is not None and until > now:
            return (until - now).total_seconds()
        self.taken[key] = now + timedelta(seconds=seconds)
        return None

    async def phone_code(
        self, key: str, cooldown_seconds: int, daily_cap: int, hold_seconds: int, now: datetime
    ) -> PhoneCodeSlot:
        held = self.held.get(key)
        first = held is None or held <= now
        wait = await self.cooldown(f"resend:{key}", cooldown_seconds, now)
        if wait is not None:
            return PhoneCodeSlot(resend_wait=wait)
        self.held[key] = max(held or now, now + timedelta(seconds=max(hold_seconds, cooldown_seconds)))
        return PhoneCodeSlot(cap_wait=await self.hit(f"phone-day:{key}", daily_cap, 86_400, now), first=first)


class FakeSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = False

    async def send_code(self, phone: str, code: str) -> None:
        if self.fail:
            raise ConnectionError("gateway down")
        self.sent.append((phone, code))

    def last_code(self, phone: str) -> str:
        return next(code for p, code in reversed(self.sent) if p == phone)


class FakeTokens:
    def __init__(self) -> None:
        self.issued: list[tuple[str, str]] = []

    def issue(self, user_id: str, session_id: str, phone: str, now: datetime) -> IssuedToken:
        self.issued.append((user_id, session_id))
        return IssuedToken(f"token-{user_id}-{session_id}-{len(self.issued)}", now + timedelta(minutes=15))


class FakeDirectory:
    def __init__(self) -> None:
        self.schools: dict[str, set[str]] = {}
        self.parents: set[tuple[str, str]] = set()
        self.admins: dict[str, set[str]] = {}  # admin id -> schools they administer

    async def sharing_school(self, user_id: str, others: Iterable[str]) -> set[str]:
        mine = self.schools.get(user_id, set())
        return {o for o in others if self.schools.get(o, set()) & mine}

    async def is_parent_of(self, guardian_id: str, child_id: str) -> bool:
        return (guardian_id, child_id) in self.parents

    async def is_admin_over(self, admin_id: str, user_id: str) -> bool:
        return bool(self.admins.get(admin_id, set()) & self.schools.get(user_id, set()))


class World:
    """Every fake wired into the use cases, like bootstrap does with the real adapters."""

    def __init__(self, policy: IdentityPolicy | None = None):
        from identity.app.account import Accounts
        from identity.app.age_bands import AgeBands
        from identity.app.guardians import Guardians
        from identity.app.profiles import Profiles

        self.clock = FakeClock(datetime(2026, 9, 1, 9, 0, tzinfo=UTC))
        self.policy = policy or IdentityPolicy()
        self.users = FakeUsers()
        self.challenges = FakeChallenges()
        self.sessions = FakeSessions()
        self.limiter = FakeLimiter()
        self.sms = FakeSms()
        self.tokens = FakeTokens()
        self.directory = FakeDirectory()
        self.hasher = KeyedHasher(b"k" * 32)
        self.sign_in = SignIn(
            users=self.users,
            challenges=self.challenges,
            sessions=self.sessions,
            limiter=self.limiter,
            sms=self.sms,
            tokens=self.tokens,
            hasher=self.hasher,
            clock=self.clock,
            policy=self.policy,
        )
        self.profiles = Profiles(users=self.users, directory=self.directory, clock=self.clock, policy=self.policy)
        self.guardians = Guardians(
            users=self.users,
            directory=self.directory,
            limiter=self.limiter,
            hasher=self.hasher,
            clock=self.clock,
            policy=self.policy,
        )
        self.accounts = Accounts(users=self.users, sessions=self.sessions, clock=self.clock, policy=self.policy)
        self.age_bands = AgeBands(users=self.users, clock=self.clock, policy=self.policy)

    async def signed_in(self, phone: str, address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
        sent = await self.sign_in.request_code(phone, "", address)
        self.clock.advance(self.policy.code.resend_cooldown_seconds)  # the next request may come at once
        return await self.sign_in.verify_code(sent.challenge_id, self.sms.last_code(phone), "phone")
