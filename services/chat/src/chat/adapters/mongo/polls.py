"""Polls in MongoDB: one document per poll, one per vote (_id poll|key: the key is the voter, or a
one-way hash of it in anonymous polls; inserted once, so concurrent votes count exactly). A vote's
row carries its PollVoted in its outbox until relayed (the event names no voter)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from parta_common.events.outbox import outbox_fields
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat.adapters.events import EventRecords
from chat.adapters.mongo import POLL_VOTES, POLLS
from chat.adapters.mongo.codecs import Doc
from chat.domain import events as ev
from chat.domain.polls import Poll, Vote


def decode_poll(d: Doc) -> Poll:
    return Poll(
        poll_id=d["_id"],
        chat_id=d["chat_id"],
        seq=int(d["seq"]),
        school_id=d["school_id"],
        class_id=d.get("class_id", ""),
        author_user_id=d["author"],
        question=d["question"],
        options=list(d["options"]),
        created_at=d["created_at"],
        multiple=bool(d.get("multiple")),
        anonymous=bool(d.get("anonymous")),
        per_family=bool(d.get("per_family")),
        results_after_close=bool(d.get("after_close")),
        closes_at=d.get("closes_at"),
        closed_at=d.get("closed_at"),
    )


def _vote(d: Doc) -> Vote:
    return Vote(d["poll"], d["key"], tuple(d["choices"]), d["at"], d.get("voter", ""))


class MongoPollRepository:
    def __init__(self, db: AsyncDatabase[Doc], records: EventRecords):
        self._records = records
        self._polls = db[POLLS]
        self._votes = db[POLL_VOTES]

    async def add(self, poll: Poll) -> Poll:
        p = poll
        fields = {
            "chat_id": p.chat_id,
            "seq": p.seq,
            "school_id": p.school_id,
            "class_id": p.class_id,
            "author": p.author_user_id,
            "question": p.question,
            "options": p.options,
            "created_at": p.created_at,
            "multiple": p.multiple,
            "anonymous": p.anonymous,
            "per_family": p.per_family,
            "after_close": p.results_after_close,
            "closes_at": p.closes_at,
            "closed_at": None,
        }
        await self._polls.update_one({"_id": p.poll_id}, {"$setOnInsert": fields}, upsert=True)
        d = await self._polls.find_one({"_id": p.poll_id})
        return decode_poll(d) if d else p

    async def get_by_seq(self, chat_id: str, seq: int) -> Poll | None:
        d = await self._polls.find_one({"chat_id": chat_id, "seq": seq})
        return decode_poll(d) if d else None

    async def cast(self, vote: Vote, events: Sequence[ev.ChatEvent] = ()) -> Vote | None:
        v = vote
        doc: Doc = {
            "_id": f"{v.poll_id}|{v.key}",
            "poll": v.poll_id,
            "key": v.key,
            "choices": list(v.choices),
            "at": v.at,
        }
        if v.voter_user_id:
            doc["voter"] = v.voter_user_id
        poll_events = [e for e in events if isinstance(e, ev.PollVoted)]
        if poll_events:
            doc.update(outbox_fields(self._records.records(poll_events[0].chat_id, events)))
        try:
            await self._votes.insert_one(doc)
        except DuplicateKeyError:
            d = await self._votes.find_one({"_id": doc["_id"]})
            return _vote(d) if d else v
        return None

    async def votes(self, poll_id: str, keys: Sequence[str] | None = None) -> list[Vote]:
        query: Doc = {"poll": poll_id}
        if keys is not None:
            if not keys:
                return []
            query = {"_id": {"$in": [f"{poll_id}|{k}" for k in keys]}}
        return [_vote(d) async for d in self._votes.find(query)]

    async def in_chat(self, chat_id: str, limit: int) -> list[Poll]:
        cursor = self._polls.find({"chat_id": chat_id}).sort("seq", DESCENDING).limit(limit)
        return [decode_poll(d) async for d in cursor]

    async def close(self, poll_id: str, at: datetime) -> None:
        await self._polls.update_one({"_id": poll_id, "closed_at": None}, {"$set": {"closed_at": at}})
