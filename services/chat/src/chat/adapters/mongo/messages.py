"""Messages in MongoDB: one document per message, carrying its MessagePosted/Edited/… until relayed;
the chat's sequence numbers come from Sequences."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from parta_common.events.outbox import merge_updates, outbox_fields, outbox_push
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat.adapters.events import EventRecords
from chat.adapters.mongo import MESSAGES
from chat.adapters.mongo.codecs import NO_OUTBOX, Doc, decode_message, message_doc
from chat.adapters.mongo.sequences import Sequences
from chat.app.ports import DuplicateMessage
from chat.domain import events as ev
from chat.domain.messages import Message


class MongoMessageRepository:
    def __init__(self, db: AsyncDatabase[Doc], records: EventRecords, sequences: Sequences):
        self._messages = db[MESSAGES]
        self._records = records
        self._sequences = sequences

    async def next_seq(self, chat_id: str) -> int:
        return await self._sequences.next(chat_id)

    async def burn_seq(self, chat_id: str, seq: int) -> None:
        await self._sequences.burn(chat_id, seq)

    async def last_seq(self, chat_id: str) -> int:
        return await self._sequences.last(chat_id)

    async def burned_in_range(self, chat_id: str, low: int, high: int) -> list[int]:
        return await self._sequences.burned_in_range(chat_id, low, high)

    async def add(self, message: Message, events: Sequence[ev.ChatEvent]) -> None:
        doc = message_doc(message) | outbox_fields(self._records.records(message.chat_id, events))
        try:
            await self._messages.insert_one(doc)
        except DuplicateKeyError as exc:
            raise DuplicateMessage(message.message_id) from exc

    async def get(self, message_id: str) -> Message | None:
        doc = await self._messages.find_one({"_id": message_id}, NO_OUTBOX)
        return decode_message(doc) if doc else None

    async def get_by_seq(self, chat_id: str, seq: int) -> Message | None:
        doc = await self._messages.find_one({"chat_id": chat_id, "seq": seq}, NO_OUTBOX)
        return decode_message(doc) if doc else None

    async def save(self, message: Message, expected_update_seq: int, events: Sequence[ev.ChatEvent]) -> bool:
        doc = message_doc(message)
        doc.pop("_id")
        unset = {} if message.held_for else {"$unset": {"held": ""}}
        update = merge_updates({"$set": doc}, unset, outbox_push(self._records.records(message.chat_id, events)))
        result = await self._messages.update_one({"_id": message.message_id, "useq": expected_update_seq}, update)
        return bool(result.matched_count)

    # History pages query bounded windows of sequence numbers rather than "sort + limit" over an open
    # range: real MongoDB answers both from the index, but the local store materialises every match
    # of an open range before limiting (docs/store.md). Sequence numbers are dense, so a window of
    # `limit` usually suffices; gaps (burned numbers, edits that moved a message's update_seq)
    # widen it.

    async def before(self, chat_id: str, before_seq: int, limit: int) -> list[Message]:
        upper = before_seq or await self.last_seq(chat_id) + 1
        window = limit
        while True:
            lower = max(1, upper - window)
            docs = await self._messages.find(
                {"chat_id": chat_id, "seq": {"$gte": lower, "$lt": upper}}, NO_OUTBOX
            ).to_list()
            if len(docs) >= limit or lower <= 1:
                docs.sort(key=lambda d: d["seq"])
                return [decode_message(d) for d in docs[-limit:]]
            window *= 4

    async def after(self, chat_id: str, after_update_seq: int, limit: int) -> list[Message]:
        last = await self.last_seq(chat_id)
        window = limit
        while True:
            upper = after_update_seq + window
            docs = await self._messages.find(
                {"chat_id": chat_id, "useq": {"$gt": after_update_seq, "$lte": upper}}, NO_OUTBOX
            ).to_list()
            if len(docs) >= limit or upper >= last:
                docs.sort(key=lambda d: d["useq"])
                return [decode_message(d) for d in docs[:limit]]
            window *= 4

    async def in_update_range(self, chat_id: str, low: int, high: int) -> list[Message]:
        docs = (
            await self._messages.find({"chat_id": chat_id, "useq": {"$gt": low, "$lt": high}}, NO_OUTBOX)
            .sort("useq", ASCENDING)
            .to_list()
        )
        return [decode_message(d) for d in docs]

    async def due_held(self, now: datetime, limit: int) -> list[Message]:
        docs = await self._messages.find({"held": True, "held_until": {"$lte": now}}, NO_OUTBOX).limit(limit).to_list()
        return [decode_message(d) for d in docs]

    async def held_in_school(self, school_id: str, limit: int) -> list[Message]:
        docs = await self._messages.find({"held": True, "school_id": school_id}, NO_OUTBOX).limit(limit).to_list()
        return sorted((decode_message(d) for d in docs), key=lambda m: m.sent_at)

    async def count_unread(self, chat_id: str, user_id: str, after_seq: int, cap: int) -> int:
        return await self._messages.count_documents(
            # A message quiet hours still hold from me is not unread yet (nothing to read at 23:00).
            {
                "chat_id": chat_id,
                "seq": {"$gt": after_seq},
                "sender": {"$ne": user_id},
                "deleted": False,
                "held_for": {"$ne": user_id},
            },
            limit=cap,
        )
