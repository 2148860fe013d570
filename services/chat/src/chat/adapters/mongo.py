"""MongoDB storage of chats, members, messages, projections and reports; outbox events ride along.

Every state change and its events are one update of one document (no multi-document
transactions): a message carries its MessagePosted, a member document its MemberAdded, a chat
document its ChatUpdated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Literal

from parta_common.errors import Aborted
from parta_common.events.envelope import make_envelope, outbox_record
from parta_common.events.outbox import merge_updates, outbox_fields, outbox_index, outbox_push
from parta_common.grpc.context import correlation_id
from parta_common.safety import PolicyRow, SchoolPolicy
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat.adapters.pb import event_payload
from chat.app.ports import DuplicateMessage
from chat.domain import events as ev
from chat.domain.model import (
    MODERATOR_GRANTS,
    Chat,
    ChatKind,
    ClassRole,
    Grant,
    Member,
    Membership,
    Message,
    PostingPolicy,
    Profile,
    Reaction,
    SchoolInfo,
    SchoolRole,
    StoredFile,
)

Doc = dict[str, Any]

CHATS = "chats"
MEMBERS = "members"
MESSAGES = "messages"
COUNTERS = "counters"
MEMBERSHIPS = "memberships"
SCHOOLS = "schools"
PROFILES = "profiles"
FILES = "files"
REPORTS = "reports"
BURNED = "burned_seqs"
OUTBOX_COLLECTIONS = (CHATS, MEMBERS, MESSAGES)
CHAT_TOPIC = "chat.message.v1"
PRODUCER = "chat"


def index_specs() -> dict[str, list[IndexModel]]:
    return {
        CHATS: [outbox_index(), IndexModel([("school_id", ASCENDING), ("kind", ASCENDING)], name="by_school_kind")],
        MEMBERS: [
            IndexModel([("user_id", ASCENDING), ("active", ASCENDING)], name="by_user"),
            IndexModel([("chat_id", ASCENDING), ("active", ASCENDING), ("last_read_seq", ASCENDING)], name="by_chat"),
            outbox_index(),
        ],
        MESSAGES: [
            IndexModel([("chat_id", ASCENDING), ("seq", ASCENDING)], name="by_seq", unique=True),
            IndexModel([("chat_id", ASCENDING), ("useq", ASCENDING)], name="by_update_seq"),
            IndexModel([("held", ASCENDING), ("held_until", ASCENDING)], name="held", sparse=True),
            outbox_index(),
        ],
        MEMBERSHIPS: [IndexModel([("school_id", ASCENDING), ("user_id", ASCENDING)], name="by_person")],
        # PolicySync reads the schools whose projection changed since its last pass.
        SCHOOLS: [IndexModel([("policy_at", ASCENDING)], name="by_policy_at")],
        BURNED: [IndexModel([("chat_id", ASCENDING), ("useq", ASCENDING)], name="by_chat")],
        FILES: [IndexModel([("owner", ASCENDING), ("uploaded_at", DESCENDING)], name="by_owner")],
        # GridFS's own indexes (bucket "blobs"), created up front since chunks are written directly.
        "blobs.chunks": [IndexModel([("files_id", ASCENDING), ("n", ASCENDING)], name="files_id_1_n_1", unique=True)],
        "blobs.files": [
            IndexModel([("filename", ASCENDING), ("uploadDate", ASCENDING)], name="filename_1_uploadDate_1")
        ],
    }


class EventRecords:
    """Domain events → outbox records on the chat topic (key: chat id, so a chat's events keep order)."""

    def __init__(self, topic: Callable[[str], str], now: Callable[[], datetime]):
        self._topic = topic(CHAT_TOPIC)
        self._now = now

    def records(self, chat_id: str, *events: ev.ChatEvent) -> list[Any]:
        out = []
        for event in events:
            aggregate_type, aggregate_id, version, payload = event_payload(event)
            envelope = make_envelope(
                payload,  # type: ignore[arg-type]
                aggregate_type=aggregate_type,
                aggregate_id=aggregate_id,
                aggregate_version=version,
                producer=PRODUCER,
                occurred_at=self._now(),
                correlation_id=correlation_id(),
            )
            record = outbox_record(self._topic, envelope)
            out.append(type(record)(record.event_id, record.topic, chat_id, record.envelope))
        return out


# ---- documents ----------------------------------------------------------------------------------


def chat_doc(chat: Chat) -> Doc:
    return {
        "_id": chat.chat_id,
        "school_id": chat.school_id,
        "kind": int(chat.kind),
        "title": chat.title,
        "class_id": chat.class_id,
        "subject": chat.subject,
        "posting_policy": int(chat.posting_policy),
        "slow_mode_seconds": chat.slow_mode_seconds,
        "read_only": chat.read_only,
        "pinned_seqs": chat.pinned_seqs,
        "member_count": chat.member_count,
        "useq": chat.update_seq,
        "created_by": chat.created_by,
        "version": chat.version,
        "contact_conflicts": list(chat.contact_conflicts),
    }


def decode_chat(d: Doc) -> Chat:
    return Chat(
        chat_id=d["_id"],
        school_id=d["school_id"],
        kind=ChatKind(d["kind"]),
        title=d.get("title", ""),
        class_id=d.get("class_id", ""),
        subject=d.get("subject", ""),
        posting_policy=PostingPolicy(d.get("posting_policy", 1)),
        slow_mode_seconds=d.get("slow_mode_seconds", 0),
        read_only=d.get("read_only", False),
        pinned_seqs=list(d.get("pinned_seqs", [])),
        member_count=d.get("member_count", 0),
        update_seq=d.get("useq", 0),
        created_by=d.get("created_by", ""),
        version=d.get("version", 0),
        contact_conflicts=tuple(d.get("contact_conflicts", ())),
    )


def decode_member(d: Doc) -> Member:
    return Member(
        chat_id=d["chat_id"],
        user_id=d["user_id"],
        grants={Grant(g["g"]) for g in d.get("grants", [])},
        last_read_seq=d.get("last_read_seq", 0),
        muted_until=d.get("muted_until"),
        last_sent_at=d.get("last_sent_at"),
    )


def message_doc(m: Message) -> Doc:
    doc: Doc = {
        "_id": m.message_id,
        "chat_id": m.chat_id,
        "seq": m.seq,
        "useq": m.update_seq,
        "school_id": m.school_id,
        "sender": m.sender_user_id,
        "text": m.text,
        "sent_at": m.sent_at,
        "cmid": m.client_message_id,
        "reply_to": m.reply_to_seq,
        "files": m.file_ids,
        "edited_at": m.edited_at,
        "deleted": m.deleted,
        "system": m.system,
        "urgent": m.urgent,
        "held_until": m.held_until,
        "held_for": m.held_for,
        "reactions": [asdict(r) for r in m.reactions],
    }
    if m.held_for:
        doc["held"] = True  # sparse index of messages the release worker still has to deliver
    return doc


def decode_message(d: Doc) -> Message:
    return Message(
        chat_id=d["chat_id"],
        message_id=d["_id"],
        seq=d["seq"],
        update_seq=d["useq"],
        school_id=d.get("school_id", ""),
        sender_user_id=d.get("sender", ""),
        text=d.get("text", ""),
        sent_at=d["sent_at"],
        client_message_id=d.get("cmid", ""),
        reply_to_seq=d.get("reply_to", 0),
        file_ids=list(d.get("files", [])),
        edited_at=d.get("edited_at"),
        deleted=d.get("deleted", False),
        system=d.get("system", False),
        urgent=d.get("urgent", False),
        held_until=d.get("held_until"),
        held_for=list(d.get("held_for", [])),
        reactions=[Reaction(r["emoji"], list(r["user_ids"])) for r in d.get("reactions", [])],
    )


def decode_membership(d: Doc) -> Membership:
    return Membership(
        membership_id=d["_id"],
        school_id=d["school_id"],
        user_id=d["user_id"],
        school_role=SchoolRole(d["school_role"]),
        class_id=d.get("class_id", ""),
        class_role=ClassRole(d.get("class_role", 0)),
        child_user_id=d.get("child_user_id", ""),
        active=d.get("active", True),
        # Rows projected before the field existed read as unverified: the safe side.
        verified=d.get("verified", False),
    )


def decode_profile(d: Doc) -> Profile:
    return Profile(d["_id"], d.get("name", ""), d.get("awaiting", False), d.get("deleted", False))


def decode_file(d: Doc) -> StoredFile:
    return StoredFile(
        file_id=d["_id"],
        owner_user_id=d["owner"],
        filename=d["filename"],
        content_type=d.get("content_type", ""),
        size_bytes=d["size"],
        sha256_hex=d["sha256"],
        uploaded_at=d["uploaded_at"],
        chat_ids=tuple(d.get("chats", [])),
    )


def _member_id(chat_id: str, user_id: str) -> str:
    return f"{chat_id}|{user_id}"


class MongoChatStore:
    def __init__(self, db: AsyncDatabase[Doc], records: EventRecords):
        self._db = db
        self._records = records
        self._chats = db[CHATS]
        self._members = db[MEMBERS]
        self._messages = db[MESSAGES]
        self._counters = db[COUNTERS]

    # ---- chats ----------------------------------------------------------------------------------

    async def get_chat(self, chat_id: str) -> Chat | None:
        doc = await self._chats.find_one({"_id": chat_id}, {"_outbox": 0})
        return decode_chat(doc) if doc else None

    async def get_chats(self, chat_ids: Sequence[str]) -> list[Chat]:
        if not chat_ids:
            return []
        return [decode_chat(d) async for d in self._chats.find({"_id": {"$in": list(chat_ids)}}, {"_outbox": 0})]

    async def insert_chat(self, chat: Chat, event: ev.ChatEvent) -> bool:
        await self.ensure_counter(chat.chat_id)
        doc = chat_doc(chat) | outbox_fields(self._records.records(chat.chat_id, event))
        try:
            await self._chats.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    async def upsert_chat(self, chat: Chat, *, version: int, event: ev.ChatEvent | None) -> bool:
        """Provisioned chats follow their school/class aggregate version; older versions are ignored."""
        existing = await self._chats.find_one({"_id": chat.chat_id}, {"_outbox": 0})
        if existing is None:
            chat.version = version
            await self.ensure_counter(chat.chat_id)
            chat.update_seq = await self.next_seq(chat.chat_id)
            if await self.insert_chat(chat, ev.ChatCreated(chat)):
                return True
            existing = await self._chats.find_one({"_id": chat.chat_id}, {"_outbox": 0})
            assert existing is not None
        current = decode_chat(existing)
        if current.version >= version:
            return False
        changes = {
            k: v
            for k, v in {"title": chat.title, "read_only": chat.read_only, "class_id": chat.class_id}.items()
            if getattr(current, k) != v
        }
        if not changes:
            await self._chats.update_one(
                {"_id": chat.chat_id, "version": current.version}, {"$set": {"version": version}}
            )
            return False
        changes["version"] = version
        return await self.update_chat(chat.chat_id, changes, bump=True, expected_version=current.version) is not None

    async def update_chat(
        self, chat_id: str, fields: dict[str, object], *, bump: bool, expected_version: int | None = None
    ) -> Chat | None:
        if not bump:
            await self._chats.update_one({"_id": chat_id}, {"$set": fields})
            return None
        useq = await self.next_seq(chat_id)
        filt: Doc = {"_id": chat_id}
        if expected_version is not None:
            filt["version"] = expected_version
        doc = await self._chats.find_one_and_update(
            filt, {"$set": {**fields, "useq": useq}}, projection={"_outbox": 0}, return_document=ReturnDocument.AFTER
        )
        if doc is None:
            await self.burn_seq(chat_id, useq)
            return None
        chat = decode_chat(doc)
        await self._chats.update_one(
            {"_id": chat_id}, outbox_push(self._records.records(chat_id, ev.ChatUpdated(chat)))
        )
        return chat

    async def get_member(self, chat_id: str, user_id: str) -> Member | None:
        doc = await self._members.find_one({"_id": _member_id(chat_id, user_id)}, {"_outbox": 0})
        return decode_member(doc) if doc and doc.get("active") else None

    async def chat_access(self, chat_id: str, user_id: str) -> tuple[Chat | None, Member | None, Profile | None]:
        """The chat, my membership and my profile in one command (every access check, and a send's
        only read): the member document with its chat and profile joined in."""
        pipeline: list[Doc] = [
            {"$match": {"_id": _member_id(chat_id, user_id)}},
            {"$project": {"_outbox": 0}},
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

    async def list_member_chats(self, user_id: str, school_id: str = "") -> list[Member]:
        filt: Doc = {"user_id": user_id, "active": True}
        if school_id:
            filt["school_id"] = school_id
        return [decode_member(d) async for d in self._members.find(filt, {"_outbox": 0})]

    async def set_grant(self, chat_id: str, school_id: str, user_id: str, key: str, grant: Grant | None) -> bool:
        """Adds or removes one reason for membership; MemberAdded/Removed when membership flips.
        Returns True when the person became a member by this call."""
        _id = _member_id(chat_id, user_id)
        for _attempt in range(20):
            doc = await self._members.find_one({"_id": _id}, {"_outbox": 0})
            rev = doc.get("rev", 0) if doc else 0
            grants = [g for g in (doc or {}).get("grants", []) if g["k"] != key]
            if grant is not None:
                grants.append({"k": key, "g": str(grant)})
            was_active = bool(doc and doc.get("active"))
            active = bool(grants)
            if doc is not None and grants == doc.get("grants", []):
                return False
            events: list[ev.ChatEvent] = []
            if active and not was_active:
                events.append(ev.MemberAdded(chat_id, user_id))
            elif was_active and not active:
                events.append(ev.MemberRemoved(chat_id, user_id))
            update = merge_updates(
                {
                    "$set": {
                        "grants": grants,
                        "active": active,
                        "moderator": any(Grant(g["g"]) in MODERATOR_GRANTS for g in grants),
                        "rev": rev + 1,
                        "chat_id": chat_id,
                        "user_id": user_id,
                        "school_id": school_id,
                    }
                },
                outbox_push(self._records.records(chat_id, *events)),
            )
            try:
                if doc is None:
                    await self._members.insert_one(
                        {"_id": _id, "last_read_seq": 0, **update["$set"]}
                        | outbox_fields(self._records.records(chat_id, *events))
                    )
                    return active
                result = await self._members.update_one({"_id": _id, "rev": rev}, update)
                if result.matched_count:
                    return active and not was_active
            except DuplicateKeyError:
                pass
        raise Aborted("membership changed concurrently", reason="CONCURRENT_CHANGE")

    async def remove_user_everywhere(self, user_id: str) -> list[str]:
        chat_ids = [
            d["chat_id"] async for d in self._members.find({"user_id": user_id, "active": True}, {"chat_id": 1})
        ]
        for chat_id in chat_ids:
            doc = await self._members.find_one({"_id": _member_id(chat_id, user_id)}, {"grants": 1, "school_id": 1})
            for g in (doc or {}).get("grants", []):
                await self.set_grant(chat_id, doc["school_id"], user_id, g["k"], None)  # type: ignore[index]
        return chat_ids

    async def count_members(self, chat_id: str) -> int:
        return await self._members.count_documents({"chat_id": chat_id, "active": True})

    async def member_ids(self, chat_id: str) -> list[str]:
        docs = self._members.find({"chat_id": chat_id, "active": True}, {"user_id": 1})
        return [d["user_id"] async for d in docs]

    async def set_member_fields(self, chat_id: str, user_id: str, fields: dict[str, object]) -> None:
        await self._members.update_one({"_id": _member_id(chat_id, user_id)}, {"$set": fields})

    async def mark_read(self, chat_id: str, user_id: str, seq: int) -> int:
        # Read state only moves forward; ReadUpdated rides on the member document.
        records = self._records.records(chat_id, ev.ReadUpdated(chat_id, user_id, seq))
        result = await self._members.update_one(
            {"_id": _member_id(chat_id, user_id), "last_read_seq": {"$lt": seq}},
            merge_updates({"$set": {"last_read_seq": seq}}, outbox_push(records)),
        )
        if result.modified_count:
            return seq
        doc = await self._members.find_one({"_id": _member_id(chat_id, user_id)}, {"last_read_seq": 1})
        return int((doc or {}).get("last_read_seq", 0))

    async def count_read(self, chat_id: str, seq: int, exclude_user: str) -> tuple[int, int]:
        base = {"chat_id": chat_id, "active": True, "user_id": {"$ne": exclude_user}}
        read = await self._members.count_documents({**base, "last_read_seq": {"$gte": seq}})
        total = await self._members.count_documents(base)
        return read, total

    async def count_unread(self, chat_id: str, user_id: str, after_seq: int, cap: int) -> int:
        return await self._messages.count_documents(
            {"chat_id": chat_id, "seq": {"$gt": after_seq}, "sender": {"$ne": user_id}, "deleted": False},
            limit=cap,
        )

    async def last_seq(self, chat_id: str) -> int:
        doc = await self._counters.find_one({"_id": chat_id})
        return int(doc["seq"]) if doc else 0

    # ---- messages -------------------------------------------------------------------------------

    async def ensure_counter(self, chat_id: str) -> None:
        # Created with the chat: concurrent *first* upserts of a counter are unreliable on the local
        # store (docs/store.md), so the hot path only ever $inc's an existing document.
        await self._counters.update_one({"_id": chat_id}, {"$setOnInsert": {"seq": 0}}, upsert=True)

    async def next_seq(self, chat_id: str) -> int:
        for _attempt in range(5):
            doc = await self._counters.find_one_and_update(
                {"_id": chat_id}, {"$inc": {"seq": 1}}, return_document=ReturnDocument.AFTER
            )
            if doc is not None:
                return int(doc["seq"])
            try:
                await self.ensure_counter(chat_id)  # a chat whose first event came before it (lesson message)
            except DuplicateKeyError:
                pass
        raise Aborted("sequence busy", reason="SEQUENCE_CONTENTION")

    async def burn_seq(self, chat_id: str, seq: int) -> None:
        """Records an allocated update_seq that will never carry an update, so live ordering skips it
        at once instead of waiting for it."""
        await self._db[BURNED].update_one(
            {"_id": f"{chat_id}|{seq}"}, {"$set": {"chat_id": chat_id, "useq": seq}}, upsert=True
        )

    async def burned_in_range(self, chat_id: str, low: int, high: int) -> list[int]:
        docs = self._db[BURNED].find({"chat_id": chat_id, "useq": {"$gt": low, "$lt": high}}, {"useq": 1})
        return [int(d["useq"]) async for d in docs]

    async def insert_message(self, message: Message, event: ev.ChatEvent) -> None:
        doc = message_doc(message) | outbox_fields(self._records.records(message.chat_id, event))
        try:
            await self._messages.insert_one(doc)
        except DuplicateKeyError as exc:
            raise DuplicateMessage(message.message_id) from exc

    async def get_message(self, message_id: str) -> Message | None:
        doc = await self._messages.find_one({"_id": message_id}, {"_outbox": 0})
        return decode_message(doc) if doc else None

    async def get_message_by_seq(self, chat_id: str, seq: int) -> Message | None:
        doc = await self._messages.find_one({"chat_id": chat_id, "seq": seq}, {"_outbox": 0})
        return decode_message(doc) if doc else None

    async def update_message(self, message: Message, event: ev.ChatEvent, *, expected_update_seq: int) -> None:
        doc = message_doc(message)
        doc.pop("_id")
        unset = {} if message.held_for else {"$unset": {"held": ""}}
        update = merge_updates({"$set": doc}, unset, outbox_push(self._records.records(message.chat_id, event)))
        result = await self._messages.update_one({"_id": message.message_id, "useq": expected_update_seq}, update)
        if not result.matched_count:
            await self.burn_seq(message.chat_id, message.update_seq)
            raise Aborted("the message changed meanwhile; retry", reason="CONCURRENT_CHANGE")

    # History pages query bounded windows of sequence numbers rather than "sort + limit" over an open
    # range: real MongoDB answers both from the index, but the local store materialises every match
    # of an open range before limiting (docs/store.md). Sequence numbers are dense, so a window of
    # `limit` usually suffices; gaps (burned numbers, edits that moved a message's update_seq)
    # widen it.

    async def messages_before(self, chat_id: str, before_seq: int, limit: int) -> list[Message]:
        upper = before_seq or await self.last_seq(chat_id) + 1
        window = limit
        while True:
            lower = max(1, upper - window)
            docs = await self._messages.find(
                {"chat_id": chat_id, "seq": {"$gte": lower, "$lt": upper}}, {"_outbox": 0}
            ).to_list()
            if len(docs) >= limit or lower <= 1:
                docs.sort(key=lambda d: d["seq"])
                return [decode_message(d) for d in docs[-limit:]]
            window *= 4

    async def messages_after(self, chat_id: str, after_update_seq: int, limit: int) -> list[Message]:
        last = await self.last_seq(chat_id)
        window = limit
        while True:
            upper = after_update_seq + window
            docs = await self._messages.find(
                {"chat_id": chat_id, "useq": {"$gt": after_update_seq, "$lte": upper}}, {"_outbox": 0}
            ).to_list()
            if len(docs) >= limit or upper >= last:
                docs.sort(key=lambda d: d["useq"])
                return [decode_message(d) for d in docs[:limit]]
            window *= 4

    async def messages_in_update_range(self, chat_id: str, low: int, high: int) -> list[Message]:
        docs = (
            await self._messages.find({"chat_id": chat_id, "useq": {"$gt": low, "$lt": high}}, {"_outbox": 0})
            .sort("useq", ASCENDING)
            .to_list()
        )
        return [decode_message(d) for d in docs]

    async def due_held_messages(self, now: datetime, limit: int) -> list[Message]:
        docs = (
            await self._messages.find({"held": True, "held_until": {"$lte": now}}, {"_outbox": 0})
            .limit(limit)
            .to_list()
        )
        return [decode_message(d) for d in docs]

    async def add_report(
        self, report_id: str, chat_id: str, seq: int, reporter: str, reason: str, at: datetime
    ) -> None:
        await self._db[REPORTS].update_one(
            {"_id": report_id},
            {"$setOnInsert": {"chat_id": chat_id, "seq": seq, "reporter": reporter, "reason": reason, "at": at}},
            upsert=True,
        )

    # ---- projections ----------------------------------------------------------------------------

    async def memberships_of(self, school_id: str, user_id: str) -> list[Membership]:
        docs = self._db[MEMBERSHIPS].find({"school_id": school_id, "user_id": user_id, "active": True})
        return [decode_membership(d) async for d in docs]

    async def school(self, school_id: str) -> SchoolInfo | None:
        d = await self._db[SCHOOLS].find_one({"_id": school_id})
        if d is None:
            return None
        return SchoolInfo(
            d["_id"], d.get("name", ""), d.get("timezone", ""), d.get("start", 0), d.get("end", 0), _policy(d)
        )

    async def group_chat_ids(self, school_id: str) -> list[str]:
        docs = self._db[CHATS].find({"school_id": school_id, "kind": int(ChatKind.GROUP)}, {"_id": 1})
        return [d["_id"] async for d in docs]

    async def profile(self, user_id: str) -> Profile | None:
        d = await self._db[PROFILES].find_one({"_id": user_id})
        return decode_profile(d) if d is not None else None

    async def get_file(self, file_id: str) -> StoredFile | None:
        d = await self._db[FILES].find_one({"_id": file_id, "complete": True})
        return decode_file(d) if d else None

    async def attach_files(self, file_ids: Sequence[str], chat_id: str) -> None:
        await self._db[FILES].update_many({"_id": {"$in": list(file_ids)}}, {"$addToSet": {"chats": chat_id}})


def _policy(d: Doc) -> SchoolPolicy:
    # A school projected before policies existed has the defaults.
    return SchoolPolicy.from_settings(d.get("policy") or {})


class MongoProjections:
    """Latest state of other services' aggregates, applied only when the event's version is newer."""

    def __init__(self, db: AsyncDatabase[Doc]):
        self._db = db

    async def _put(self, collection: str, _id: str, version: int, fields: Doc) -> Doc | bool | None:
        try:
            before = await self._db[collection].find_one_and_update(
                {"_id": _id, "version": {"$lt": version}},
                {"$set": {**fields, "version": version}},
                upsert=True,
                return_document=ReturnDocument.BEFORE,
            )
        except DuplicateKeyError:
            return False  # exists with a version >= ours
        return before

    async def put_school(self, school: SchoolInfo, version: int) -> bool:
        fields = {
            "name": school.name,
            "timezone": school.timezone,
            "start": school.workday_start_minute,
            "end": school.workday_end_minute,
            "policy": asdict(school.policy),
            # When this row last changed (PolicySync reads what changed since its last pass).
            "policy_at": datetime.now(UTC),
        }
        return await self._put(SCHOOLS, school.school_id, version, fields) is not False

    async def policies_since(self, since: datetime | None) -> list[PolicyRow]:
        """Every school's policy (since=None) or those of rows changed at or after `since`."""
        query: Doc = {} if since is None else {"policy_at": {"$gte": since}}
        docs = self._db[SCHOOLS].find(query, {"policy": 1, "version": 1})
        return [(d["_id"], _policy(d), int(d.get("version", 0))) async for d in docs]

    async def put_membership(self, membership: Membership, version: int) -> Membership | Literal[False] | None:
        m = membership
        fields = {
            "school_id": m.school_id,
            "user_id": m.user_id,
            "school_role": int(m.school_role),
            "class_id": m.class_id,
            "class_role": int(m.class_role),
            "child_user_id": m.child_user_id,
            "active": m.active,
            "verified": m.verified,
        }
        before = await self._put(MEMBERSHIPS, m.membership_id, version, fields)
        if before is False or before is None:
            return before  # type: ignore[return-value]
        return decode_membership(before)  # type: ignore[arg-type]

    async def put_profile(self, profile: Profile, version: int) -> bool:
        fields = {"name": profile.display_name, "awaiting": profile.awaiting_guardian, "deleted": profile.deleted}
        return await self._put(PROFILES, profile.user_id, version, fields) is not False
