"""Family export (issue 17): the parts other services contribute to an export, written once.

identity starts an export (`DataExportRequested` on identity.user.v1); school (memberships) and
media-signal (attendance) answer with a `parta.common.v1.DataExportPart` on export.parts.v1,
identity publishes the profile part with the request itself, and chat collects the parts with its
own (messages and files) into one archive (docs/chat.md, "Data exports").

A part is UTF-8 JSON, gzip-compressed, bounded by MAX_PART_BYTES as sent, so an export never needs
a Kafka record near the broker's 1 MiB limit: a part whose list is longer keeps its first entries
(callers list newest first) and says `"truncated": true` with `"total"`. Compression matters: the
rows repeat their keys and ids, so about ten times more of them fit (attendance: ~500 lessons in
256 KiB of plain JSON, thousands compressed). `ExportPartOutbox` writes each part once per
(export, part) through the service's outbox: a redelivered or replayed request publishes nothing
new.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from parta.common.v1 import exports_pb2
from parta.common.v1.envelope_pb2 import EventEnvelope as Envelope
from parta.identity.v1 import exports_pb2 as identity_exports_pb2
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from parta_common.events import topics
from parta_common.events.consumer import EventConsumer
from parta_common.events.outbox import outbox_fields, outbox_index
from parta_common.events.router import EventRouter
from parta_common.events.writer import Aggregate, OutboxWriter, utc_now
from parta_common.grpc.server import Worker
from parta_common.kit import Infrastructure
from parta_common.mongo import ensure_indexes
from parta_common.settings import ServiceSettings

# The parts of every export, in the order an archive lists them.
PROFILE = "profile"
MEMBERSHIPS = "memberships"
CHAT = "chat"
ATTENDANCE = "attendance"
PARTS = (PROFILE, MEMBERSHIPS, CHAT, ATTENDANCE)
MAX_PART_BYTES = 512 * 1024
# Where identity, school and media-signal keep each published part's outbox record (relayed like
# any other outbox collection); the small documents expire after a week, like the topic's records.
EXPORT_PARTS_COLLECTION = "export_parts"
PART_RETENTION_SECONDS = 7 * 86_400


def _default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def to_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, sort_keys=True, default=_default).encode()


def packed(document: dict[str, Any]) -> bytes:
    """The JSON of `document`, gzip-compressed (no timestamp in the header: the same document packs
    to the same bytes)."""
    return gzip.compress(to_json(document), compresslevel=6, mtime=0)


def bounded_json(document: dict[str, Any], list_key: str, max_bytes: int = MAX_PART_BYTES) -> tuple[bytes, bool]:
    """`document` packed within `max_bytes`: when it is larger, the list under `list_key` keeps as
    many of its first entries as fit, and the document says `truncated` and the `total`."""
    data = packed(document)
    if len(data) <= max_bytes:
        return data, False
    items = list(document[list_key])
    # Rows of one list compress alike: the share that fits is a close first guess, so the search
    # packs a little over that prefix instead of halving from the whole list.
    low, high = 0, min(len(items), int(len(items) * max_bytes / len(data) * 1.25) + 1)
    best = packed({**document, list_key: [], "truncated": True, "total": len(items)})
    while low < high:  # the largest prefix that fits
        middle = (low + high + 1) // 2
        candidate = packed({**document, list_key: items[:middle], "truncated": True, "total": len(items)})
        if len(candidate) <= max_bytes:
            best, low = candidate, middle
        else:
            high = middle - 1
    return best, True


def part_message(
    export_id: str, subject_user_id: str, requested_by_user_id: str, part: str, document: dict[str, Any], list_key: str
) -> exports_pb2.DataExportPart:
    data, truncated = bounded_json(document, list_key)
    return exports_pb2.DataExportPart(
        export_id=export_id,
        subject_user_id=subject_user_id,
        requested_by_user_id=requested_by_user_id,
        part=part,
        json=data,
        truncated=truncated,
        gzipped=True,
    )


def part_indexes() -> dict[str, list[IndexModel]]:
    return {
        EXPORT_PARTS_COLLECTION: [
            outbox_index(),
            IndexModel([("at", ASCENDING)], name="ttl_expired", expireAfterSeconds=PART_RETENTION_SECONDS),
        ]
    }


class ExportPartOutbox:
    """Publishes a service's part of an export through its outbox, once per (export, part)."""

    def __init__(
        self,
        database: AsyncDatabase[dict[str, Any]],
        writer: OutboxWriter,
        now: Callable[[], datetime],
        on_write: Callable[[], None] | None = None,
    ):
        self._c = database[EXPORT_PARTS_COLLECTION]
        self._writer = writer
        self._now = now
        self._on_write = on_write

    async def publish(self, message: exports_pb2.DataExportPart) -> bool:
        """False when this part of this export was published before (nothing written)."""
        record = self._writer.record(
            message, topic=topics.EXPORT_PARTS, aggregate=Aggregate("export", message.export_id, 1)
        )
        doc = {
            "_id": f"{message.export_id}/{message.part}",
            "export_id": message.export_id,
            "part": message.part,
            "at": self._now(),
            **outbox_fields([record]),
        }
        try:
            await self._c.insert_one(doc)
        except DuplicateKeyError:
            return False
        if self._on_write is not None:
            self._on_write()
        return True


# What a service does to answer an export: the subject's user id → its part as a JSON-able document.
PartBuilder = Callable[[str], Awaitable[dict[str, Any]]]


class ExportPartResponder:
    """Answers identity's DataExportRequested with this service's part of the export (school:
    memberships, media-signal: attendance), once per export."""

    def __init__(self, part: str, list_key: str, build: PartBuilder, outbox: ExportPartOutbox):
        self._part = part
        self._list_key = list_key
        self._build = build
        self._outbox = outbox

    def router(self) -> EventRouter:
        router = EventRouter()
        router.register(identity_exports_pb2.DataExportRequested, self.on_requested)
        return router

    async def on_requested(self, message: identity_exports_pb2.DataExportRequested, envelope: Envelope) -> None:
        document = await self._build(message.subject_user_id)
        await self._outbox.publish(
            part_message(
                message.export_id,
                message.subject_user_id,
                message.requested_by_user_id,
                self._part,
                document,
                self._list_key,
            )
        )


class _Indexed:
    """The relay of the parts' collection, started once its indexes exist."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]], relay: Worker):
        self._database = database
        self._relay = relay

    async def start(self) -> None:
        await ensure_indexes(self._database, part_indexes())
        await self._relay.start()

    async def stop(self) -> None:
        await self._relay.stop()


def part_workers(
    service: str, settings: ServiceSettings, infra: Infrastructure, *, part: str, list_key: str, build: PartBuilder
) -> list[Worker]:
    """The workers a service adds to answer exports: a consumer of identity.user.v1 in its own
    group `<service>-exports` (an export reads much more than a projection update, so it never
    holds up the service's projections) and the relay of its parts' outbox."""
    relay = infra.relay([EXPORT_PARTS_COLLECTION])
    outbox = ExportPartOutbox(infra.database, OutboxWriter(service, settings.topic), utc_now, relay.notify)
    consumer = EventConsumer(
        bootstrap=settings.kafka_bootstrap,
        group_id=f"{settings.kafka_topic_prefix}{service}-exports",
        topics=[settings.topic(topics.IDENTITY_USER)],
        handler=ExportPartResponder(part, list_key, build, outbox).router(),
        dead_letters=infra.producer,
        metrics=infra.metrics,
        tracer=infra.tracer,
        client_id=f"{service}-exports-{settings.replica_id or 'main'}",
    )
    return [_Indexed(infra.database, relay), consumer]
