"""The audit store: per-school chains of entries and the small projections the recorder reads.

Appending without multi-document transactions (docs/audit.md, "Concurrency"):
- an entry's `_id` is "<school>/<seq>", so inserting it *claims* the seq: of two writers that read
  the same head only one insert succeeds, and the chain never forks;
- a unique index on (school_id, source) makes an event's entry unique per school: a redelivered or
  raced event finds its entry (or loses the insert) instead of appending a second one;
- `heads` holds each school's last seq and hash, advanced with a conditional update that only moves
  it forward. It is only a shortcut to the tail: a writer that stops between the entry insert and the
  head update leaves it behind, and the next writer's refused insert on the taken seq makes it walk
  the head forward over the stored entries first. Entries are never updated or deleted by the service.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from parta_common.events.outbox import outbox_index
from parta_common.mongo import Document, apply_versioned
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from audit.app.ports import Filters, Head
from audit.domain.chain import GENESIS, Entry, Record, chain_entry
from audit.domain.pairs import Person

ENTRIES = "entries"
HEADS = "heads"
MEMBERSHIPS = "memberships"
PEOPLE = "people"
DIRECT_CHATS = "direct_chats"
ROOMS = "rooms"
# The record log's markers and outbox (adapters/record_log.py).
SUBMISSIONS = "submissions"

# Concurrent writers on one school: each lost race costs one insert and a head catch-up.
MAX_APPEND_ATTEMPTS = 200
CATCH_UP_WINDOW = 64


class ChainContention(RuntimeError):
    """Too many concurrent writers on one school's chain; the consumer retries the record."""


def indexes() -> dict[str, list[IndexModel]]:
    return {
        ENTRIES: [
            IndexModel([("school_id", ASCENDING), ("seq", ASCENDING)], name="by_seq", unique=True),
            IndexModel([("school_id", ASCENDING), ("source", ASCENDING)], name="by_source", unique=True),
        ],
        MEMBERSHIPS: [IndexModel([("user_id", ASCENDING), ("school_id", ASCENDING)], name="by_user")],
        SUBMISSIONS: [outbox_index()],
    }


def entry_id(school_id: str, seq: int) -> str:
    return f"{school_id}/{seq}"


