"""The rooms collection read for listings (app/listing.py) and attendance (app/attendance.py); writes
stay in adapters/mongo.py."""

from __future__ import annotations

from typing import Any

from parta_common.mongo import Document
from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from media_signal.adapters.mongo import ROOMS, room_from_doc
from media_signal.app.listing import RoomQuery
from media_signal.domain.attendance import AttendanceQuery
from media_signal.domain.rooms import Room, RoomKind

# Unscheduled rooms (ad-hoc calls) sort first: a null scheduled_for sorts before any date.
LISTING_ORDER = [("scheduled_for", 1), ("created_at", 1), ("_id", 1)]


def catalog_indexes() -> list[IndexModel]:
    return [
        IndexModel(
            [("school_id", 1), ("state", 1), *LISTING_ORDER[:2]],
            name="school_state_schedule",
        )
    ]


class MongoRoomCatalog:
    def __init__(self, database: AsyncDatabase[Document]):
        self._rooms = database[ROOMS]

    async def scan(self, query: RoomQuery, *, offset: int, limit: int) -> list[Room]:
        where: dict[str, Any] = {"school_id": query.school_id, "state": {"$in": [s.value for s in query.states]}}
        if query.class_id:
            where["class_id"] = query.class_id
        if query.kinds:
            where["kind"] = {"$in": [k.value for k in query.kinds]}
        cursor = self._rooms.find(where, {"_outbox": 0, "owner": 0}).sort(LISTING_ORDER).skip(offset).limit(limit)
        return [room_from_doc(doc) for doc in await cursor.to_list()]


# Attendance (app/attendance.py): a school's lessons by start time, of a class or attended by a student.
LESSON_ORDER = [("started_at", 1), ("_id", 1)]


def lesson_indexes() -> list[IndexModel]:
    return [
        IndexModel([("school_id", 1), ("kind", 1), ("class_id", 1), *LESSON_ORDER], name="school_class_lessons"),
        IndexModel([("school_id", 1), ("kind", 1), ("attendance.user_id", 1), *LESSON_ORDER], name="school_attendee"),
    ]


class MongoLessonCatalog:
    def __init__(self, database: AsyncDatabase[Document]):
        self._rooms = database[ROOMS]

    async def lessons(self, query: AttendanceQuery, *, offset: int, limit: int) -> list[Room]:
        where: dict[str, Any] = {
            "school_id": query.school_id,
            "kind": RoomKind.LESSON.value,
            "started_at": {"$gte": query.since, "$lt": query.until},
        }
        if query.class_id:
            where["class_id"] = query.class_id
        if query.student_id:
            where["attendance.user_id"] = query.student_id
        cursor = self._rooms.find(where, {"_outbox": 0, "owner": 0}).sort(LESSON_ORDER).skip(offset).limit(limit)
        return [room_from_doc(doc) for doc in await cursor.to_list()]
