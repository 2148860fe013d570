"""Announcements in MongoDB: one document per announcement (its header and the live counter), one
per family asked (_id announcement|child, written when posted; confirming is a conditional write on
it while unconfirmed, so a family confirms once under any concurrency, and it carries the
AnnouncementConfirmed event until relayed) and one per family's reminder per school day
(_id announcement|child|day: the unique key is the limit)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from parta_common.events.outbox import outbox_push
from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from chat.adapters.events import EventRecords
from chat.adapters.mongo import ANNOUNCEMENT_FAMILIES, ANNOUNCEMENT_REMINDERS, ANNOUNCEMENTS, MEMBERSHIPS
from chat.adapters.mongo.codecs import NO_OUTBOX, Doc, decode_membership
from chat.domain import events as ev
from chat.domain.announcements import Announcement, Confirmation, Family, Reminder
from chat.domain.provisioning import ClassRole, Membership

DUPLICATE_KEY = 11000
FAMILY_BATCH = 1000


def decode_announcement(d: Doc) -> Announcement:
    return Announcement(
        announcement_id=d["_id"],
        chat_id=d["chat_id"],
        seq=int(d["seq"]),
        school_id=d["school_id"],
        author_user_id=d["author"],
        text=d.get("text", ""),
        posted_at=d["posted_at"],
        family_count=int(d.get("families", 0)),
        deadline=d.get("deadline"),
        students_confirm=bool(d.get("students_confirm")),
        confirmed_count=int(d.get("confirmed", 0)),
    )


def family_id(announcement_id: str, child_user_id: str) -> str:
    return f"{announcement_id}|{child_user_id}"


def _family(d: Doc) -> tuple[Family, Confirmation | None]:
    family = Family(d["child"], tuple(d.get("guardians", ())), bool(d.get("student")))
    by = d.get("by")
    return family, Confirmation(d["ann"], d["child"], by, d["at"]) if by else None


class MongoAnnouncementRepository:
    def __init__(self, db: AsyncDatabase[Doc], records: EventRecords):
        self._announcements = db[ANNOUNCEMENTS]
        self._families = db[ANNOUNCEMENT_FAMILIES]
        self._reminders = db[ANNOUNCEMENT_REMINDERS]
        self._memberships = db[MEMBERSHIPS]
        self._records = records

    async def class_memberships(self, school_id: str, class_id: str) -> list[Membership]:
        query: Doc = {"school_id": school_id, "active": True}
        if class_id:
            query["class_id"] = class_id
        query["class_role"] = {"$in": [int(ClassRole.STUDENT), int(ClassRole.PARENT)]}
        return [decode_membership(d) async for d in self._memberships.find(query)]

    async def add(self, announcement: Announcement) -> Announcement:
        a = announcement
        # The families first: a retry after a crash between the two writes completes them (the
        # header, once there, is what makes the announcement exist).
        rows = [
            {
                "_id": family_id(a.announcement_id, f.child_user_id),
                "ann": a.announcement_id,
                "child": f.child_user_id,
                "guardians": list(f.guardian_user_ids),
                "student": f.student,
                "by": None,
                "at": None,
            }
            for f in a.families
        ]
        for start in range(0, len(rows), FAMILY_BATCH):
            try:
                await self._families.insert_many(rows[start : start + FAMILY_BATCH], ordered=False)
            except BulkWriteError as exc:
                if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                    raise
        header = {
            "chat_id": a.chat_id,
            "seq": a.seq,
            "school_id": a.school_id,
            "author": a.author_user_id,
            "text": a.text,
            "posted_at": a.posted_at,
            "deadline": a.deadline,
            "students_confirm": a.students_confirm,
            "families": a.family_count,
            "confirmed": 0,
        }
        await self._announcements.update_one({"_id": a.announcement_id}, {"$setOnInsert": header}, upsert=True)
        d = await self._announcements.find_one({"_id": a.announcement_id})
        return decode_announcement(d) if d else a

    async def get_by_seq(self, chat_id: str, seq: int) -> Announcement | None:
        d = await self._announcements.find_one({"chat_id": chat_id, "seq": seq})
        return decode_announcement(d) if d else None

    async def in_chat(self, chat_id: str, limit: int) -> list[Announcement]:
        docs = await self._announcements.find({"chat_id": chat_id}).sort("seq", DESCENDING).limit(limit).to_list()
        return [decode_announcement(d) for d in docs]

    async def families(
        self, announcement_id: str, child_user_ids: Sequence[str] | None = None
    ) -> list[tuple[Family, Confirmation | None]]:
        query: Doc = {"ann": announcement_id}
        if child_user_ids is not None:
            if not child_user_ids:
                return []
            query = {"_id": {"$in": [family_id(announcement_id, c) for c in child_user_ids]}}
        rows = [_family(d) async for d in self._families.find(query, NO_OUTBOX)]
        return sorted(rows, key=lambda row: row[0].child_user_id)

    async def claim(self, confirmation: Confirmation) -> Confirmation | None:
        c = confirmation
        doc_id = family_id(c.announcement_id, c.child_user_id)
        won = await self._families.update_one({"_id": doc_id, "by": None}, {"$set": {"by": c.confirmed_by, "at": c.at}})
        if won.modified_count:
            return None
        d = await self._families.find_one({"_id": doc_id}, NO_OUTBOX)
        earlier = _family(d)[1] if d else None
        return earlier if earlier is not None else c

    async def count_up(self, announcement_id: str) -> int:
        d = await self._announcements.find_one_and_update(
            {"_id": announcement_id},
            {"$inc": {"confirmed": 1}},
            projection={"confirmed": 1},
            return_document=ReturnDocument.AFTER,
        )
        return int(d["confirmed"]) if d else 0

    async def publish(self, confirmation: Confirmation, events: Sequence[ev.ChatEvent]) -> None:
        c = confirmation
        chat_id = next((e.chat_id for e in events if isinstance(e, ev.AnnouncementConfirmed)), "")
        update = outbox_push(self._records.records(chat_id, events))
        if update:
            await self._families.update_one({"_id": family_id(c.announcement_id, c.child_user_id)}, update)

    async def claim_reminder(self, reminder: Reminder) -> bool:
        r = reminder
        try:
            await self._reminders.insert_one(
                {
                    "_id": f"{r.announcement_id}|{r.child_user_id}|{r.day}",
                    "ann": r.announcement_id,
                    "child": r.child_user_id,
                    "day": r.day,
                    "at": r.at,
                    "by": r.by,
                    "to": list(r.to),
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def reminded(self, announcement_id: str) -> dict[str, datetime]:
        out: dict[str, datetime] = {}
        async for d in self._reminders.find({"ann": announcement_id}, {"child": 1, "at": 1}):
            if d["child"] not in out or out[d["child"]] < d["at"]:
                out[d["child"]] = d["at"]
        return out