def to_document(e: Entry) -> Document:
    return {
        "_id": entry_id(e.school_id, e.seq),
        "school_id": e.school_id,
        "seq": e.seq,
        "kind": e.kind,
        "actor": e.actor,
        "subjects": list(e.subjects),
        "occurred_at": e.occurred_at,
        "recorded_at": e.recorded_at,
        "source": e.source,
        "source_type": e.source_type,
        "attrs": dict(e.attrs),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def from_document(d: Mapping[str, Any]) -> Entry:
    return Entry(
        school_id=d["school_id"],
        seq=int(d["seq"]),
        kind=d["kind"],
        actor=d["actor"],
        subjects=tuple(d.get("subjects", ())),
        occurred_at=d["occurred_at"],
        recorded_at=d["recorded_at"],
        source=d["source"],
        source_type=d.get("source_type", ""),
        attrs=dict(d.get("attrs", {})),
        prev_hash=d["prev_hash"],
        hash=d["hash"],
    )


class MongoChains:
    def __init__(self, database: AsyncDatabase[Document]):
        self._entries = database[ENTRIES]
        self._heads = database[HEADS]
        # This process's guess of each school's tail (the last entry it appended or saw): one writer
        # per school appends in two commands (insert, head update). A wrong guess costs one refused
        # insert, then the head is read and walked forward.
        self._tails: dict[str, Head] = {}

    async def append(self, record: Record, recorded_at: datetime) -> Entry:
        school_id = record.school_id
        tail = self._tails.get(school_id)
        if tail is None:
            tail = await self._catch_up(school_id, await self._ensure_head(school_id))
        for _attempt in range(MAX_APPEND_ATTEMPTS):
            entry = chain_entry(record, seq=tail.seq + 1, prev_hash=tail.hash, recorded_at=recorded_at)
            try:
                await self._entries.insert_one(to_document(entry))
            except DuplicateKeyError:
                # Either this event is recorded already (redelivery, replay, a racing twin: the unique
                # source index refused it), or another writer took the seq.
                found = await self._by_source(school_id, record.source)
                if found is not None:
                    return found
                tail = await self._catch_up(school_id, await self.head(school_id))
                continue
            self._tails[school_id] = Head(entry.seq, entry.hash)
            # Forward only: a head never moves back, whoever updates it and in whatever order.
            await self._heads.update_one(
                {"_id": school_id, "seq": {"$lt": entry.seq}}, {"$set": {"seq": entry.seq, "hash": entry.hash}}
            )
            return entry
        raise ChainContention(f"no free seq on the chain after {MAX_APPEND_ATTEMPTS} attempts")

    async def _by_source(self, school_id: str, source: str) -> Entry | None:
        doc = await self._entries.find_one({"school_id": school_id, "source": source})
        return from_document(doc) if doc is not None else None

    async def _ensure_head(self, school_id: str) -> Head:
        # Created before use, never by a racing first upsert that must return a value (docs/store.md).
        try:
            await self._heads.update_one({"_id": school_id}, {"$setOnInsert": {"seq": 0, "hash": GENESIS}}, upsert=True)
        except DuplicateKeyError:
            pass  # a concurrent first writer created it
        return await self.head(school_id)

    async def _catch_up(self, school_id: str, seen: Head) -> Head:
        """The last of the stored entries that follow `seen` without a gap (the head document may lag
        the entries: a writer stopped between its two writes); moves the head there too."""
        last = seen
        while True:
            docs = await self._entries.find(
                {"school_id": school_id, "seq": {"$gt": last.seq, "$lte": last.seq + CATCH_UP_WINDOW}},
                {"seq": 1, "hash": 1},
            ).to_list(None)
            start = last.seq
            for d in sorted(docs, key=lambda d: int(d["seq"])):
                if int(d["seq"]) != last.seq + 1:
                    break
                last = Head(int(d["seq"]), d["hash"])
            if last.seq < start + CATCH_UP_WINDOW:
                break
        if last.seq > seen.seq:
            await self._heads.update_one(
                {"_id": school_id, "seq": {"$lt": last.seq}}, {"$set": {"seq": last.seq, "hash": last.hash}}
            )
        self._tails[school_id] = last
        return last

    async def head(self, school_id: str) -> Head:
        doc = await self._heads.find_one({"_id": school_id})
        if doc is None:
            return Head(0, GENESIS)
        return Head(int(doc["seq"]), doc["hash"])

    async def window(self, school_id: str, low: int, high: int, filters: Filters | None = None) -> Sequence[Entry]:
        # Two-sided seq windows: the local store decodes a whole open-ended range (docs/store.md).
        query: dict[str, Any] = {"school_id": school_id, "seq": {"$gte": low, "$lt": high}}
        if filters is not None:
            if filters.actor:
                query["actor"] = filters.actor
            if filters.subject:
                query["subjects"] = filters.subject
            if filters.kind:
                query["kind"] = filters.kind
            span: dict[str, datetime] = {}
            if filters.occurred_after is not None:
                span["$gte"] = filters.occurred_after
            if filters.occurred_before is not None:
                span["$lt"] = filters.occurred_before
            if span:
                query["occurred_at"] = span
        docs = await self._entries.find(query).to_list(None)
        return sorted((from_document(d) for d in docs), key=lambda e: e.seq)


class MongoDirectory:
    """What the recorder knows of people, direct chats and call rooms (projections of the events).

    Reads are cached in this process for a short while (`ttl` seconds): a direct chat's two people do
    not change, and a person's roles and age band change rarely — a classification a few seconds
    stale is still a recorded contact. Only complete facts are cached: a person not known yet is read
    again next time, so their first events make them known at once."""

    def __init__(self, database: AsyncDatabase[Document], *, ttl: float = 30.0, max_entries: int = 50_000):
        self._memberships = database[MEMBERSHIPS]
        self._people = database[PEOPLE]
        self._chats = database[DIRECT_CHATS]
        self._rooms = database[ROOMS]
        self._ttl = ttl
        self._max = max_entries
        self._cache: dict[tuple[str, str, str], tuple[float, Any]] = {}

    def _cached(self, key: tuple[str, str, str]) -> Any:
        hit = self._cache.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def _keep(self, key: tuple[str, str, str], value: Any) -> None:
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + self._ttl, value)

    async def apply_membership(self, membership_id: str, version: int, fields: Mapping[str, Any]) -> None:
        await apply_versioned(self._memberships, membership_id, version, {"$set": dict(fields)})

    async def apply_minor(self, user_id: str, version: int, minor: bool) -> None:
        await apply_versioned(self._people, user_id, version, {"$set": {"minor": minor}})

    async def schools_of(self, user_id: str, *, including_left: bool = False) -> set[str]:
        query: dict[str, Any] = {"user_id": user_id}
        if not including_left:
            query["active"] = True
        docs = await self._memberships.find(query, {"school_id": 1}).to_list(None)
        return {d["school_id"] for d in docs if d.get("school_id")}

    async def person(self, school_id: str, user_id: str) -> Person:
        key = ("person", school_id, user_id)
        cached = self._cached(key)
        if cached is not None:
            return cast(Person, cached)
        seats, profile = await asyncio.gather(
            self._memberships.find(
                {"user_id": user_id, "school_id": school_id, "active": True}, {"school_role": 1}
            ).to_list(None),
            self._people.find_one({"_id": user_id, "version": {"$exists": True}}),
        )
        minor = None if profile is None or profile.get("minor") is None else bool(profile["minor"])
        person = Person(frozenset(s.get("school_role", "") for s in seats) - {""}, minor)
        if person.roles and person.minor is not None:
            self._keep(key, person)
        return person

    async def save_direct_chat(self, chat_id: str, school_id: str, members: Sequence[str]) -> None:
        await self._chats.update_one(
            {"_id": chat_id},
            {"$set": {"school_id": school_id}, "$addToSet": {"members": {"$each": list(members)}}},
            upsert=True,
        )
        self._cache.pop(("chat", chat_id, ""), None)

    async def direct_chat(self, chat_id: str) -> Mapping[str, Any] | None:
        key = ("chat", chat_id, "")
        cached = self._cached(key)
        if cached is not None:
            return cast(Mapping[str, Any], cached)
        doc = await self._chats.find_one({"_id": chat_id})
        if doc is not None:
            self._keep(key, doc)
        return doc

    async def save_room(self, room_id: str, fields: Mapping[str, Any]) -> None:
        await self._rooms.update_one({"_id": room_id}, {"$set": dict(fields)}, upsert=True)

    async def room(self, room_id: str) -> Mapping[str, Any] | None:
        return await self._rooms.find_one({"_id": room_id})
