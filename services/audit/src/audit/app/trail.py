"""Use cases of the audit trail: record an event's entry, list a school's entries (admins; the read
itself recorded), verify a school's chain (admins).

Recording submits to the record log; the chainer appends what the log holds (api/chainer.py), so a
read's own entry is durable before the page is read and shows in the chain moments later."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from parta_common.errors import InvalidArgument, PermissionDenied, Violations
from parta_common.integers import MAX_CURSOR, require_int
from parta_common.pagination import decode_page_token, encode_page_token, page_size

from audit.app.ports import Admins, Chains, Filters, RecordLog
from audit.domain.chain import Break, ChainWalk, Entry, Record

READ_KIND = "audit.read"
VERIFIED_KIND = "audit.verified"
# A listing call reads at most this many seqs of the chain (filters may match few of them); the
# page then ends early and its token continues where the scan stopped.
SCAN_BUDGET = 2_000
WINDOW = 200
VERIFY_WINDOW = 500
MAX_ID = 128


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    next_token: str


@dataclass(frozen=True)
class Verification:
    checked: int
    head_seq: int
    head_hash: str
    broken: Break | None


@dataclass
class AuditTrail:
    chains: Chains
    log: RecordLog
    admins: Admins
    now: Callable[[], datetime]
    new_id: Callable[[], str]
    scan_budget: int = SCAN_BUDGET
    window_size: int = WINDOW
    verify_window: int = VERIFY_WINDOW

    async def record(self, record: Record) -> None:
        await self.log.submit(record)

    async def _require_admin(self, user_id: str, school_id: str, credentials: str) -> None:
        if not await self.admins.is_admin(user_id, school_id, credentials):
            raise PermissionDenied("only the school's admins read its audit trail", reason="NOT_SCHOOL_ADMIN")

    async def list_entries(
        self,
        caller: str,
        credentials: str,
        school_id: str,
        requested_size: int,
        token: str,
        filters: Filters,
    ) -> Page:
        v = Violations()
        _check_id(v, "school_id", school_id)
        _check_id(v, "actor_user_id", filters.actor, required=False)
        _check_id(v, "subject_user_id", filters.subject, required=False)
        if len(filters.kind) > MAX_ID:
            v.add("kind", f"at most {MAX_ID} characters")
        if filters.occurred_after and filters.occurred_before and filters.occurred_after >= filters.occurred_before:
            v.add("occurred_before", "must be after occurred_after")
        v.raise_if_any()
        size = page_size(requested_size)
        digest = _filters_digest(school_id, filters)
        before = self._cursor(token, digest)
        await self._require_admin(caller, school_id, credentials)
        # Submitted before anything is read: a read that cannot be recorded returns nothing.
        attrs = {"filters": _describe(filters), "page": "next" if token else "first"}
        await self.record(
            Record(
                school_id=school_id,
                kind=READ_KIND,
                actor=caller,
                subjects=tuple(x for x in (filters.subject,) if x),
                occurred_at=self.now(),
                source=f"read:{self.new_id()}",
                source_type="",
                attrs=attrs,
            )
        )
        if before is None:
            before = (await self.chains.head(school_id)).seq + 1
        found: list[Entry] = []
        scanned = 0
        while before > 1 and len(found) < size and scanned < self.scan_budget:
            low = max(1, before - self.window_size)
            batch = sorted(await self.chains.window(school_id, low, before, filters), key=lambda e: -e.seq)
            scanned += before - low
            if len(found) + len(batch) > size:
                batch = batch[: size - len(found)]
                found.extend(batch)
                before = batch[-1].seq
                break
            found.extend(batch)
            before = low
        next_token = encode_page_token({"b": before, "f": digest}) if before > 1 else ""
        return Page(found, next_token)

    def _cursor(self, token: str, digest: str) -> int | None:
        if not token:
            return None
        state = decode_page_token(token)
        if state.get("f") != digest:
            raise InvalidArgument.field("page_token", "the page token belongs to another school or other filters")
        return require_int("page_token", state.get("b"), minimum=1, maximum=MAX_CURSOR)

    async def verify(self, caller: str, credentials: str, school_id: str) -> Verification:
        v = Violations()
        _check_id(v, "school_id", school_id)
        v.raise_if_any()
        await self._require_admin(caller, school_id, credentials)
        head = await self.chains.head(school_id)
        walk = ChainWalk(school_id)
        low = 1
        last_seen = 0
        last_hash = head.hash
        while True:
            batch = await self.chains.window(school_id, low, low + self.verify_window)
            if batch:
                last_seen, last_hash = batch[-1].seq, batch[-1].hash
            if not walk.feed(batch):
                break
            low += self.verify_window
            # The head may lag the last entry by one (a writer stopped between the two writes): read on
            # until a window past the head is empty.
            if not batch and low > head.seq:
                break
        broken = walk.finish(head.seq)
        head_seq = max(head.seq, last_seen)
        result = Verification(walk.checked, head_seq, last_hash if last_seen >= head.seq else head.hash, broken)
        await self.record(
            Record(
                school_id=school_id,
                kind=VERIFIED_KIND,
                actor=caller,
                subjects=(),
                occurred_at=self.now(),
                source=f"verify:{self.new_id()}",
                source_type="",
                attrs={
                    "intact": "false" if broken else "true",
                    "head_seq": str(head_seq),
                    **({"first_broken_seq": str(broken.seq), "problem": str(broken.problem)} if broken else {}),
                },
            )
        )
        return result


def _check_id(v: Violations, name: str, value: str, *, required: bool = True) -> None:
    if not value:
        if required:
            v.add(name, "is required")
        return
    if len(value) > MAX_ID or not value.isprintable() or value.strip() != value:
        v.add(name, f"must be an id of at most {MAX_ID} printable characters")


def _filters_digest(school_id: str, f: Filters) -> str:
    raw = json.dumps([school_id, f.actor, f.subject, f.kind, _iso(f.occurred_after), _iso(f.occurred_before)])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _iso(at: datetime | None) -> str:
    return at.isoformat() if at else ""


def _describe(f: Filters) -> str:
    parts = [
        f"actor={f.actor}" if f.actor else "",
        f"subject={f.subject}" if f.subject else "",
        f"kind={f.kind}" if f.kind else "",
        f"after={_iso(f.occurred_after)}" if f.occurred_after else "",
        f"before={_iso(f.occurred_before)}" if f.occurred_before else "",
    ]
    return ";".join(p for p in parts if p)
