"""media-signal's erasure in MongoDB (app/erasure.py's RoomErasure)."""

from __future__ import annotations

from typing import Any

from parta_common.errors import ConcurrentChange
from pymongo.asynchronous.database import AsyncDatabase

from media_signal.adapters.mongo import ROOMS

Document = dict[str, Any]


class MongoRoomErasure:
    def __init__(self, database: AsyncDatabase[Document]):
        self._rooms = database[ROOMS]

    async def anonymise(self, user_id: str, token: str) -> tuple[int, int]:
        entries = rooms = 0
        query = {
            "$or": [{"attendance.user_id": user_id}, {"invited_user_ids": user_id}, {"presenter_user_ids": user_id}]
        }
        for _ in range(10_000):  # bounded: each pass changes at least one room or ends
            docs = await self._rooms.find(query, {"_outbox": 0}).limit(100).to_list()
            if not docs:
                return entries, rooms
            for doc in docs:
                attendance = doc.get("attendance", [])
                changed = [a for a in attendance if a.get("user_id") == user_id]
                for a in changed:
                    a["user_id"] = token
                fields = {
                    "attendance": attendance,
                    "invited_user_ids": [u for u in doc.get("invited_user_ids", []) if u != user_id],
                    "presenter_user_ids": [u for u in doc.get("presenter_user_ids", []) if u != user_id],
                }
                # The version moves on, so a writer that read the room before this one retries on
                # the anonymised room rather than writing the id back (no event: nothing to tell).
                result = await self._rooms.update_one(
                    {"_id": doc["_id"], "version": doc["version"]}, {"$set": fields, "$inc": {"version": 1}}
                )
                if result.matched_count:
                    entries += len(changed)
                    rooms += 1
        raise ConcurrentChange("rooms kept changing during the erasure; it resumes on redelivery")
