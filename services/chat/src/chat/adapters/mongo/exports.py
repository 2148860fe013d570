"""Data exports chat assembles (app.ports.ExportRepository, collection `exports`) and the messages
a person wrote (app.ports.AuthoredMessages). An export's document collects the parts as they
arrive; the delivery drops them and carries DataExportDelivered in its outbox, in one write."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bson.binary import Binary
from parta.chat.v1 import exports_pb2
from parta_common.events import topics
from parta_common.events.outbox import merge_updates, outbox_index, outbox_push
from parta_common.events.writer import Aggregate, OutboxWriter
from parta_common.timestamps import ts
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat.adapters.mongo import MESSAGES
from chat.adapters.mongo.codecs import NO_OUTBOX, Doc, decode_message
from chat.domain.exports import DataExport, ExportState, Part
from chat.domain.messages import Message

EXPORTS = "exports"


def export_indexes() -> dict[str, list[IndexModel]]:
    return {
        EXPORTS: [
            outbox_index(),
            IndexModel([("requested_by", ASCENDING), ("requested_at", DESCENDING)], name="by_requester"),
            IndexModel([("subject", ASCENDING), ("requested_at", DESCENDING)], name="by_subject"),
        ],
    }


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def decode_export(doc: Doc) -> DataExport:
    parts = {
        name: Part(bytes(p["json"]), bool(p.get("truncated")), bool(p.get("gzipped")))
        for name, p in (doc.get("parts") or {}).items()
    }
    return DataExport(
        export_id=doc["_id"],
        requested_by=doc.get("requested_by", ""),
        subject_user_id=doc.get("subject", ""),
        requested_at=_utc(doc.get("requested_at")),
        notify_subject=bool(doc.get("notify_subject")),
        state=ExportState(doc.get("state", ExportState.REQUESTED.value)),
        parts=parts,
        received=tuple(doc.get("received") or ()),
        file_id=doc.get("file_id", ""),
        size_bytes=int(doc.get("size_bytes", 0)),
        delivered_at=_utc(doc.get("delivered_at")),
    )


async def _upsert(collection: Any, query: Doc, update: Doc) -> None:
    try:
        await collection.update_one(query, update, upsert=True)
    except DuplicateKeyError:  # two first writers of one export: the loser's update applies now
        await collection.update_one(query, update)


class MongoExportRepository:
    def __init__(self, db: AsyncDatabase[Doc], topic: Callable[[str], str], now: Callable[[], datetime]):
        self._c = db[EXPORTS]
        self._writer = OutboxWriter("chat", topic, now)

    async def get(self, export_id: str) -> DataExport | None:
        doc = await self._c.find_one({"_id": export_id}, NO_OUTBOX)
        return decode_export(doc) if doc else None

    async def record_request(
        self, export_id: str, requested_by: str, subject_user_id: str, requested_at: datetime, notify_subject: bool
    ) -> None:
        fields = {
            "requested_by": requested_by,
            "subject": subject_user_id,
            "requested_at": requested_at,
            "notify_subject": notify_subject,
        }
        await _upsert(
            self._c,
            {"_id": export_id},
            {"$set": fields},
        )

    async def add_part(self, export_id: str, name: str, part: Part) -> None:
        stored = {"json": Binary(part.json), "truncated": part.truncated, "gzipped": part.gzipped}
        await _upsert(
            self._c,
            {"_id": export_id, "state": {"$ne": ExportState.DELIVERED.value}},
            {"$set": {f"parts.{name}": stored}, "$addToSet": {"received": name}},
        )

    async def claim(self, export_id: str, now: datetime, until: datetime) -> bool:
        result = await self._c.update_one(
            {
                "_id": export_id,
                # A document a part created before the request carries no state: not delivered.
                "state": {"$ne": ExportState.DELIVERED.value},
                "$or": [{"claim_until": None}, {"claim_until": {"$lt": now}}],
            },
            {"$set": {"claim_until": until}},
        )
        return bool(result.modified_count)

    async def release(self, export_id: str) -> None:
        await self._c.update_one({"_id": export_id}, {"$set": {"claim_until": None}})

    async def delivered(self, export: DataExport, file_id: str, size_bytes: int, at: datetime) -> bool:
        event = exports_pb2.DataExportDelivered(
            export_id=export.export_id,
            requested_by_user_id=export.requested_by,
            subject_user_id=export.subject_user_id,
            file_id=file_id,
            size_bytes=size_bytes,
            delivered_at=ts(at),
        )
        record = self._writer.record(
            event, topic=topics.CHAT_MESSAGE, aggregate=Aggregate("export", export.export_id, 1)
        )
        update = merge_updates(
            {
                "$set": {
                    "state": ExportState.DELIVERED.value,
                    "file_id": file_id,
                    "size_bytes": size_bytes,
                    "delivered_at": at,
                    "claim_until": None,
                },
                # The parts were copied into the archive: chat keeps no second copy of them.
                "$unset": {"parts": ""},
            },
            outbox_push([record]),
        )
        result = await self._c.update_one(
            {"_id": export.export_id, "state": {"$ne": ExportState.DELIVERED.value}}, update
        )
        return bool(result.modified_count)

    async def requested_by(self, user_id: str, limit: int) -> list[DataExport]:
        docs = await self._c.find({"requested_by": user_id}, NO_OUTBOX).sort("requested_at", DESCENDING).to_list(limit)
        return [decode_export(d) for d in docs]

    async def about(self, subject_user_id: str, limit: int) -> list[DataExport]:
        docs = (
            await self._c.find({"subject": subject_user_id, "notify_subject": True}, NO_OUTBOX)
            .sort("requested_at", DESCENDING)
            .to_list(limit)
        )
        return [decode_export(d) for d in docs if d.get("requested_by") != subject_user_id]

    async def undelivered(self, requested_before: datetime, limit: int) -> list[str]:
        # Exports are few (a person's own, a family's): the collection is scanned without an index.
        query = {"state": {"$ne": ExportState.DELIVERED.value}, "requested_at": {"$lt": requested_before}}
        return [d["_id"] async for d in self._c.find(query, {"_id": 1}).limit(limit)]


class MongoAuthoredMessages:
    def __init__(self, db: AsyncDatabase[Doc]):
        self._messages = db[MESSAGES]

    async def written_by(self, user_id: str, limit: int) -> list[Message]:
        docs = (
            await self._messages.find({"sender": user_id}, NO_OUTBOX).sort("sent_at", DESCENDING).limit(limit).to_list()
        )
        return sorted((decode_message(d) for d in docs), key=lambda m: m.sent_at, reverse=True)
