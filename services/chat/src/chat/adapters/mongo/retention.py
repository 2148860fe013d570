"""Retention's store (app.retention.RetentionStore): rules per school, clocks and stages on the chat
documents, and the archive and purge steps — each a conditional write or a repeatable removal.

Fields on a chat document with a clock: `ret_from` (the rollover), `ret_year` (the year it ended),
`ret_stage` (1 kept, 2 archived, 3 purged), `ret_lease` / `ret_by` (who works on it, until when;
the epoch when nobody), `ret_archived_at`, `ret_purge_after`, `ret_purged_at`, `ret_file` (the JSON
archive), `ret_counts`.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from parta.chat.v1 import events_pb2 as pb
from parta_common.events import topics
from parta_common.events.outbox import merge_updates, outbox_push
from parta_common.events.writer import Aggregate, OutboxWriter
from parta_common.mongo import apply_versioned
from parta_common.retention import RetentionRule, retention_of
from parta_common.timestamps import ts
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat.adapters.events import EventRecords
from chat.adapters.files import BUCKET, GridFsSink
from chat.adapters.mongo import (
    ANNOUNCEMENT_FAMILIES,
    ANNOUNCEMENT_REMINDERS,
    ANNOUNCEMENTS,
    BURNED,
    CHATS,
    COUNTERS,
    FILES,
    MATERIALS,
    MEMBERS,
    MEMBERSHIPS,
    MESSAGES,
    POLL_VOTES,
    POLLS,
    REPORTS,
    RETENTION_RULES,
)
from chat.adapters.mongo.codecs import Doc
from chat.domain import events as ev
from chat.domain.chats import ChatKind
from chat.domain.files import FileKind, StoredFile
from chat.domain.provisioning import SchoolRole
from chat.domain.retention import (
    CLOCKED_KINDS,
    Counts,
    FileFate,
    RetainedChat,
    Stage,
    archive_footer,
    archive_header,
    archive_message,
    file_fate,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WINDOW = 500  # messages read per query while archiving (bounded seq windows: docs/store.md)
_NS = uuid.UUID("6f0c7c0e-5d0a-4d1b-9a43-2f1f2e3d9b11")


def archive_file_id(chat_id: str) -> str:
    """One archive per chat: a repeated archive step rewrites the same file."""
    return str(uuid.uuid5(_NS, f"retention-archive\x1f{chat_id}"))


def _utc(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _counts(d: Doc | None) -> Counts:
    d = d or {}
    return Counts(
        int(d.get("messages", 0)),
        int(d.get("files_deleted", 0)),
        int(d.get("files_detached", 0)),
        int(d.get("members", 0)),
    )


def _counts_doc(c: Counts) -> Doc:
    return {
        "messages": c.messages,
        "files_deleted": c.files_deleted,
        "files_detached": c.files_detached,
        "members": c.members,
    }


def _counts_pb(c: Counts) -> pb.RetentionCounts:
    return pb.RetentionCounts(**_counts_doc(c))


def decode_retained(d: Doc) -> RetainedChat:
    return RetainedChat(
        chat_id=d["_id"],
        school_id=d["school_id"],
        kind=ChatKind(d["kind"]),
        class_id=d.get("class_id", ""),
        title=d.get("title", ""),
        retained_from=_utc(d["ret_from"]) or EPOCH,
        academic_year=d.get("ret_year", ""),
        stage=Stage(d.get("ret_stage", Stage.KEPT)),
        archived_at=_utc(d.get("ret_archived_at")),
        purge_after=_utc(d.get("ret_purge_after")),
        purged_at=_utc(d.get("ret_purged_at")),
        archive_file_id=d.get("ret_file", ""),
        counts=_counts(d.get("ret_counts")),
    )


_FIELDS = {
    k: 1
    for k in (
        "school_id",
        "kind",
        "class_id",
        "title",
        "ret_from",
        "ret_year",
        "ret_stage",
        "ret_archived_at",
        "ret_purge_after",
        "ret_purged_at",
        "ret_file",
        "ret_counts",
    )
}


class MongoRetention:
    def __init__(self, db: AsyncDatabase[Doc], records: EventRecords, writer: OutboxWriter):
        self._db = db
        self._rules = db[RETENTION_RULES]
        self._chats = db[CHATS]
        self._members = db[MEMBERS]
        self._messages = db[MESSAGES]
        self._files = db[FILES]
        self._records = records
        self._writer = writer

    # ---- rules and clocks ---------------------------------------------------------------------

    async def put_rule(self, school_id: str, rule: RetentionRule, version: int) -> None:
        fields = {"keep": rule.keep_days, "grace": rule.archive_grace_days}
        await apply_versioned(self._rules, school_id, version, {"$set": fields})

    async def _ensure_rule(self, school_id: str) -> None:
        """A school whose snapshot chat has not projected (yet) is under the defaults meanwhile."""
        try:
            await self._rules.update_one({"_id": school_id}, {"$setOnInsert": {"version": 0}}, upsert=True)
        except DuplicateKeyError:
            pass  # a concurrent first write made it

    async def rules(self) -> list[tuple[str, RetentionRule]]:
        docs = self._rules.find({}).sort("_id", ASCENDING)
        return [(d["_id"], retention_of(d.get("keep", 0), d.get("grace", 0))) async for d in docs]

    async def rule(self, school_id: str) -> RetentionRule:
        d = await self._rules.find_one({"_id": school_id})
        return retention_of(d.get("keep", 0), d.get("grace", 0)) if d else retention_of(0, 0)

    def _clock(self, at: datetime, year: str) -> Doc:
        return {"ret_from": at, "ret_year": year, "ret_stage": int(Stage.KEPT), "ret_lease": EPOCH, "ret_by": ""}

    async def start_clocks(self, school_id: str, chat_ids: list[str], at: datetime, year: str) -> int:
        if not chat_ids:
            return 0
        await self._ensure_rule(school_id)
        ids = {"$in": chat_ids}
        result = await self._chats.update_many(
            {"_id": ids, "school_id": school_id, "ret_from": {"$exists": False}}, {"$set": self._clock(at, year)}
        )
        if year:  # a clock started by ClassArchived learns its year from AcademicYearStarted
            await self._chats.update_many({"_id": ids, "ret_year": ""}, {"$set": {"ret_year": year}})
        return result.modified_count

    async def start_clocks_of_archived(self, school_id: str, at: datetime, year: str) -> int:
        await self._ensure_rule(school_id)
        result = await self._chats.update_many(
            {
                "school_id": school_id,
                "kind": {"$in": [int(k) for k in CLOCKED_KINDS]},
                "read_only": True,
                "ret_from": {"$exists": False},
            },
            {"$set": self._clock(at, year)},
        )
        return result.modified_count

    # ---- the job ------------------------------------------------------------------------------

    async def due(self, school_id: str, stage: Stage, before: datetime, limit: int) -> list[RetainedChat]:
        when = "ret_from" if stage is Stage.KEPT else "ret_purge_after"
        query = {"ret_stage": int(stage), "school_id": school_id, when: {"$lte": before}}
        docs = await self._chats.find(query, _FIELDS).sort(when, ASCENDING).limit(limit).to_list()
        return [decode_retained(d) for d in docs]

    async def claim(
        self, chat_id: str, stage: Stage, token: str, now: datetime, until: datetime
    ) -> RetainedChat | None:
        """The chat for this replica until `until`, if it is still at `stage` and nobody holds a live lease."""
        d = await self._chats.find_one_and_update(
            {"_id": chat_id, "ret_stage": int(stage), "ret_lease": {"$lte": now}},
            {"$set": {"ret_lease": until, "ret_by": token}},
            projection=_FIELDS,
            return_document=ReturnDocument.AFTER,
        )
        return decode_retained(d) if d is not None else None

    async def release(self, chat_id: str, token: str) -> None:
        await self._chats.update_one({"_id": chat_id, "ret_by": token}, {"$set": {"ret_lease": EPOCH}})

    async def write_archive(self, chat: RetainedChat, at: datetime) -> tuple[str, int]:
        """The chat's history as one JSON file in GridFS (bucket `blobs`), streamed a window of
        messages at a time; a repeat rewrites it from the start."""
        file_id = archive_file_id(chat.chat_id)
        await self._db[f"{BUCKET}.chunks"].delete_many({"files_id": file_id})
        await self._db[f"{BUCKET}.files"].delete_many({"_id": file_id})
        filename = f"{chat.chat_id}-archive.json"
        await self._files.replace_one(
            {"_id": file_id},
            {
                "owner": "",
                "filename": filename,
                "content_type": "application/json",
                "size": 0,
                "sha256": "",
                "uploaded_at": at,
                "complete": False,
                "chats": [],
                "kind": int(FileKind.DOCUMENT),
                "retention": {"school_id": chat.school_id, "chat_id": chat.chat_id},
            },
            upsert=True,
        )
        sink = GridFsSink(self._db, StoredFile(file_id, "", filename, "application/json", 0, "", at))
        digest = hashlib.sha256()
        size = 0

        async def put(data: bytes) -> None:
            nonlocal size
            digest.update(data)
            size += len(data)
            await sink.write(data)

        await put(archive_header(chat, at))
        counter = await self._db[COUNTERS].find_one({"_id": chat.chat_id})
        last = int(counter["seq"]) if counter else 0
        count = 0
        for low in range(0, last, WINDOW):
            window = {"chat_id": chat.chat_id, "seq": {"$gt": low, "$lte": low + WINDOW}}
            async for doc in self._messages.find(window, {"_outbox": 0}).sort("seq", ASCENDING):
                await put(archive_message(doc, count == 0))
                count += 1
        shared = await self._files.find({"chats": chat.chat_id}).sort("_id", ASCENDING).to_list()
        await put(archive_footer(shared))
        await sink.close()
        await self._files.update_one(
            {"_id": file_id}, {"$set": {"complete": True, "size": size, "sha256": digest.hexdigest()}}
        )
        return file_id, count

    async def hide(self, chat_id: str) -> int:
        """Out of every member's list and reach (NOT_A_MEMBER from now on), each row with its
        MemberRemoved (open streams drop the chat); the rows stay until the purge. A repeat finds
        only the rows a crash left active."""
        rows = await self._members.find({"chat_id": chat_id, "active": True}, {"user_id": 1}).to_list()
        for row in rows:
            removed = self._records.records(chat_id, [ev.MemberRemoved(chat_id, row["user_id"])])
            update = merge_updates({"$set": {"active": False}}, outbox_push(removed))
            await self._members.update_one({"_id": row["_id"], "active": True}, update)
        return await self._members.count_documents({"chat_id": chat_id})

    def _event(self, chat_id: str, stage: Stage, payload: Any) -> Doc:
        record = self._writer.record(
            payload, topic=topics.CHAT_MESSAGE, aggregate=Aggregate("chat.retention", chat_id, int(stage)), key=chat_id
        )
        return outbox_push([record])

    async def mark_archived(
        self, chat: RetainedChat, token: str, at: datetime, purge_after: datetime, file_id: str, counts: Counts
    ) -> bool:
        event = pb.ChatArchivedForRetention(
            chat_id=chat.chat_id,
            school_id=chat.school_id,
            class_id=chat.class_id,
            kind=int(chat.kind),  # type: ignore[arg-type]
            retained_from=ts(chat.retained_from),
            archived_at=ts(at),
            purge_after=ts(purge_after),
            archive_file_id=file_id,
            counts=_counts_pb(counts),
        )
        fields = {
            "ret_stage": int(Stage.ARCHIVED),
            "ret_archived_at": at,
            "ret_purge_after": purge_after,
            "ret_file": file_id,
            "ret_counts": _counts_doc(counts),
            "ret_lease": EPOCH,
        }
        update = merge_updates({"$set": fields}, self._event(chat.chat_id, Stage.ARCHIVED, event))
        result = await self._chats.update_one(
            {"_id": chat.chat_id, "ret_stage": int(Stage.KEPT), "ret_by": token}, update
        )
        return bool(result.modified_count)

    async def purge_messages(self, chat_id: str, limit: int) -> int:
        ids = [d["_id"] async for d in self._messages.find({"chat_id": chat_id}, {"_id": 1}).limit(limit)]
        if ids:
            await self._messages.delete_many({"_id": {"$in": ids}})
        return len(ids)

    async def purge_files(self, chat: RetainedChat, limit: int, at: datetime) -> int:
        """Files shared in the chat: each loses the chat, and is deleted when nothing else needs it
        (domain/retention.py, file_fate). Recorded on the file (`ret_deleted_by`, `ret_detached_from`)
        in the same write, so the counts are exact however often this repeats."""
        docs = await self._files.find({"chats": chat.chat_id}).limit(limit).to_list()
        for f in docs:
            pull = {"$pull": {"chats": chat.chat_id, "refs": {"c": chat.chat_id}}}
            where = {"_id": f["_id"], "chats": chat.chat_id}
            if f.get("deleted"):
                await self._files.update_one(where, pull)  # its owner deleted it already
                continue
            others = [c for c in f.get("chats", []) if c != chat.chat_id]
            material = await self._db[MATERIALS].find_one({"file_id": f["_id"]}, {"_id": 1})
            staff_seat = await self._db[MEMBERSHIPS].find_one(
                {
                    "school_id": chat.school_id,
                    "user_id": f.get("owner", ""),
                    "active": True,
                    "school_role": {"$in": [int(SchoolRole.ADMIN), int(SchoolRole.TEACHER)]},
                },
                {"_id": 1},
            )
            fate = file_fate(len(others), material is not None, staff_seat is not None)
            if fate is FileFate.DELETE:
                mark = {"$set": {"deleted": True, "deleted_at": at, "ret_deleted_by": chat.chat_id}}
                await self._files.update_one(where, merge_updates(pull, mark))
                # Then the contents (the housekeeper finishes a deletion a crash interrupts here).
                await self._db[f"{BUCKET}.chunks"].delete_many({"files_id": f["_id"]})
                await self._db[f"{BUCKET}.files"].delete_many({"_id": f["_id"]})
                await self._files.update_one({"_id": f["_id"]}, {"$set": {"purged": True, "chats": []}})
            else:
                await self._files.update_one(
                    where, merge_updates(pull, {"$addToSet": {"ret_detached_from": chat.chat_id}})
                )
        return len(docs)

    async def purge_rest(self, chat: RetainedChat) -> Counts:
        """Everything else the chat kept (member rows, counters, reports, announcements, polls) and its
        archive; the exact counts of the whole purge."""
        cid = chat.chat_id
        members = await self._members.count_documents({"chat_id": cid})
        await self._members.delete_many({"chat_id": cid})
        await self._db[BURNED].delete_many({"chat_id": cid})
        await self._db[REPORTS].delete_many({"chat_id": cid})
        anns = [d["_id"] async for d in self._db[ANNOUNCEMENTS].find({"chat_id": cid}, {"_id": 1})]
        if anns:
            await self._db[ANNOUNCEMENT_FAMILIES].delete_many({"ann": {"$in": anns}})
            await self._db[ANNOUNCEMENT_REMINDERS].delete_many({"ann": {"$in": anns}})
            await self._db[ANNOUNCEMENTS].delete_many({"_id": {"$in": anns}})
        polls = [d["_id"] async for d in self._db[POLLS].find({"chat_id": cid}, {"_id": 1})]
        if polls:
            await self._db[POLL_VOTES].delete_many({"poll": {"$in": polls}})
            await self._db[POLLS].delete_many({"_id": {"$in": polls}})
        file_id = chat.archive_file_id or archive_file_id(cid)
        await self._db[f"{BUCKET}.chunks"].delete_many({"files_id": file_id})
        await self._db[f"{BUCKET}.files"].delete_many({"_id": file_id})
        await self._files.delete_one({"_id": file_id, "owner": ""})
        return Counts(
            messages=chat.counts.messages,
            files_deleted=await self._files.count_documents({"ret_deleted_by": cid}),
            files_detached=await self._files.count_documents({"ret_detached_from": cid}),
            members=max(members, chat.counts.members),
        )

    async def mark_purged(self, chat: RetainedChat, token: str, at: datetime, counts: Counts) -> bool:
        """The chat document stays as a tombstone (ids, kind, dates, counts), so a replayed ClassCreated
        provisions nothing and the admins' list still shows what went when."""
        event = pb.ChatPurged(
            chat_id=chat.chat_id,
            school_id=chat.school_id,
            class_id=chat.class_id,
            kind=int(chat.kind),  # type: ignore[arg-type]
            retained_from=ts(chat.retained_from),
            purged_at=ts(at),
            counts=_counts_pb(counts),
        )
        fields = {
            "ret_stage": int(Stage.PURGED),
            "ret_purged_at": at,
            "ret_counts": _counts_doc(counts),
            "ret_lease": EPOCH,
            "title": "",
            "pinned_seqs": [],
            "member_count": 0,
        }
        update = merge_updates({"$set": fields}, self._event(chat.chat_id, Stage.PURGED, event))
        result = await self._chats.update_one(
            {"_id": chat.chat_id, "ret_stage": int(Stage.ARCHIVED), "ret_by": token}, update
        )
        if result.modified_count:
            await self._db[COUNTERS].delete_one({"_id": chat.chat_id})
        return bool(result.modified_count)

    # ---- the admins' view ---------------------------------------------------------------------

    async def list_school(self, school_id: str, offset: int, limit: int) -> list[RetainedChat]:
        query = {"ret_stage": {"$in": [int(s) for s in Stage]}, "school_id": school_id}
        docs = await self._chats.find(query, _FIELDS).sort("_id", ASCENDING).skip(offset).limit(limit).to_list()
        return [decode_retained(d) for d in docs]

    async def archive_school(self, file_id: str) -> str | None:
        d = await self._files.find_one({"_id": file_id, "owner": "", "complete": True}, {"retention": 1})
        return d["retention"]["school_id"] if d is not None and d.get("retention") else None
