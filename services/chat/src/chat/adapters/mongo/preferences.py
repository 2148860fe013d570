"""Each user's chat preferences in MongoDB, one document per user: whom they block from DMing
them, and whether urgent messages reach them across quiet hours. Every replica reads the store."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from chat.adapters.mongo import PREFERENCES
from chat.adapters.mongo.codecs import Doc


class MongoPreferences:
    def __init__(self, db: AsyncDatabase[Doc]):
        self._prefs = db[PREFERENCES]

    async def block(self, user_id: str, blocked: str) -> None:
        await self._prefs.update_one({"_id": user_id}, {"$addToSet": {"blocked": blocked}}, upsert=True)

    async def unblock(self, user_id: str, blocked: str) -> None:
        await self._prefs.update_one({"_id": user_id}, {"$pull": {"blocked": blocked}})

    async def get(self, user_id: str) -> tuple[list[str], bool]:
        doc = await self._prefs.find_one({"_id": user_id})
        if doc is None:
            return [], True
        return sorted(doc.get("blocked", [])), not doc.get("urgent_off", False)

    async def set_urgent_notifications(self, user_id: str, enabled: bool) -> None:
        await self._prefs.update_one({"_id": user_id}, {"$set": {"urgent_off": not enabled}}, upsert=True)
