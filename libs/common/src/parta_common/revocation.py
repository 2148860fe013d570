"""Revoked sessions and deleted accounts, kept until their last access token expires.

Access tokens are verified locally in every service, so a revoked session's token would stay good
until its `exp`. Identity publishes `SessionRevoked` and `AccountDeleted` on `identity.user.v1`;
every replica reads them (`RevocationFeed`, parta_common.events.revocations) into this deny-set,
and the edge refuses a token whose session or user is in it, after the verified-token cache.
Entries leave when the tokens they deny have expired, so the set is bounded by the revocations of
one token lifetime; a hard cap (`max_entries`) guards against a flood, dropping the entries that
expire soonest and counting them.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from enum import StrEnum

from parta_common.auth import Principal
from parta_common.errors import Unauthenticated

DEFAULT_MAX_ENTRIES = 200_000


class RevokedKind(StrEnum):
    SESSION = "session"
    USER = "user"


RevocationListener = Callable[[RevokedKind, str], None]


def session_revoked() -> Unauthenticated:
    return Unauthenticated("session was revoked", reason="SESSION_REVOKED")


def account_deleted() -> Unauthenticated:
    return Unauthenticated("account deleted", reason="ACCOUNT_DELETED")


class RevocationList:
    """The deny-set: session ids and deleted user ids, each until a unix time."""

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        leeway_seconds: int = 10,
        now: Callable[[], float] = time.time,
    ):
        self._sessions: dict[str, float] = {}
        self._users: dict[str, float] = {}
        # (until, kind, id): the soonest expiry on top, for pruning and for the cap.
        self._expiry: list[tuple[float, str, str]] = []
        self._max = max_entries
        self._leeway = leeway_seconds
        self._now = now
        self._listeners: list[RevocationListener] = []
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._sessions) + len(self._users)

    def subscribe(self, listener: RevocationListener) -> None:
        """Called at once for every new revocation (the edge closes open streams with it)."""
        self._listeners.append(listener)

    def revoke_session(self, session_id: str, until: float) -> None:
        self._add(RevokedKind.SESSION, session_id, until)

    def delete_user(self, user_id: str, until: float) -> None:
        self._add(RevokedKind.USER, user_id, until)

    def check(self, principal: Principal) -> None:
        """Raises UNAUTHENTICATED for a deleted account or a revoked session. Stale entries need no
        time check here: a token past its expiry never gets this far."""
        if principal.user_id in self._users:
            raise account_deleted()
        if principal.session_id in self._sessions:
            raise session_revoked()

    def _table(self, kind: RevokedKind) -> dict[str, float]:
        return self._sessions if kind is RevokedKind.SESSION else self._users

    def _add(self, kind: RevokedKind, key: str, until: float) -> None:
        if not key:
            return
        until += self._leeway  # the verifier accepts a token this long after its exp
        self._prune()
        if until <= self._now():
            return  # every token it would deny has expired already (a replayed old event)
        table = self._table(kind)
        known = table.get(key)
        if known is None or until > known:
            table[key] = until
            heapq.heappush(self._expiry, (until, kind.value, key))
        while len(self) > self._max and self._expiry:
            if self._drop(*heapq.heappop(self._expiry)):
                self.evicted += 1
        if known is None:
            for listener in self._listeners:
                listener(kind, key)

    def _prune(self) -> None:
        now = self._now()
        while self._expiry and self._expiry[0][0] <= now:
            self._drop(*heapq.heappop(self._expiry))

    def _drop(self, until: float, kind: str, key: str) -> bool:
        table = self._table(RevokedKind(kind))
        if table.get(key) != until:
            return False  # a later event extended it; that newer heap entry decides
        del table[key]
        return True
