"""What chat's erasure (app/erasure.py) looks for of one person, in MongoDB."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from chat.adapters.mongo import FILES, MESSAGES, REPORTS
from chat.adapters.mongo.codecs import NO_OUTBOX, Doc, decode_message
from chat.domain.messages import Message


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
