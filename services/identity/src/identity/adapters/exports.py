"""Data exports in MongoDB (app.ports.ExportRepository): collection `exports`, one document per
export carrying DataExportRequested (identity.user.v1) and the profile part (export.parts.v1) in
its outbox, so the export and both events are one insert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from parta.identity.v1 import exports_pb2
from parta_common import exports
from parta_common.events import topics
from parta_common.events.outbox import outbox_fields, outbox_index
from parta_common.events.writer import Aggregate, OutboxWriter
from parta_common.timestamps import ts
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from identity.domain.exports import ExportRequest

EXPORTS = "exports"
PRODUCER = "identity"


def export_indexes() -> dict[str, list[IndexModel]]:
    return {
        EXPORTS: [
            IndexModel([("requested_by", ASCENDING), ("requested_at", ASCENDING)], name="by_requester"),
            outbox_index(),
        ]
    }


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _request(doc: dict[str, Any]) -> ExportRequest:
    return ExportRequest(
        export_id=doc["_id"],
        requested_by=doc["requested_by"],
        subject_user_id=doc["subject"],
        requested_at=_utc(doc["requested_at"]),
        notify_subject=bool(doc.get("notify_subject")),
    )


class MongoExportRepository:
    def __init__(
        self,
        database: AsyncDatabase[dict[str, Any]],
        topic: Callable[[str], str],
        now: Callable[[], datetime],
        on_events: Callable[[], None] | None = None,
    ):
        self._c = database[EXPORTS]
        self._writer = OutboxWriter(PRODUCER, topic, now)
        self._on_events = on_events

    async def get(self, export_id: str) -> ExportRequest | None:
        doc = await self._c.find_one({"_id": export_id}, {"_outbox": 0})
        return _request(doc) if doc else None

    async def count_since(self, requested_by: str, since: datetime) -> int:
        return await self._c.count_documents({"requested_by": requested_by, "requested_at": {"$gte": since}})

    async def add(self, request: ExportRequest, profile: dict[str, object]) -> ExportRequest:
        requested = exports_pb2.DataExportRequested(
            export_id=request.export_id,
            requested_by_user_id=request.requested_by,
            subject_user_id=request.subject_user_id,
            requested_at=ts(request.requested_at),
            notify_subject=request.notify_subject,
        )
        part = exports.part_message(
            request.export_id,
            request.subject_user_id,
            request.requested_by,
            exports.PROFILE,
            dict(profile),
            "children",
        )
        records = [
            # Keyed by the subject, so it follows the subject's own events on identity.user.v1.
            self._writer.record(
                requested,
                topic=topics.IDENTITY_USER,
                aggregate=Aggregate("export", request.export_id, 1),
                key=request.subject_user_id,
            ),
            self._writer.record(part, topic=topics.EXPORT_PARTS, aggregate=Aggregate("export", request.export_id, 2)),
        ]
        doc = {
            "_id": request.export_id,
            "requested_by": request.requested_by,
            "subject": request.subject_user_id,
            "requested_at": request.requested_at,
            "notify_subject": request.notify_subject,
            **outbox_fields(records),
        }
        try:
            await self._c.insert_one(doc)
        except DuplicateKeyError:
            earlier = await self.get(request.export_id)
            assert earlier is not None
            return earlier
        if self._on_events is not None:
            self._on_events()
        return request
