"""Family-scoped export in the audit trail (issue 17): `export.requested` from identity's
DataExportRequested and `export.delivered` from chat's DataExportDelivered, recorded like identity's
events — in every school where the requester or the subject is an active member."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from parta.chat.v1 import exports_pb2 as chat_exports_pb2
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import exports_pb2 as identity_exports_pb2
from parta_common.events.router import EventRouter
from parta_common.timestamps import from_ts

Envelope = envelope_pb2.EventEnvelope


class ExportEntries:
    """Mixed into the Recorder (api/consumers.py), whose `_emit` and `_schools` these use."""

    _emit: Callable[..., Awaitable[None]]
    _schools: Callable[..., Awaitable[set[str]]]

    def register_exports(self, router: EventRouter) -> None:
        router.register(identity_exports_pb2.DataExportRequested, self.on_export_requested)
        router.register(chat_exports_pb2.DataExportDelivered, self.on_export_delivered)

    async def _export_entry(
        self,
        envelope: Envelope,
        kind: str,
        requested_by: str,
        subject: str,
        attrs: dict[str, str],
        occurred_at: datetime | None,
    ) -> None:
        scope = "own" if requested_by == subject else "guardian"
        schools: Iterable[str] = await self._schools(requested_by, subject)
        await self._emit(envelope, schools, kind, requested_by, [subject], {"scope": scope, **attrs}, occurred_at)

    async def on_export_requested(self, msg: identity_exports_pb2.DataExportRequested, envelope: Envelope) -> None:
        await self._export_entry(
            envelope,
            "export.requested",
            msg.requested_by_user_id,
            msg.subject_user_id,
            {"export_id": msg.export_id, "subject_told": "true" if msg.notify_subject else "false"},
            from_ts(msg.requested_at),
        )

    async def on_export_delivered(self, msg: chat_exports_pb2.DataExportDelivered, envelope: Envelope) -> None:
        await self._export_entry(
            envelope,
            "export.delivered",
            msg.requested_by_user_id,
            msg.subject_user_id,
            {"export_id": msg.export_id, "file_id": msg.file_id, "size_bytes": str(msg.size_bytes)},
            from_ts(msg.delivered_at),
        )
