"""MongoDB adapters of lessons from the timetable: the plans school published (one document per
class, versioned like every projection) and the timetable lessons among the rooms."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from parta_common.mongo import Document, apply_versioned
from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from media_signal.adapters.mongo import CLASSES, ROOMS, room_from_doc
from media_signal.domain.rooms import Room, RoomState
from media_signal.domain.timetables import TimetablePlan, WeekSlot

PLANS = "timetable_plans"


def timetable_indexes() -> dict[str, list[IndexModel]]:
    return {
        PLANS: [IndexModel([("last_day", 1)], name="by_last_day")],
        ROOMS: [IndexModel([("class_id", 1), ("state", 1), ("scheduled_for", 1)], name="class_state_schedule")],
    }


def plan_doc(p: TimetablePlan) -> Document:
    return {
        "school_id": p.school_id,
        "class_title": p.class_title,
        "academic_year": p.academic_year,
        "timezone": p.timezone,
        "first_day": p.first_day.isoformat(),
        "last_day": p.last_day.isoformat(),
        "slots": [
            {
                "slot_id": s.slot_id,
                "weekday": s.weekday,
                "start": s.start_minute,
                "duration": s.duration_minutes,
                "subject": s.subject,
                "teacher": s.teacher_user_id,
            }
            for s in p.slots
        ],
        "holidays": [[a.isoformat(), b.isoformat()] for a, b in p.holidays],
        "cancelled": sorted([d.isoformat(), slot] for d, slot in p.cancelled),
    }


def plan_from_doc(d: Document) -> TimetablePlan:
    return TimetablePlan(
        school_id=d["school_id"],
        class_id=d["_id"],
        class_title=d.get("class_title", ""),
        academic_year=d["academic_year"],
        timezone=d["timezone"],
        first_day=date.fromisoformat(d["first_day"]),
        last_day=date.fromisoformat(d["last_day"]),
        slots=tuple(
            WeekSlot(s["slot_id"], s["weekday"], s["start"], s["duration"], s["subject"], s["teacher"])
            for s in d["slots"]
        ),
        holidays=tuple((date.fromisoformat(a), date.fromisoformat(b)) for a, b in d["holidays"]),
        cancelled=frozenset((date.fromisoformat(day), slot) for day, slot in d["cancelled"]),
        version=d["version"],
    )


class MongoTimetablePlans:
    def __init__(self, database: AsyncDatabase[Document]):
        self._c = database[PLANS]

    async def put(self, plan: TimetablePlan) -> bool:
        return await apply_versioned(self._c, plan.class_id, plan.version, {"$set": plan_doc(plan)})

    async def get(self, class_id: str) -> TimetablePlan | None:
        doc = await self._c.find_one({"_id": class_id})
        return plan_from_doc(doc) if doc else None

    async def running(self, today: date) -> list[TimetablePlan]:
        cursor = self._c.find({"last_day": {"$gte": today.isoformat()}}).sort("_id", 1)
        return [plan_from_doc(d) async for d in cursor]


class MongoTimetableLessons:
    def __init__(self, database: AsyncDatabase[Document]):
        self._rooms = database[ROOMS]
        self._classes = database[CLASSES]

    async def scheduled(self, class_id: str, start: datetime, end: datetime) -> list[Room]:
        query: dict[str, Any] = {
            "class_id": class_id,
            "state": RoomState.SCHEDULED.value,
            "scheduled_for": {"$gte": start, "$lt": end},
            "timetable_slot_id": {"$gt": ""},
        }
        cursor = self._rooms.find(query, {"_outbox": 0, "owner": 0}).sort("scheduled_for", 1)
        return [room_from_doc(d) async for d in cursor]

    async def existing(self, room_ids: Sequence[str]) -> dict[str, Room]:
        if not room_ids:
            return {}
        cursor = self._rooms.find({"_id": {"$in": list(room_ids)}}, {"_outbox": 0, "owner": 0})
        return {d["_id"]: room_from_doc(d) async for d in cursor}

    async def class_archived(self, class_id: str) -> bool:
        doc = await self._classes.find_one({"_id": class_id}, {"archived": 1})
        return bool(doc and doc.get("archived", False))
