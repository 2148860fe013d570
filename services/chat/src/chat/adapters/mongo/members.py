"""Members and read state in MongoDB: one document per chat and user (`chat|user`), carrying its
MemberAdded/MemberRemoved/ReadUpdated until relayed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from parta_common.events.outbox import merge_updates, outbox_fields, outbox_push
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat.adapters.events import EventRecords
from chat.adapters.mongo import CHATS, MEMBERS, PROFILES
from chat.adapters.mongo.codecs import NO_OUTBOX, Doc, decode_chat, decode_member, decode_profile, grants_doc, member_id
from chat.domain import events as ev
from chat.domain.chats import Chat
from chat.domain.members import Member
from chat.domain.provisioning import Profile


class MongoMemberRepository:
    def __init__(self, db: AsyncDatabase[Doc], records: EventRecords):
        self._members = db[MEMBERS]
        self._records = records

    async def access(self, chat_id: str, user_id: str) -> tuple[Chat | None, Member | None, Profile | None]:
        """The member document with its chat and profile joined in: one command."""
        pipeline: list[Doc] = [
            {"$match": {"_id": member_id(chat_id, user_id)}},
            {"$project": NO_OUTBOX},
            {"$lookup": {"from": CHATS, "localField": "chat_id", "foreignField": "_id", "as": "_chat"}},
            {"$lookup": {"from": PROFILES, "localField": "user_id", "foreignField": "_id", "as": "_profile"}},
        ]
        docs = await (await self._members.aggregate(pipeline)).to_list(1)
        if not docs:
            return None, None, None
        doc = docs[0]
        chats, profiles = doc.pop("_chat", []), doc.pop("_profile", [])
        chat = decode_chat({k: v for k, v in chats[0].items() if k != "_outbox"}) if chats else None
        member = decode_member(doc) if doc.get("active") else None
        return chat, member, decode_profile(profiles[0]) if profiles else None

    async def get(self, chat_id: str, user_id: str) -> Member | None:
        doc = await self._members.find_one({"_id": member_id(chat_id, user_id)}, NO_OUTBOX)
        return decode_member(doc) if doc and doc.get("active") else None

    async def find(self, chat_id: str, user_id: str) -> Member | None:
        doc = await self._members.find_one({"_id": member_id(chat_id, user_id)}, NO_OUTBOX)
        return decode_member(doc) if doc is not None else None

    async def save(self, member: Member, expected_rev: int, events: Sequence[ev.ChatEvent]) -> bool:
        _id = member_id(member.chat_id, member.user_id)
        records = self._records.records(member.chat_id, events)
        fields = {**grants_doc(member), "rev": expected_rev + 1}
        if expected_rev == 0:
            try:
                await self._members.insert_one({"_id": _id, "last_read_seq": 0, **fields} | outbox_fields(records))
                return True
            except DuplicateKeyError:
                return False
        result = await self._members.update_one(
            {"_id": _id, "rev": expected_rev}, merge_updates({"$set": fields}, outbox_push(records))
        )
        return bool(result.matched_count)

    async def of_user(self, user_id: str, school_id: str = "") -> list[Member]:
        filt: Doc = {"user_id": user_id, "active": True}
        if school_id:
            filt["school_id"] = school_id
        return [decode_member(d) async for d in self._members.find(filt, NO_OUTBOX)]

    async def user_ids(self, chat_id: str) -> list[str]:
        docs = self._members.find({"chat_id": chat_id, "active": True}, {"user_id": 1})
        return [d["user_id"] async for d in docs]

    async def count(self, chat_id: str) -> int:
        return await self._members.count_documents({"chat_id": chat_id, "active": True})

    async def set_muted(
        self, chat_id: str, user_id: str, until: datetime | None, events: Sequence[ev.ChatEvent] = ()
    ) -> None:
        await self._members.update_one(
            {"_id": member_id(chat_id, user_id)},
            merge_updates({"$set": {"muted_until": until}}, outbox_push(self._records.records(chat_id, events))),
        )

    async def set_last_sent(self, chat_id: str, user_id: str, at: datetime) -> None:
        await self._members.update_one({"_id": member_id(chat_id, user_id)}, {"$set": {"last_sent_at": at}})

    async def mark_read(self, chat_id: str, user_id: str, seq: int, events: Sequence[ev.ChatEvent]) -> int | None:
        result = await self._members.update_one(
            {"_id": member_id(chat_id, user_id), "last_read_seq": {"$lt": seq}},
            merge_updates({"$set": {"last_read_seq": seq}}, outbox_push(self._records.records(chat_id, events))),
        )
        return seq if result.modified_count else None

    async def last_read(self, chat_id: str, user_id: str) -> int:
        doc = await self._members.find_one({"_id": member_id(chat_id, user_id)}, {"last_read_seq": 1})
        return int((doc or {}).get("last_read_seq", 0))

    async def count_read(self, chat_id: str, seq: int, exclude_user: str) -> tuple[int, int]:
        base = {"chat_id": chat_id, "active": True, "user_id": {"$ne": exclude_user}}
        read = await self._members.count_documents({**base, "last_read_seq": {"$gte": seq}})
        total = await self._members.count_documents(base)
        return read, total
