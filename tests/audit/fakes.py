"""In-memory stand-ins for the audit service's ports (unit tests only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from audit.app.ports import Filters, Head
from audit.domain.chain import GENESIS, Entry, Record, chain_entry


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


class FixedAdmins:
    def __init__(self, admins: dict[str, set[str]]):
        self.admins = admins
        self.asked: list[tuple[str, str, str]] = []

    async def is_admin(self, user_id: str, school_id: str, credentials: str) -> bool:
        self.asked.append((user_id, school_id, credentials))
        return user_id in self.admins.get(school_id, set())
