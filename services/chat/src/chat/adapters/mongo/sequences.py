"""Each chat's update_seq counter and the numbers burned by failed writes."""

from __future__ import annotations

from parta_common.errors import ConcurrentChange
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat.adapters.mongo import BURNED, COUNTERS
from chat.adapters.mongo.codecs import Doc


class Sequences:
    def __init__(self, db: AsyncDatabase[Doc]):
        self._counters = db[COUNTERS]
        self._burned = db[BURNED]

    async def ensure(self, chat_id: str) -> None:
        # Created with the chat: concurrent *first* upserts of a counter are unreliable on the local
        # store (docs/store.md), so the hot path only ever $inc's an existing document.
        await self._counters.update_one({"_id": chat_id}, {"$setOnInsert": {"seq": 0}}, upsert=True)

    async def next(self, chat_id: str) -> int:
        for _attempt in range(5):
            doc = await self._counters.find_one_and_update(
                {"_id": chat_id}, {"$inc": {"seq": 1}}, return_document=ReturnDocument.AFTER
            )
            if doc is not None:
                return int(doc["seq"])
            try:
                await self.ensure(chat_id)  # a chat whose first event came before it (lesson message)
            except DuplicateKeyError:
                pass
        raise ConcurrentChange("the chat's sequence is busy; retry")

    async def last(self, chat_id: str) -> int:
        doc = await self._counters.find_one({"_id": chat_id})
        return int(doc["seq"]) if doc else 0

    async def burn(self, chat_id: str, seq: int) -> None:
        await self._burned.update_one(
            {"_id": f"{chat_id}|{seq}"}, {"$set": {"chat_id": chat_id, "useq": seq}}, upsert=True
        )

    async def burned_in_range(self, chat_id: str, low: int, high: int) -> list[int]:
        docs = self._burned.find({"chat_id": chat_id, "useq": {"$gt": low, "$lt": high}}, {"useq": 1})
        return [int(d["useq"]) async for d in docs]
