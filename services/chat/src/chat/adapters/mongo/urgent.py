"""The urgent allowance in MongoDB: one document per sender, school and school-local day, counting
the message ids that crossed quiet hours. A conditional upsert keeps the count exact across
replicas: the filter matches only below the limit and when the id is new; otherwise the insert of
an existing _id fails and the document says which it was."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat.adapters.mongo import URGENT_USES
from chat.adapters.mongo.codecs import Doc


class MongoUrgentAllowance:
    def __init__(self, db: AsyncDatabase[Doc]):
        self._uses = db[URGENT_USES]

    async def use(self, sender: str, school_id: str, day: str, message_id: str, per_day: int) -> bool:
        key = f"{sender}|{school_id}|{day}"
        try:
            await self._uses.update_one(
                {"_id": key, "n": {"$lt": per_day}, "ids": {"$ne": message_id}},
                {"$inc": {"n": 1}, "$push": {"ids": message_id}},
                upsert=True,
            )
            return True
        except DuplicateKeyError:
            doc = await self._uses.find_one({"_id": key})
            return doc is not None and message_id in doc.get("ids", [])
