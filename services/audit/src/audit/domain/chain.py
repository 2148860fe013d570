"""The chain: what an audit entry is, its canonical form and hash, and how a school's chain is checked.

Each school has its own chain. Entry n carries `prev_hash` = SHA-256 of entry n-1's canonical form
(GENESIS for n = 1) and `hash` = SHA-256 of its own canonical form, which covers every field but
`hash` itself — the seq and prev_hash included, so an entry cannot be moved, removed or altered
without breaking a link that `verify` finds.

Canonical form (docs/audit.md, "Chain format"): UTF-8 JSON of the fields below with keys sorted,
no whitespace (separators "," and ":"), non-ASCII kept as is; times as RFC 3339 UTC with exactly
millisecond precision ("2026-12-07T06:01:23.456Z"), because the store keeps milliseconds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

GENESIS = "0" * 64
FORMAT_VERSION = 1


def to_millis(at: datetime) -> datetime:
    """`at` in UTC, truncated to the millisecond (what the store keeps, so what is hashed)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    at = at.astimezone(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def rfc3339(at: datetime) -> str:
    at = to_millis(at)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Record:
    """What happened, before it has a place in a chain. `source` is unique per school: the event id
    (redelivery of the same event finds it already recorded)."""

    school_id: str
    kind: str
    actor: str
    subjects: tuple[str, ...]
    occurred_at: datetime
    source: str
    source_type: str
    attrs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    school_id: str
    seq: int
    kind: str
    actor: str
    subjects: tuple[str, ...]
    occurred_at: datetime
    recorded_at: datetime
    source: str
    source_type: str
    attrs: Mapping[str, str]
    prev_hash: str
    hash: str

    def canonical(self) -> bytes:
        return canonical_form(
            school_id=self.school_id,
            seq=self.seq,
            kind=self.kind,
            actor=self.actor,
            subjects=self.subjects,
            occurred_at=self.occurred_at,
            recorded_at=self.recorded_at,
            source=self.source,
            source_type=self.source_type,
            attrs=self.attrs,
            prev_hash=self.prev_hash,
        )

    def computed_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


def canonical_form(
    *,
    school_id: str,
    seq: int,
    kind: str,
    actor: str,
    subjects: Iterable[str],
    occurred_at: datetime,
    recorded_at: datetime,
    source: str,
    source_type: str,
    attrs: Mapping[str, str],
    prev_hash: str,
) -> bytes:
    body = {
        "v": FORMAT_VERSION,
        "school_id": school_id,
        "seq": seq,
        "kind": kind,
        "actor": actor,
        "subjects": list(subjects),
        "occurred_at": rfc3339(occurred_at),
        "recorded_at": rfc3339(recorded_at),
        "source": source,
        "source_type": source_type,
        "attrs": {str(k): str(v) for k, v in attrs.items()},
        "prev_hash": prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def chain_entry(record: Record, *, seq: int, prev_hash: str, recorded_at: datetime) -> Entry:
    """The record placed at `seq` after an entry whose hash is `prev_hash`, with its own hash."""
    unhashed = Entry(
        school_id=record.school_id,
        seq=seq,
        kind=record.kind,
        actor=record.actor,
        subjects=tuple(record.subjects),
        occurred_at=to_millis(record.occurred_at),
        recorded_at=to_millis(recorded_at),
        source=record.source,
        source_type=record.source_type,
        attrs=dict(record.attrs),
        prev_hash=prev_hash,
        hash="",
    )
    return Entry(**{**unhashed.__dict__, "hash": unhashed.computed_hash()})


class Problem(StrEnum):
    MISSING = "missing"
    ALTERED = "altered"
    LINK_BROKEN = "link_broken"


@dataclass(frozen=True)
class Break:
    seq: int
    problem: Problem
    detail: str


class ChainWalk:
    """Checks a school's entries fed in ascending seq order (in pages); stops at the first break.

    Finds: a missing seq (removed entry), an entry whose content no longer hashes to its stored
    hash (altered), and an entry whose prev_hash is not the previous entry's hash (replaced,
    re-sequenced or reordered — a rewritten entry with a recomputed hash still breaks the next link).
    """

    def __init__(self, school_id: str) -> None:
        self.school_id = school_id
        self.expected_seq = 1
        self.prev_hash = GENESIS
        self.checked = 0
        self.broken: Break | None = None

    def feed(self, entries: Iterable[Entry]) -> bool:
        """False once a break is found (stop feeding)."""
        for entry in entries:
            if self.broken is not None:
                return False
            self._check(entry)
        return self.broken is None

    def _check(self, entry: Entry) -> None:
        if entry.school_id != self.school_id:
            self.broken = Break(entry.seq, Problem.ALTERED, "entry belongs to another school")
        elif entry.seq > self.expected_seq:
            self.broken = Break(self.expected_seq, Problem.MISSING, f"entry {self.expected_seq} is missing")
        elif entry.seq < self.expected_seq:
            self.broken = Break(entry.seq, Problem.LINK_BROKEN, f"entry {entry.seq} appears twice or out of order")
        elif entry.computed_hash() != entry.hash:
            self.broken = Break(entry.seq, Problem.ALTERED, f"entry {entry.seq} does not hash to its stored hash")
        elif entry.prev_hash != self.prev_hash:
            self.broken = Break(
                entry.seq, Problem.LINK_BROKEN, f"entry {entry.seq} does not link to entry {entry.seq - 1}"
            )
        else:
            self.checked += 1
            self.expected_seq = entry.seq + 1
            self.prev_hash = entry.hash

    def finish(self, head_seq: int) -> Break | None:
        """After the last page: entries the head counts but the walk never saw are missing."""
        if self.broken is None and self.expected_seq <= head_seq:
            self.broken = Break(self.expected_seq, Problem.MISSING, f"entry {self.expected_seq} is missing")
        return self.broken
