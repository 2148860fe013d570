"""The audit store: per-school chains of entries and the small projections the recorder reads.

Appending without multi-document transactions (docs/audit.md, "Concurrency"):
- an entry's `_id` is "<school>/<seq>", so inserting it *claims* the seq: of two writers that read
  the same head only one insert succeeds, and the chain never forks;
- a unique index on (school_id, source) makes an event's entry unique per school: a redelivered or
  raced event finds its entry (or loses the insert) instead of appending a second one;
- `heads` holds each school's last seq and hash, advanced with a conditional update from the seq the
  writer read. It is only a shortcut to the tail: a writer that stops between the entry insert and the
  head update leaves it one behind, and the next writer's insert on the taken seq makes it walk the
  head forward over the stored entries first. Entries are never updated or deleted by the service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from parta_common.mongo import Document
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

    async def append(self, record: Record, recorded_at: datetime) -> Entry:
        school_id = record.school_id
        found = await self._by_source(school_id, record.source)
        if found is not None:
            return found
        await self._ensure_head(school_id)
        for _attempt in range(MAX_APPEND_ATTEMPTS):
            head = await self.head(school_id)
            entry = chain_entry(record, seq=head.seq + 1, prev_hash=head.hash, recorded_at=recorded_at)
            try:
                await self._entries.insert_one(to_document(entry))
            except DuplicateKeyError:
                found = await self._by_source(school_id, record.source)
                if found is not None:
                    return found  # another writer recorded this event
                await self._catch_up(school_id, head)  # another writer took the seq
                continue
            await self._heads.update_one(
                {"_id": school_id, "seq": head.seq}, {"$set": {"seq": entry.seq, "hash": entry.hash}}
            )
            return entry
        raise ChainContention(f"no free seq on the chain after {MAX_APPEND_ATTEMPTS} attempts")

    async def _by_source(self, school_id: str, source: str) -> Entry | None:
        doc = await self._entries.find_one({"school_id": school_id, "source": source})
        return from_document(doc) if doc is not None else None

    async def _ensure_head(self, school_id: str) -> None:
        # Created before use, never by a racing first upsert that must return a value (docs/store.md).
        try:
            await self._heads.update_one({"_id": school_id}, {"$setOnInsert": {"seq": 0, "hash": GENESIS}}, upsert=True)
        except DuplicateKeyError:
            pass  # a concurrent first writer created it

    async def _catch_up(self, school_id: str, seen: Head) -> None:
        """Moves the head from `seen` to the last of the stored entries that follow it without a gap."""
        docs = await self._entries.find(
            {"school_id": school_id, "seq": {"$gt": seen.seq, "$lte": seen.seq + CATCH_UP_WINDOW}},
            {"seq": 1, "hash": 1},
        ).to_list(None)
        last = seen
        for d in sorted(docs, key=lambda d: int(d["seq"])):
            if int(d["seq"]) != last.seq + 1:
                break
            last = Head(int(d["seq"]), d["hash"])
        if last.seq > seen.seq:
            await self._heads.update_one(
                {"_id": school_id, "seq": seen.seq}, {"$set": {"seq": last.seq, "hash": last.hash}}
            )

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
    """What the recorder knows of people, direct chats and call rooms (projections of the events)."""

    def __init__(self, database: AsyncDatabase[Document]):
        self._memberships = database[MEMBERSHIPS]
        self._people = database[PEOPLE]
        self._chats = database[DIRECT_CHATS]
        self._rooms = database[ROOMS]
        self.memberships = self._memberships
        self.people = self._people

    async def schools_of(self, user_id: str, *, including_left: bool = False) -> set[str]:
        query: dict[str, Any] = {"user_id": user_id}
        if not including_left:
            query["active"] = True
        docs = await self._memberships.find(query, {"school_id": 1}).to_list(None)
        return {d["school_id"] for d in docs if d.get("school_id")}

    async def person(self, school_id: str, user_id: str) -> Person:
        seats = await self._memberships.find(
            {"user_id": user_id, "school_id": school_id, "active": True}, {"school_role": 1}
        ).to_list(None)
        profile = await self._people.find_one({"_id": user_id, "version": {"$exists": True}})
        minor = None if profile is None or profile.get("minor") is None else bool(profile["minor"])
        return Person(frozenset(s.get("school_role", "") for s in seats) - {""}, minor)

    async def save_direct_chat(self, chat_id: str, school_id: str, members: Sequence[str]) -> None:
        await self._chats.update_one(
            {"_id": chat_id},
            {"$set": {"school_id": school_id}, "$addToSet": {"members": {"$each": list(members)}}},
            upsert=True,
        )

    async def direct_chat(self, chat_id: str) -> Mapping[str, Any] | None:
        return await self._chats.find_one({"_id": chat_id})

    async def save_room(self, room_id: str, fields: Mapping[str, Any]) -> None:
        await self._rooms.update_one({"_id": room_id}, {"$set": dict(fields)}, upsert=True)

    async def room(self, room_id: str) -> Mapping[str, Any] | None:
        return await self._rooms.find_one({"_id": room_id})
