"""MongoDB repositories of timetables (one document per class, with its outbox) and holidays (one
document per school; its changes are published through the timetables they re-publish)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from parta_common.events.outbox import merge_updates, outbox_fields, outbox_index, outbox_push
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from school.adapters.events import EventMapper
from school.domain.events import DomainEvent
from school.domain.timetables import Cancelled, DateRange, Holidays, Slot, Timetable

Doc = dict[str, Any]

TIMETABLES = "timetables"
HOLIDAYS = "holidays"


def timetable_indexes() -> dict[str, list[IndexModel]]:
    return {
        TIMETABLES: [outbox_index(), IndexModel([("school_id", ASCENDING)], name="school")],
        HOLIDAYS: [],
    }


def _range_doc(r: DateRange) -> Doc:
    return {"first": r.first_day.isoformat(), "last": r.last_day.isoformat(), "title": r.title}


def _range(d: Doc) -> DateRange:
    return DateRange(date.fromisoformat(d["first"]), date.fromisoformat(d["last"]), d.get("title", ""))


def timetable_doc(t: Timetable) -> Doc:
    return {
        "_id": t.class_id,
        "school_id": t.school_id,
        "academic_year": t.academic_year,
        "first_day": t.first_day.isoformat(),
        "last_day": t.last_day.isoformat(),
        "slots": [
            {
                "weekday": s.weekday,
                "start": s.start_minute,
                "duration": s.duration_minutes,
                "subject": s.subject,
                "teacher": s.teacher_user_id,
            }
            for s in t.slots
        ],
        "cancelled": [{"day": c.day.isoformat(), "slot": c.slot_id} for c in t.cancelled],
        "version": t.version,
        "holidays_version": t.holidays_version,
    }


def timetable_from_doc(d: Doc) -> Timetable:
    return Timetable(
        class_id=d["_id"],
        school_id=d["school_id"],
        academic_year=d["academic_year"],
        first_day=date.fromisoformat(d["first_day"]),
        last_day=date.fromisoformat(d["last_day"]),
        slots=tuple(Slot(s["weekday"], s["start"], s["duration"], s["subject"], s["teacher"]) for s in d["slots"]),
        cancelled=tuple(Cancelled(date.fromisoformat(c["day"]), c["slot"]) for c in d.get("cancelled", [])),
        version=d["version"],
        holidays_version=d.get("holidays_version", 0),
    )


class MongoTimetableRepository:
    aggregate = "timetable"

    def __init__(self, database: AsyncDatabase[Doc], mapper: EventMapper, on_events: Any):
        self._c = database[TIMETABLES]
        self._mapper = mapper
        self._notify = on_events

    async def get(self, class_id: str) -> Timetable | None:
        doc = await self._c.find_one({"_id": class_id}, {"_outbox": 0})
        return timetable_from_doc(doc) if doc else None

    async def save(self, timetable: Timetable, expected_version: int, events: Sequence[DomainEvent]) -> bool:
        doc = timetable_doc(timetable)
        records = self._mapper.records(self.aggregate, timetable.class_id, timetable.version, events)
        if expected_version == 0:
            try:
                await self._c.insert_one({**doc, **(outbox_fields(records) if records else {})})
            except DuplicateKeyError:
                return False
        else:
            doc.pop("_id")
            update = merge_updates({"$set": doc}, outbox_push(records))
            result = await self._c.update_one({"_id": timetable.class_id, "version": expected_version}, update)
            if result.matched_count != 1:
                return False
        if records:
            self._notify()
        return True

    async def of_school(self, school_id: str) -> list[Timetable]:
        cursor = self._c.find({"school_id": school_id}, {"_outbox": 0}).sort("_id", ASCENDING)
        return [timetable_from_doc(d) async for d in cursor]


class MongoHolidayRepository:
    def __init__(self, database: AsyncDatabase[Doc]):
        self._c = database[HOLIDAYS]

    async def get(self, school_id: str) -> Holidays | None:
        doc = await self._c.find_one({"_id": school_id})
        if doc is None:
            return None
        return Holidays(school_id, tuple(_range(r) for r in doc.get("ranges", [])), doc["version"])

    async def save(self, holidays: Holidays, expected_version: int) -> bool:
        doc = {"ranges": [_range_doc(r) for r in holidays.ranges], "version": holidays.version}
        if expected_version == 0:
            try:
                await self._c.insert_one({"_id": holidays.school_id, **doc})
            except DuplicateKeyError:
                return False
            return True
        result = await self._c.update_one({"_id": holidays.school_id, "version": expected_version}, {"$set": doc})
        return result.matched_count == 1
