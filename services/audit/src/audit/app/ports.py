"""What the use cases need from the outside (adapters implement these)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from audit.domain.chain import Entry, Record
from audit.domain.pairs import Person


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


class Directory(Protocol):
    """The recorder's projections: who is in which school, who is a minor, direct chats, call rooms."""

    async def apply_membership(self, membership_id: str, version: int, fields: Mapping[str, Any]) -> None: ...

    async def apply_minor(self, user_id: str, version: int, minor: bool) -> None: ...

    async def schools_of(self, user_id: str, *, including_left: bool = False) -> set[str]: ...

    async def person(self, school_id: str, user_id: str) -> Person: ...

    async def save_direct_chat(self, chat_id: str, school_id: str, members: Sequence[str]) -> None: ...

    async def direct_chat(self, chat_id: str) -> Mapping[str, Any] | None: ...

    async def save_room(self, room_id: str, fields: Mapping[str, Any]) -> None: ...

    async def room(self, room_id: str) -> Mapping[str, Any] | None: ...


class Admins(Protocol):
    async def is_admin(self, user_id: str, school_id: str, credentials: str) -> bool:
        """Whether `user_id` administers `school_id` now (asked with the caller's own credentials)."""
        ...


class RecordLog(Protocol):
    async def submit(self, record: Record) -> None:
        """Accepts `record` for its school's chain: durable once this returns, appended to the chain
        moments later in the log's per-school order. Submitting a (school, source) again is a no-op."""
        ...
