"""ExportService (an export's progress, exports about me) and the consumer that collects exports'
parts: identity's DataExportRequested and the parts on export.parts.v1, routed by message class."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from parta.chat.v1 import exports_pb2, exports_pb2_grpc
from parta.common.v1 import envelope_pb2
from parta.common.v1 import exports_pb2 as parts_pb2
from parta.identity.v1 import exports_pb2 as identity_exports_pb2
from parta_common.events import topics
from parta_common.events.router import EventRouter
from parta_common.grpc.context import require_principal
from parta_common.timestamps import from_ts, ts

from chat.app.exports import Exports
from chat.domain.exports import PARTS, DataExport, ExportState, Part

# What the export consumer reads (its own group, so an assembly never holds up provisioning).
TOPICS = (topics.IDENTITY_USER, topics.EXPORT_PARTS)
Envelope = envelope_pb2.EventEnvelope

STATE = {
    ExportState.REQUESTED: exports_pb2.DATA_EXPORT_STATE_REQUESTED,
    ExportState.DELIVERED: exports_pb2.DATA_EXPORT_STATE_DELIVERED,
}


def export_pb(export: DataExport, *, with_file: bool = True) -> exports_pb2.DataExport:
    received = export.parts_received
    return exports_pb2.DataExport(
        export_id=export.export_id,
        requested_by_user_id=export.requested_by,
        subject_user_id=export.subject_user_id,
        requested_at=ts(export.requested_at),
        state=STATE[export.state],
        parts_received=len(received),
        parts_total=len(PARTS),
        parts=list(received),
        file_id=export.file_id if with_file else "",
        size_bytes=export.size_bytes if with_file else 0,
        delivered_at=ts(export.delivered_at) if with_file else None,
    )


class ExportServicer(exports_pb2_grpc.ExportServiceServicer):
    def __init__(self, exports: Exports):
        self._exports = exports

    async def GetDataExport(
        self, request: exports_pb2.GetDataExportRequest, context: Any
    ) -> exports_pb2.GetDataExportResponse:
        export = await self._exports.get(require_principal().user_id, request.export_id)
        return exports_pb2.GetDataExportResponse(export=export_pb(export))

    async def ListDataExports(
        self, request: exports_pb2.ListDataExportsRequest, context: Any
    ) -> exports_pb2.ListDataExportsResponse:
        mine, about = await self._exports.listing(require_principal().user_id)
        about_pb = []
        for item in about:
            shown = export_pb(item.export, with_file=False)  # the archive is the requester's alone
            shown.notice = item.notice
            shown.requested_by_name = item.requested_by_name
            about_pb.append(shown)
        return exports_pb2.ListDataExportsResponse(requested=[export_pb(e) for e in mine], about_me=about_pb)


class ExportEvents:
    """The export consumer's handler: `router()` is what the EventConsumer calls."""

    def __init__(self, exports: Exports):
        self._exports = exports

    def router(self) -> EventRouter:
        router = EventRouter()
        router.register(identity_exports_pb2.DataExportRequested, self.on_requested)
        router.register(parts_pb2.DataExportPart, self.on_part)
        return router

    async def on_requested(self, message: identity_exports_pb2.DataExportRequested, envelope: Envelope) -> None:
        at = from_ts(message.requested_at) or from_ts(envelope.occurred_at) or datetime.now(UTC)
        await self._exports.requested(
            message.export_id, message.requested_by_user_id, message.subject_user_id, at, message.notify_subject
        )

    async def on_part(self, message: parts_pb2.DataExportPart, envelope: Envelope) -> None:
        await self._exports.part_received(
            message.export_id, message.part, Part(message.json, message.truncated, message.gzipped)
        )
