"""The lessons a person attended, for their data export (app/exports.py's AttendedLessons)."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from media_signal.adapters.mongo import ROOMS, room_from_doc
from media_signal.domain.rooms import Room, RoomKind


def export_indexes() -> dict[str, list[IndexModel]]:
    return {ROOMS: [IndexModel([("attendance.user_id", 1), ("started_at", DESCENDING)], name="attendee_any_school")]}


class MongoAttendedLessons:
    def __init__(self, database: AsyncDatabase[dict[str, Any]]):
        self._rooms = database[ROOMS]

    async def attended_by(self, user_id: str, limit: int) -> list[Room]:
        where = {"attendance.user_id": user_id, "kind": RoomKind.LESSON.value}
        cursor = self._rooms.find(where, {"_outbox": 0, "owner": 0}).sort("started_at", DESCENDING).limit(limit)
        return [room_from_doc(doc) for doc in await cursor.to_list()]
