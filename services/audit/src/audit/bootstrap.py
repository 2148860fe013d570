"""Composition root of the audit service: settings → logging → clients → store → use cases →
servicer, the recorder and the chainer (one event consumer), the record log's outbox relay. No logic
here."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from opentelemetry.trace import Tracer
from parta.audit.v1 import audit_pb2, audit_pb2_grpc
from parta_common.auth import KeySource
from parta_common.events import topics
from parta_common.events.consumer import EventConsumer
from parta_common.events.outbox import KafkaProducerHandle, OutboxRelay
from parta_common.events.router import EventRouter
from parta_common.events.writer import OutboxWriter
from parta_common.grpc.server import GrpcServiceRunner
from parta_common.ids import new_id
from parta_common.kit import Infrastructure, build_infrastructure
from parta_common.logging import configure_logging
from parta_common.metrics import ServiceMetrics
from parta_common.mongo import Document, ensure_indexes
from pymongo.asynchronous.database import AsyncDatabase

from audit.adapters import mongo
from audit.adapters.mongo import SUBMISSIONS
from audit.adapters.record_log import MongoRecordLog
from audit.adapters.school import GrpcSchoolAdmins
from audit.api.chainer import Chainer
from audit.api.consumers import TOPICS, Recorder
from audit.api.recording import Recording
from audit.api.servicers import AuditServicer
from audit.app.ports import Admins
from audit.app.trail import AuditTrail
from audit.config import AuditSettings

SERVICE = "audit"
SERVICE_NAMES = [audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name]
log = structlog.get_logger("audit")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AuditService:
    settings: AuditSettings
    infra: Infrastructure
    runner: GrpcServiceRunner
    trail: AuditTrail
    recording: Recording


class _Indexes:
    """A kit worker that creates the indexes before the consumer's first record."""

    def __init__(self, infra: Infrastructure):
        self._infra = infra

    async def start(self) -> None:
        await ensure_indexes(self._infra.database, mongo.indexes())

    async def stop(self) -> None:
        return None


def recording(
    database: AsyncDatabase[Document],
    admins: Admins,
    *,
    bootstrap: str,
    topic: Callable[[str], str],
    group_id: str,
    client_id: str,
    producer: KafkaProducerHandle,
    metrics: ServiceMetrics | None = None,
    tracer: Tracer | None = None,
    source_topics: Sequence[str] = TOPICS,
    now: Callable[[], datetime] = _now,
    initial_backoff: float = 0.1,
) -> Recording:
    """`producer` publishes the record log and the dead letters; `topic` adds the deployment's prefix."""
    chains = mongo.MongoChains(database)
    relay = OutboxRelay(database, [SUBMISSIONS], producer, metrics=metrics)
    record_log = MongoRecordLog(database, OutboxWriter(producer=SERVICE, topic=topic, now=now), relay.notify)
    trail = AuditTrail(chains=chains, log=record_log, admins=admins, now=now, new_id=new_id)
    # One consumer: the recorder reads the services' topics and submits; the chainer reads the
    # record log and appends. Each partition in order, so each school's chain in the log's order.
    handler = EventRouter()
    handler.include(Recorder(mongo.MongoDirectory(database), trail.record).router())
    handler.include(Chainer(chains).router())
    consumer = EventConsumer(
        bootstrap=bootstrap,
        group_id=group_id,
        topics=[topic(t) for t in (*source_topics, topics.AUDIT_RECORD)],
        handler=handler,
        dead_letters=producer,
        metrics=metrics,
        tracer=tracer,
        client_id=client_id,
        initial_backoff=initial_backoff,
    )
    return Recording(trail, relay, consumer)


def build(settings: AuditSettings, *, key_source: KeySource | None = None) -> AuditService:
    infra = build_infrastructure(SERVICE, settings, key_source=key_source)
    admins = GrpcSchoolAdmins(settings.school_address)
    pipeline = recording(
        infra.database,
        admins,
        bootstrap=settings.kafka_bootstrap,
        topic=settings.topic,
        group_id=f"{settings.kafka_topic_prefix}{settings.consumer_group}",
        client_id=f"{SERVICE}-{settings.replica_id or 'main'}",
        producer=infra.producer,
        metrics=infra.metrics,
        tracer=infra.tracer,
    )
    trail = pipeline.trail

    def register(server):  # type: ignore[no-untyped-def]
        audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(trail), server)

    runner = infra.runner(
        registrars=[register],
        service_names=SERVICE_NAMES,
        interceptors=[infra.edge()],
        workers=[_Indexes(infra), pipeline.relay, pipeline.consumer, infra.revocation_feed],
        closers=[admins.close],
    )
    return AuditService(settings, infra, runner, trail, pipeline)


async def _serve(settings: AuditSettings) -> None:
    service = build(settings)
    if settings.metrics_port:
        service.infra.metrics.serve(settings.metrics_port)
    await service.runner.serve_until_signal()


def main() -> None:
    settings = AuditSettings()  # type: ignore[call-arg]  # from the environment
    configure_logging(SERVICE, settings.log_level, stream=sys.stdout)
    log.info("starting", grpc_port=settings.grpc_port)
    asyncio.run(_serve(settings))
