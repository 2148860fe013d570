"""Announcements in MongoDB: one document per announcement (its families fixed when posted, and the
live counter), one per family's confirmation (_id announcement|child: the unique key that makes a
family confirm once under any concurrency; it carries the AnnouncementConfirmed event until
relayed) and one per family's reminder per school day (_id announcement|child|day)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from parta_common.events.outbox import outbox_push
from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat.adapters.events import EventRecords
from chat.adapters.mongo import ANNOUNCEMENT_CONFIRMATIONS, ANNOUNCEMENT_REMINDERS, ANNOUNCEMENTS, MEMBERSHIPS
from chat.adapters.mongo.codecs import NO_OUTBOX, Doc, decode_membership
from chat.domain import events as ev
from chat.domain.announcements import Announcement, Confirmation, Family, Reminder
from chat.domain.provisioning import ClassRole, Membership


def _doc(a: Announcement) -> Doc:
    return {
        "_id": a.announcement_id,
        "chat_id": a.chat_id,
        "seq": a.seq,
        "school_id": a.school_id,
        "author": a.author_user_id,
        "text": a.text,
        "posted_at": a.posted_at,
        "deadline": a.deadline,
        "students_confirm": a.students_confirm,
        "families": [
            {"child": f.child_user_id, "guardians": list(f.guardian_user_ids), "student": f.student} for f in a.families
        ],
        "confirmed": a.confirmed_count,
    }


def _decode(d: Doc) -> Announcement:
    return Announcement(
        announcement_id=d["_id"],
        chat_id=d["chat_id"],
        seq=int(d["seq"]),
        school_id=d["school_id"],
        author_user_id=d["author"],
        text=d.get("text", ""),
        posted_at=d["posted_at"],
        families=[Family(f["child"], tuple(f.get("guardians", ())), bool(f.get("student"))) for f in d["families"]],
        deadline=d.get("deadline"),
        students_confirm=bool(d.get("students_confirm")),
        confirmed_count=int(d.get("confirmed", 0)),
    )


def _confirmation(d: Doc) -> Confirmation:
    return Confirmation(d["ann"], d["child"], d["by"], d["at"])


def confirmation_id(announcement_id: str, child_user_id: str) -> str:
    return f"{announcement_id}|{child_user_id}"


class MongoAnnouncementRepository:
    def __init__(self, db: AsyncDatabase[Doc], records: EventRecords):
        self._announcements = db[ANNOUNCEMENTS]
        self._confirmations = db[ANNOUNCEMENT_CONFIRMATIONS]
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
        doc = _doc(announcement)
        doc_id = doc.pop("_id")
        await self._announcements.update_one({"_id": doc_id}, {"$setOnInsert": doc}, upsert=True)
        stored = await self.get(doc_id)
        return stored if stored is not None else announcement

    async def get(self, announcement_id: str) -> Announcement | None:
        d = await self._announcements.find_one({"_id": announcement_id})
        return _decode(d) if d else None

    async def get_by_seq(self, chat_id: str, seq: int) -> Announcement | None:
        d = await self._announcements.find_one({"chat_id": chat_id, "seq": seq})
        return _decode(d) if d else None

    async def in_chat(self, chat_id: str, limit: int) -> list[Announcement]:
        docs = await self._announcements.find({"chat_id": chat_id}).sort("seq", DESCENDING).limit(limit).to_list()
        return [_decode(d) for d in docs]

    async def claim(self, confirmation: Confirmation) -> Confirmation | None:
        c = confirmation
        doc_id = confirmation_id(c.announcement_id, c.child_user_id)
        try:
            await self._confirmations.insert_one(
                {"_id": doc_id, "ann": c.announcement_id, "child": c.child_user_id, "by": c.confirmed_by, "at": c.at}
            )
        except DuplicateKeyError:
            d = await self._confirmations.find_one({"_id": doc_id}, NO_OUTBOX)
            return _confirmation(d) if d else c
        return None

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
            await self._confirmations.update_one({"_id": confirmation_id(c.announcement_id, c.child_user_id)}, update)

    async def confirmations(
        self, announcement_id: str, child_user_ids: Sequence[str] | None = None
    ) -> list[Confirmation]:
        query: Doc = {"ann": announcement_id}
        if child_user_ids is not None:
            if not child_user_ids:
                return []
            query = {"_id": {"$in": [confirmation_id(announcement_id, c) for c in child_user_ids]}}
        return [_confirmation(d) async for d in self._confirmations.find(query, NO_OUTBOX)]

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
