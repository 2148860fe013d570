"""What the use cases need from the outside (adapters implement these)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from audit.domain.chain import Entry, Record


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


@dataclass(frozen=True)
class Filters:
    actor: str = ""
    subject: str = ""
    kind: str = ""
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None


class Chains(Protocol):
    async def append(self, record: Record, recorded_at: datetime) -> Entry:
        """Appends `record` to its school's chain unless its source is recorded there already (then
        returns that entry): one entry per (school, source), one chain per school, under any number
        of concurrent writers."""
        ...

    async def head(self, school_id: str) -> Head: ...

    async def window(self, school_id: str, low: int, high: int, filters: Filters | None = None) -> Sequence[Entry]:
        """Entries with low <= seq < high (matching `filters`), in ascending seq order."""
        ...


class Admins(Protocol):
    async def is_admin(self, user_id: str, school_id: str, credentials: str) -> bool:
        """Whether `user_id` administers `school_id` now (asked with the caller's own credentials)."""
        ...
