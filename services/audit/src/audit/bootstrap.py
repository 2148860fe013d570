"""Composition root of the audit service: settings → logging → clients → store → use cases →
servicer and the recorder (one event consumer). No logic here."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from parta.audit.v1 import audit_pb2, audit_pb2_grpc
from parta_common.auth import KeySource
from parta_common.events.consumer import EventConsumer
from parta_common.grpc.server import GrpcServiceRunner
from parta_common.ids import new_id
from parta_common.kit import Infrastructure, build_infrastructure
from parta_common.logging import configure_logging
from parta_common.mongo import ensure_indexes

from audit.adapters import mongo
from audit.adapters.school import GrpcSchoolAdmins
from audit.api.consumers import TOPICS, Recorder
from audit.api.servicers import AuditServicer
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
    consumer: EventConsumer


class _Indexes:
    """A kit worker that creates the indexes before the consumer's first record."""

    def __init__(self, infra: Infrastructure):
        self._infra = infra

    async def start(self) -> None:
        await ensure_indexes(self._infra.database, mongo.indexes())

    async def stop(self) -> None:
        return None


def build(settings: AuditSettings, *, key_source: KeySource | None = None) -> AuditService:
    infra = build_infrastructure(SERVICE, settings, key_source=key_source)
    chains = mongo.MongoChains(infra.database)
    directory = mongo.MongoDirectory(infra.database)
    admins = GrpcSchoolAdmins(settings.school_address)
    trail = AuditTrail(chains=chains, admins=admins, now=_now, new_id=new_id)
    consumer = EventConsumer(
        bootstrap=settings.kafka_bootstrap,
        group_id=f"{settings.kafka_topic_prefix}{settings.consumer_group}",
        topics=[settings.topic(t) for t in TOPICS],
        handler=Recorder(directory, trail.record),
        dead_letters=infra.producer,
        metrics=infra.metrics,
        tracer=infra.tracer,
        client_id=f"{SERVICE}-{settings.replica_id or 'main'}",
    )

    def register(server):  # type: ignore[no-untyped-def]
        audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(trail), server)

    runner = infra.runner(
        registrars=[register],
        service_names=SERVICE_NAMES,
        interceptors=[infra.edge()],
        workers=[_Indexes(infra), consumer, infra.revocation_feed],
        closers=[admins.close],
    )
    return AuditService(settings, infra, runner, trail, consumer)


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
