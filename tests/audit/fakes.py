"""In-memory stand-ins for the audit service's ports (unit tests only)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from audit.app.ports import Filters, Head
from audit.domain.chain import GENESIS, Entry, Record, chain_entry
from audit.domain.pairs import Person


class MemoryChains:
    def __init__(self) -> None:
        self.entries: dict[str, dict[int, Entry]] = {}

    async def append(self, record: Record, recorded_at: datetime) -> Entry:
        chain = self.entries.setdefault(record.school_id, {})
        for e in chain.values():
            if e.source == record.source:
                return e
        head = await self.head(record.school_id)
        entry = chain_entry(record, seq=head.seq + 1, prev_hash=head.hash, recorded_at=recorded_at)
        chain[entry.seq] = entry
        return entry

    async def head(self, school_id: str) -> Head:
        chain = self.entries.get(school_id, {})
        if not chain:
            return Head(0, GENESIS)
        last = chain[max(chain)]
        return Head(last.seq, last.hash)

    async def window(self, school_id: str, low: int, high: int, filters: Filters | None = None) -> Sequence[Entry]:
        f = filters or Filters()
        out = []
        for seq, e in sorted(self.entries.get(school_id, {}).items()):
            if not low <= seq < high:
                continue
            if (
                (f.actor and e.actor != f.actor)
                or (f.subject and f.subject not in e.subjects)
                or (f.kind and e.kind != f.kind)
            ):
                continue
            if f.occurred_after and e.occurred_at < f.occurred_after:
                continue
            if f.occurred_before and e.occurred_at >= f.occurred_before:
                continue
            out.append(e)
        return out


class MemoryRecordLog:
    """A record log without lag: each new submission is chained at once, at `now()` (the real log
    chains it moments later, in the same per-school order). `submitted` keeps what was offered."""

    def __init__(self, chains: MemoryChains, now: Callable[[], datetime]):
        self._chains = chains
        self._now = now
        self.submitted: list[Record] = []

    async def submit(self, record: Record) -> None:
        self.submitted.append(record)
        await self._chains.append(record, self._now())


class FixedAdmins:
    def __init__(self, admins: dict[str, set[str]]):
        self.admins = admins
        self.asked: list[tuple[str, str, str]] = []

    async def is_admin(self, user_id: str, school_id: str, credentials: str) -> bool:
        self.asked.append((user_id, school_id, credentials))
        return user_id in self.admins.get(school_id, set())


class MemoryDirectory:
    """The recorder's projections in memory: memberships (school → users), minors, direct chats, rooms."""

    def __init__(self, members: dict[str, set[str]] | None = None) -> None:
        self.members = {s: set(us) for s, us in (members or {}).items()}
        self.chats: dict[str, dict[str, Any]] = {}
        self.rooms: dict[str, dict[str, Any]] = {}
        self.minors: dict[str, bool] = {}

    async def apply_membership(self, membership_id: str, version: int, fields: Mapping[str, Any]) -> None:
        users = self.members.setdefault(fields["school_id"], set())
        (users.add if fields["active"] else users.discard)(fields["user_id"])

    async def apply_minor(self, user_id: str, version: int, minor: bool) -> None:
        self.minors[user_id] = minor

    async def schools_of(self, user_id: str, *, including_left: bool = False) -> set[str]:
        return {s for s, users in self.members.items() if user_id in users}

    async def person(self, school_id: str, user_id: str) -> Person:
        return Person(frozenset(), self.minors.get(user_id))

    async def save_direct_chat(self, chat_id: str, school_id: str, members: Sequence[str]) -> None:
        chat = self.chats.setdefault(chat_id, {"school_id": school_id, "members": []})
        chat["members"] = sorted({*chat["members"], *members})

    async def direct_chat(self, chat_id: str) -> Mapping[str, Any] | None:
        return self.chats.get(chat_id)

    async def save_room(self, room_id: str, fields: Mapping[str, Any]) -> None:
        self.rooms[room_id] = dict(fields)

    async def room(self, room_id: str) -> Mapping[str, Any] | None:
        return self.rooms.get(room_id)
