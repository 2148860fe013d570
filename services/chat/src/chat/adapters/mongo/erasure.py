"""What chat's erasure (app/erasure.py) looks for of one person, in MongoDB: their messages, notes
and reports (MongoErasureContent); their announcements, polls and materials, and their id in
others' (MongoErasureWorks)."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from chat.adapters.mongo import (
    ANNOUNCEMENT_FAMILIES,
    ANNOUNCEMENT_REMINDERS,
    ANNOUNCEMENTS,
    FILES,
    MATERIALS,
    MESSAGES,
    POLL_VOTES,
    POLLS,
    REPORTS,
)
from chat.adapters.mongo.announcements import decode_announcement
from chat.adapters.mongo.codecs import NO_OUTBOX, Doc, decode_message
from chat.adapters.mongo.materials import decode_material
from chat.adapters.mongo.polls import decode_poll
from chat.domain.announcements import Announcement, Reminder
from chat.domain.materials import Material
from chat.domain.messages import Message
from chat.domain.polls import Poll


class MongoErasureContent:
    def __init__(self, db: AsyncDatabase[Doc]):
        self._messages = db[MESSAGES]
        self._reports = db[REPORTS]
        self._files = db[FILES]

    async def messages_by(self, user_id: str, limit: int) -> list[Message]:
        query = {"sender": user_id, "system": False, "erased": {"$ne": True}}
        return [decode_message(d) for d in await self._messages.find(query, NO_OUTBOX).limit(limit).to_list()]

    async def notes_naming(self, user_id: str, limit: int) -> list[Message]:
        query = {"note.subject_user_id": user_id, "note.subject_name": {"$ne": ""}}
        return [decode_message(d) for d in await self._messages.find(query, NO_OUTBOX).limit(limit).to_list()]

    async def erase_reports(self, user_id: str) -> int:
        snapshots = await self._reports.update_many(
            {"message.sender": user_id, "message.erased": {"$ne": True}},
            {"$set": {"message.text": "", "message.files": [], "message.reactions": [], "message.erased": True}},
        )
        reasons = await self._reports.update_many(
            {"reporter": user_id, "reason": {"$ne": ""}}, {"$set": {"reason": ""}}
        )
        return snapshots.modified_count + reasons.modified_count

    async def erase_file_names(self, owner: str) -> int:
        named = await self._files.update_many({"owner": owner, "filename": {"$ne": ""}}, {"$set": {"filename": ""}})
        return named.modified_count

    async def notes_of_material(self, material_id: str, limit: int) -> list[Message]:
        query = {"note.material_id": material_id, "note.title": {"$ne": ""}}
        return [decode_message(d) for d in await self._messages.find(query, NO_OUTBOX).limit(limit).to_list()]

    async def reacted_by(self, user_id: str, limit: int) -> list[Message]:
        query = {"reactions.user_ids": user_id}
        return [decode_message(d) for d in await self._messages.find(query, NO_OUTBOX).limit(limit).to_list()]


class MongoErasureWorks:
    """The announcements, polls and materials of one person, and their id in others' (issue 17)."""

    def __init__(self, db: AsyncDatabase[Doc]):
        self._announcements = db[ANNOUNCEMENTS]
        self._families = db[ANNOUNCEMENT_FAMILIES]
        self._reminders = db[ANNOUNCEMENT_REMINDERS]
        self._polls = db[POLLS]
        self._votes = db[POLL_VOTES]
        self._materials = db[MATERIALS]

    async def announcements_by(self, user_id: str, limit: int) -> list[Announcement]:
        docs = await self._announcements.find({"author": user_id, "text": {"$ne": ""}}).limit(limit).to_list()
        return [decode_announcement(d) for d in docs]

    async def save_erased_announcement(self, announcement: Announcement) -> bool:
        done = await self._announcements.update_one(
            {"_id": announcement.announcement_id}, {"$set": {"text": announcement.text}}
        )
        return bool(done.matched_count)

    async def reminders_of(self, announcement_id: str) -> list[Reminder]:
        cursor = self._reminders.find({"ann": announcement_id})
        return [
            Reminder(d["ann"], d["child"], d["day"], d["at"], d.get("by", ""), tuple(d.get("to", ())))
            async for d in cursor
        ]

    async def remove_announcement(self, announcement_id: str) -> bool:
        # The rows first, the header last: a crash in between finds the header again and finishes.
        await self._reminders.delete_many({"ann": announcement_id})
        await self._families.delete_many({"ann": announcement_id})
        return bool((await self._announcements.delete_one({"_id": announcement_id})).deleted_count)

    async def anonymise_families(self, user_id: str, token: str) -> tuple[int, int]:
        # Each query runs on an index (by_confirmer, by_child, by_guardian). The confirmer has its
        # own: a guardian linked to the child after the post confirms without being in the row's
        # guardians.
        confirmed = await self._families.update_many({"by": user_id}, {"$set": {"by": token}})
        as_child = await self._families.update_many({"child": user_id}, {"$set": {"child": token}})
        guardian = await self._families.update_many({"guardians": user_id}, {"$pull": {"guardians": user_id}})
        await self._reminders.update_many({"child": user_id}, {"$set": {"child": token}})
        return as_child.modified_count + guardian.modified_count, confirmed.modified_count

    async def polls_by(self, user_id: str, limit: int) -> list[Poll]:
        docs = await self._polls.find({"author": user_id, "question": {"$ne": ""}}).limit(limit).to_list()
        return [decode_poll(d) for d in docs]

    async def save_erased_poll(self, poll: Poll) -> bool:
        done = await self._polls.update_one(
            {"_id": poll.poll_id},
            {"$set": {"question": poll.question, "options": list(poll.options), "closed_at": poll.closed_at}},
        )
        return bool(done.matched_count)

    async def remove_poll(self, poll_id: str) -> bool:
        await self._votes.delete_many({"poll": poll_id})
        return bool((await self._polls.delete_one({"_id": poll_id})).deleted_count)

    async def anonymise_votes(self, user_id: str) -> int:
        return (await self._votes.update_many({"voter": user_id}, {"$unset": {"voter": ""}})).modified_count

    async def materials_by(self, user_id: str, limit: int) -> list[Material]:
        return [decode_material(d) for d in await self._materials.find({"by": user_id}).limit(limit).to_list()]

    async def remove_material(self, material_id: str) -> bool:
        return bool((await self._materials.delete_one({"_id": material_id})).deleted_count)
