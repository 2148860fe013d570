"""The access view: an in-memory read model of the rows CheckPermission and AcceptInvite read on every
call (a person's seats in a school, schools, classes, invites by token, who has a profile), so those hot
calls are answered from memory instead of the store.

Freshness: every write of this replica forgets the rows it changed as soon as it is stored (the
repositories report each changed document); every replica also forgets rows named by the events any
replica publishes (the feed in adapters/view_feed.py tails school's own topics and identity.user.v1);
and an entry lives at most `ttl_seconds`, which bounds staleness should the feed lag or Kafka be down.
A load that raced with a forget of its key is returned but not kept, so a stale read is never cached.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from school.app.ports import (
    ClassRepository,
    InviteRepository,
    MembershipRepository,
    ProfileDirectory,
    SchoolRepository,
)
from school.domain.classes import SchoolClass
from school.domain.invites import Invite
from school.domain.memberships import Membership
from school.domain.profiles import ProfileFacts, ProfileState
from school.domain.schools import School

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """A bounded, expiring map filled by loads; `forget` wins over a load in flight for the same key."""

    def __init__(self, max_entries: int, ttl_seconds: float, now: Callable[[], float]):
        self._max = max_entries
        self._ttl = ttl_seconds
        self._now = now
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._inflight: dict[K, list[int]] = {}  # key -> [loads in flight, forgotten meanwhile]
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def peek(self, key: K) -> V | None:
        hit = self._data.get(key)
        if hit is None or hit[0] <= self._now():
            return None
        return hit[1]

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        hit = self._data.get(key)
        if hit is not None and hit[0] > self._now():
            self._data.move_to_end(key)
            self.hits += 1
            return hit[1]
        self.misses += 1
        state = self._inflight.setdefault(key, [0, 0])
        state[0] += 1
        try:
            value = await load()
        finally:
            state[0] -= 1
            if state[0] == 0:
                del self._inflight[key]
        if not state[1]:
            self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = (self._now() + self._ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def forget(self, key: K) -> None:
        self._data.pop(key, None)
        state = self._inflight.get(key)
        if state is not None:
            state[1] = 1

    def forget_where(self, matches: Callable[[K], bool]) -> None:
        for key in [k for k in self._data if matches(k)]:
            self.forget(key)
        for key, state in self._inflight.items():
            if matches(key):
                state[1] = 1


class AccessView:
    def __init__(
        self,
        schools: SchoolRepository,
        classes: ClassRepository,
        memberships: MembershipRepository,
        invites: InviteRepository,
        profiles: ProfileDirectory | None = None,
        *,
        now: Callable[[], float],
        max_entries: int = 100_000,
        ttl_seconds: float = 30.0,
    ):
        self._schools_repo = schools
        self._classes_repo = classes
        self._memberships_repo = memberships
        self._invites_repo = invites
        self._profiles_repo = profiles
        self._schools: Memo[str, School | None] = Memo(max_entries, ttl_seconds, now)
        self._classes: Memo[str, SchoolClass | None] = Memo(max_entries, ttl_seconds, now)
        self._seats: Memo[tuple[str, str], list[Membership]] = Memo(max_entries, ttl_seconds, now)
        self._invites: Memo[str, Invite | None] = Memo(max_entries, ttl_seconds, now)
        # Only "has a profile" is remembered: a profile is never taken back short of deleting the account.
        self._profiles: Memo[str, bool] = Memo(max_entries, ttl_seconds * 20, now)
        # The rule book's profile half (profile, consent) of the people CheckPermission is asked about.
        self._profile_facts: Memo[str, ProfileFacts] = Memo(max_entries, ttl_seconds, now)

    # --- reads -------------------------------------------------------------------------------

    async def school(self, school_id: str) -> School | None:
        return await self._schools.get(school_id, lambda: self._schools_repo.get(school_id))

    async def school_class(self, class_id: str) -> SchoolClass | None:
        return await self._classes.get(class_id, lambda: self._classes_repo.get(class_id))

    async def seats(self, user_id: str, school_id: str) -> list[Membership]:
        """The person's active memberships in the school (copies are not made: treat as read-only)."""
        return await self._seats.get((user_id, school_id), lambda: self._memberships_repo.of_user(user_id, school_id))

    async def invite_by_token_hash(self, token_hash: str) -> Invite | None:
        """For acceptance only: `uses` may lag and `revoked` may be late here; counting a use re-checks
        both in the store (InviteRepository.count_use), so a stale copy never grants a use."""
        return await self._invites.get(token_hash, lambda: self._invites_repo.by_token_hash(token_hash))

    async def profile_facts(self, user_id: str) -> ProfileFacts:
        repo = self._profiles_repo
        if repo is None:
            return ProfileFacts()
        return await self._profile_facts.get(user_id, lambda: repo.facts(user_id))

    def learned_profile(self, user_id: str, facts: ProfileFacts) -> None:
        """An identity event told the new facts: keep them (newer than what is held) rather than forget,
        so a reload cannot race the projection's own write of the same event."""
        held = self._profile_facts.peek(user_id)
        if held is None or held.version <= facts.version:
            self._profile_facts.put(user_id, facts)

    def known_deleted(self, user_id: str) -> bool:
        held = self._profile_facts.peek(user_id)
        return held is not None and held.state == ProfileState.DELETED

    def has_profile(self, user_id: str) -> bool:
        return bool(self._profiles.peek(user_id))

    def remember_profile(self, user_id: str) -> None:
        self._profiles.put(user_id, True)

    def stats(self) -> dict[str, int]:
        memos = {"schools": self._schools, "classes": self._classes, "seats": self._seats}
        return {f"{name}_{kind}": getattr(m, kind) for name, m in memos.items() for kind in ("hits", "misses")}

    # --- forgetting --------------------------------------------------------------------------

    def changed(self, entity: object) -> None:
        """A repository stored a new state of `entity` (this replica's write)."""
        if isinstance(entity, Membership):
            self.forget_member(entity.user_id, entity.school_id)
        elif isinstance(entity, School):
            self.forget_school(entity.id)
        elif isinstance(entity, SchoolClass):
            self.forget_class(entity.id)

    def forget_member(self, user_id: str, school_id: str) -> None:
        self._seats.forget((user_id, school_id))

    def forget_school(self, school_id: str) -> None:
        self._schools.forget(school_id)

    def forget_class(self, class_id: str) -> None:
        self._classes.forget(class_id)

    def forget_user(self, user_id: str) -> None:
        """The account is gone: its seats everywhere and its profile."""
        self._seats.forget_where(lambda key: key[0] == user_id)
        self._profiles.forget(user_id)
