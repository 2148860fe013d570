"""ExportService: a person's or their child's data export (issue 17; chat delivers the archive)."""

from __future__ import annotations

import grpc
from parta.identity.v1 import exports_pb2, exports_pb2_grpc
from parta_common.grpc.context import require_principal
from parta_common.timestamps import ts

from identity.app.exports import Exports


class ExportServicer(exports_pb2_grpc.ExportServiceServicer):
    def __init__(self, exports: Exports):
        self._exports = exports

    async def RequestDataExport(
        self, request: exports_pb2.RequestDataExportRequest, context: grpc.aio.ServicerContext
    ) -> exports_pb2.RequestDataExportResponse:
        started = await self._exports.request(require_principal().user_id, request.subject_user_id, request.request_id)
        return exports_pb2.RequestDataExportResponse(
            export_id=started.export_id,
            subject_user_id=started.subject_user_id,
            requested_at=ts(started.requested_at),
        )
