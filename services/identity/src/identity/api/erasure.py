"""ErasureService (a guardian deletes a young child's account, reads the erasure report) and the
consumer of erasure.report.v1 that gathers every service's report (app/erasure.py)."""

from __future__ import annotations

import grpc
from parta.common.v1 import envelope_pb2, erasure_pb2
from parta.identity.v1 import erasure_pb2 as pb
from parta.identity.v1 import erasure_pb2_grpc
from parta_common.erasure import report_payload
from parta_common.events import topics
from parta_common.events.consumer import EventConsumer
from parta_common.events.router import EventRouter
from parta_common.grpc.context import require_principal
from parta_common.kit import Infrastructure
from parta_common.settings import ServiceSettings
from parta_common.timestamps import from_ts, ts

from identity.app.erasure import Erasures
from identity.domain.erasure import ServiceReport


class ErasureServicer(erasure_pb2_grpc.ErasureServiceServicer):
    def __init__(self, erasures: Erasures):
        self._erasures = erasures

    async def DeleteChildAccount(
        self, request: pb.DeleteChildAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteChildAccountResponse:
        at = await self._erasures.delete_child(require_principal().user_id, request.child_user_id, request.confirm)
        return pb.DeleteChildAccountResponse(deleted_at=ts(at))

    async def GetErasureReport(
        self, request: pb.GetErasureReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetErasureReportResponse:
        report = await self._erasures.report(require_principal().user_id, request.user_id)
        return pb.GetErasureReportResponse(
            user_id=report.user_id,
            deleted_at=ts(report.deleted_at),
            services=[
                report_payload(s.user_id, s.service, s.counts, s.requested_by, s.erased_at) for s in report.services
            ],
            complete=report.complete,
        )


class ErasureReportCollector:
    """erasure.report.v1 → the report store; idempotent (one entry per account and service)."""

    def __init__(self, erasures: Erasures):
        self._erasures = erasures

    def router(self) -> EventRouter:
        router = EventRouter()
        router.register(erasure_pb2.ErasureReported, self.on_report)
        return router

    async def on_report(self, event: erasure_pb2.ErasureReported, envelope: envelope_pb2.EventEnvelope) -> None:
        if not event.user_id or not event.service:
            return
        at = from_ts(event.erased_at) or from_ts(envelope.occurred_at)
        assert at is not None
        counts = {c.what: int(c.count) for c in event.removed}
        await self._erasures.record(ServiceReport(event.user_id, event.service, counts, event.requested_by_user_id, at))


def erasure_report_consumer(
    settings: ServiceSettings, infra: Infrastructure, collector: ErasureReportCollector
) -> EventConsumer:
    return EventConsumer(
        bootstrap=settings.kafka_bootstrap,
        group_id=f"{settings.kafka_topic_prefix}identity-erasure-reports",
        topics=[settings.topic(topics.ERASURE_REPORT)],
        handler=collector.router(),
        dead_letters=infra.producer,
        metrics=infra.metrics,
        tracer=infra.tracer,
        client_id=f"identity-erasure-{settings.replica_id or 'main'}",
    )
