"""Chats in MongoDB: one document per chat, carrying its ChatCreated/ChatUpdated until relayed."""

from __future__ import annotations

from collections.abc import Sequence

from parta_common.events.outbox import merge_updates, outbox_fields, outbox_push
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat.adapters.events import EventRecords
from chat.adapters.mongo import CHATS
from chat.adapters.mongo.codecs import NO_OUTBOX, Doc, chat_doc, chat_settings, decode_chat
from chat.adapters.mongo.sequences import Sequences
from chat.domain import events as ev
from chat.domain.chats import Chat, ChatKind


class MongoChatRepository:
    def __init__(self, db: AsyncDatabase[Doc], records: EventRecords, sequences: Sequences):
        self._chats = db[CHATS]
        self._records = records
        self._sequences = sequences

    async def get(self, chat_id: str) -> Chat | None:
        doc = await self._chats.find_one({"_id": chat_id}, NO_OUTBOX)
        return decode_chat(doc) if doc else None

    async def get_many(self, chat_ids: Sequence[str]) -> list[Chat]:
        if not chat_ids:
            return []
        return [decode_chat(d) async for d in self._chats.find({"_id": {"$in": list(chat_ids)}}, NO_OUTBOX)]

    async def group_ids(self, school_id: str) -> list[str]:
        docs = self._chats.find({"school_id": school_id, "kind": int(ChatKind.GROUP)}, {"_id": 1})
        return [d["_id"] async for d in docs]

    async def add(self, chat: Chat, events: Sequence[ev.ChatEvent]) -> bool:
        await self._sequences.ensure(chat.chat_id)
        try:
            await self._chats.insert_one(chat_doc(chat) | outbox_fields(self._records.records(chat.chat_id, events)))
            return True
        except DuplicateKeyError:
            return False

    async def save(self, chat: Chat, expected_update_seq: int, events: Sequence[ev.ChatEvent]) -> bool:
        update = merge_updates({"$set": chat_settings(chat)}, outbox_push(self._records.records(chat.chat_id, events)))
        result = await self._chats.update_one({"_id": chat.chat_id, "useq": expected_update_seq}, update)
        return bool(result.matched_count)

    async def set_member_count(self, chat_id: str, count: int) -> None:
        await self._chats.update_one({"_id": chat_id}, {"$set": {"member_count": count}})
