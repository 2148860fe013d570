"""Builds the pieces every service's bootstrap needs from its settings; no logic, no globals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.trace import Tracer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from parta_common.auth import KeyCache, KeySource, TokenVerifier
from parta_common.events import topics
from parta_common.events.outbox import KafkaProducerHandle, OutboxRelay
from parta_common.events.revocations import RevocationFeed
from parta_common.grpc.edge import EdgeInterceptor, PrincipalCheck
from parta_common.grpc.keys import GrpcSigningKeySource
from parta_common.grpc.server import GrpcServiceRunner, ReadinessCheck, Registrar, ServerSpec, Worker
from parta_common.metrics import ServiceMetrics
from parta_common.mongo import StoreCommandCounter, create_mongo_client, ping
from parta_common.revocation import RevocationList
from parta_common.settings import ServiceSettings
from parta_common.telemetry import Tracing, tracing_from_env


@dataclass
class Infrastructure:
    service: str
    settings: ServiceSettings
    metrics: ServiceMetrics
    mongo: AsyncMongoClient[dict[str, Any]]
    database: AsyncDatabase[dict[str, Any]]
    producer: KafkaProducerHandle
    verifier: TokenVerifier
    revocations: RevocationList
    # A Worker every service starts: it fills `revocations` from identity.user.v1.
    revocation_feed: RevocationFeed
    tracing: Tracing | None = None
    store_commands: StoreCommandCounter | None = None

    @property
    def tracer(self) -> Tracer | None:
        """For EventConsumer(tracer=...); None while tracing is off."""
        return self.tracing.tracer if self.tracing is not None else None

    def readiness(self) -> list[ReadinessCheck]:
        async def mongo_ready() -> bool:
            return await ping(self.mongo)

        # Not ready until the revocation feed has caught up and while it cannot hear Kafka: a
        # replica that does not know the revoked sessions must not judge tokens.
        return [mongo_ready, self.producer.is_up, self.revocation_feed.ready]

    def relay(self, collections: Iterable[str], *, poll_interval: float = 0.5) -> OutboxRelay:
        return OutboxRelay(self.database, collections, self.producer, metrics=self.metrics, poll_interval=poll_interval)

    def edge(
        self, public_methods: Iterable[str] = (), principal_check: PrincipalCheck | None = None
    ) -> EdgeInterceptor:
        return EdgeInterceptor(
            verifier=self.verifier,
            public_methods=public_methods,
            metrics=self.metrics,
            principal_check=principal_check,
            tracer=self.tracer,
            revocations=self.revocations,
            trusted_proxies=self.settings.trusted_networks(),
        )

    def runner(
        self,
        *,
        registrars: Sequence[Registrar],
        service_names: Sequence[str],
        interceptors: Sequence[grpc.aio.ServerInterceptor],
        workers: Sequence[Worker],
        readiness: Sequence[ReadinessCheck] | None = None,
        closers: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> GrpcServiceRunner:
        """The service's gRPC server from its settings (address, grace, message size). Readiness
        defaults to `readiness()`; `closers` run before the infrastructure's own `close`."""
        return GrpcServiceRunner(
            ServerSpec(
                name=self.service,
                host=self.settings.grpc_host,
                port=self.settings.grpc_port,
                registrars=registrars,
                service_names=service_names,
                interceptors=interceptors,
                readiness=self.readiness() if readiness is None else readiness,
                workers=workers,
                closers=[*closers, self.close],
                grace_seconds=self.settings.grace_seconds,
                max_message_bytes=self.settings.max_message_bytes,
            )
        )

    async def close(self) -> None:
        await self.producer.close()
        await self.mongo.close()
        if self.tracing is not None:
            await self.tracing.shutdown()


def build_infrastructure(
    service: str, settings: ServiceSettings, *, key_source: KeySource | None = None
) -> Infrastructure:
    """`key_source` defaults to identity's SigningKeyService at settings.identity_address."""
    if key_source is None:
        if not settings.identity_address:
            raise ValueError("IDENTITY_ADDRESS is required to verify access tokens")
        key_source = GrpcSigningKeySource(settings.identity_address)
    metrics = ServiceMetrics(service, host=settings.metrics_host)
    commands = StoreCommandCounter(metrics.count_store_command) if settings.mongodb_command_metrics else None
    mongo = create_mongo_client(settings.mongodb_uri.get_secret_value(), app_name=service, command_listener=commands)
    verifier = TokenVerifier(
        KeyCache(key_source),
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        cache_size=settings.auth_token_cache_size,
    )
    revocations = RevocationList(max_entries=settings.revocation_max_entries)
    feed = RevocationFeed(
        settings.kafka_bootstrap,
        settings.topic(topics.IDENTITY_USER),
        revocations,
        horizon_seconds=settings.revocation_horizon_seconds,
        max_lag_seconds=settings.revocation_max_lag_seconds,
        client_id=f"{service}-revocations-{settings.replica_id or 'main'}",
    )
    return Infrastructure(
        service=service,
        settings=settings,
        metrics=metrics,
        mongo=mongo,
        database=mongo[settings.mongodb_database],
        producer=KafkaProducerHandle(settings.kafka_bootstrap, client_id=f"{service}-{settings.replica_id or 'main'}"),
        verifier=verifier,
        revocations=revocations,
        revocation_feed=feed,
        tracing=tracing_from_env(service, replica_id=settings.replica_id),
        store_commands=commands,
    )


async def serve(
    runner: GrpcServiceRunner,
    infra: Infrastructure,
    *,
    metrics_port: int = 0,
    before_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Every service's `serve` command: the metrics endpoint (when a port is set), then the gRPC
    server until SIGTERM/SIGINT, then a graceful stop (`before_stop` first)."""
    if metrics_port:
        infra.metrics.serve(metrics_port)
    await runner.serve_until_signal(before_stop=before_stop)
