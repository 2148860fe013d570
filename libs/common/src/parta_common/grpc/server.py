"""Runs one service's grpc.aio server: health, reflection, limits, background workers, graceful stop.

Shutdown on SIGTERM/SIGINT: health → NOT_SERVING; the edge refuses new calls and ends open streams
with UNAVAILABLE `SERVER_DRAINING` at once; in-flight unary calls complete within the grace period;
then grpc stops (nothing left to cancel), background workers stop (consumers commit their
offsets) and clients close.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

log = structlog.get_logger("parta.server")

# Health service name for liveness probes: SERVING from start until shutdown, whatever the
# dependencies say. Readiness ("" and each service name) follows Mongo/Kafka; liveness must not,
# or a database outage would make Kubernetes restart every replica. It still fails when the event
# loop is stuck, because then nobody answers the probe.
LIVENESS_SERVICE = "parta.liveness"

ReadinessCheck = Callable[[], Awaitable[bool]]
Registrar = Callable[[grpc.aio.Server], None]


class Worker(Protocol):
    """A background task owned by the service: outbox relay, event consumer …"""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class ServerSpec:
    name: str
    host: str
    port: int
    registrars: Sequence[Registrar]
    service_names: Sequence[str]
    interceptors: Sequence[grpc.aio.ServerInterceptor] = ()
    readiness: Sequence[ReadinessCheck] = ()
    workers: Sequence[Worker] = ()
    closers: Sequence[Callable[[], Awaitable[None]]] = ()
    grace_seconds: float = 10.0
    max_message_bytes: int = 4 * 1024 * 1024
    health_interval: float = 2.0
    # A worker's stop (a consumer's commit, a reader's close) gets this long; one that hangs is
    # logged and left behind, so the drain always ends and the next worker still stops.
    worker_stop_seconds: float = 10.0
    extra_options: Sequence[tuple[str, int]] = field(default_factory=tuple)


def server_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.max_connection_age_ms", 30 * 60_000),
        ("grpc.max_connection_age_grace_ms", 60_000),
    ]


class GrpcServiceRunner:
    def __init__(self, spec: ServerSpec):
        self.spec = spec
        self.server = grpc.aio.server(
            interceptors=list(spec.interceptors),
            options=[*server_options(spec.max_message_bytes), *spec.extra_options],
        )
        self.health = health.aio.HealthServicer()
        self.port = 0
        self._health_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._shutting_down = False

    async def start(self) -> int:
        for register in self.spec.registrars:
            register(self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            [*self.spec.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self.port = self.server.add_insecure_port(f"{self.spec.host}:{self.spec.port}")
        if self.port == 0:
            raise RuntimeError(f"cannot bind {self.spec.host}:{self.spec.port}")
        await self._set_health(serving=False)
        for worker in self.spec.workers:
            await worker.start()
        await self.server.start()
        await self.health.set(LIVENESS_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        await self._check_health()
        self._health_task = asyncio.create_task(self._health_loop(), name="health")
        log.info("server_started", service=self.spec.name, host=self.spec.host, port=self.port)
        return self.port

    async def _set_health(self, *, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *self.spec.service_names):
            await self.health.set(name, status)

    async def _check_health(self) -> bool:
        results = await asyncio.gather(*(check() for check in self.spec.readiness), return_exceptions=True)
        # A worker may report itself unhealthy (a consumer holding a record while a dependency is
        # down): the replica is then behind on its projections, so it is not ready either.
        workers_ok = all(getattr(worker, "healthy", True) is not False for worker in self.spec.workers)
        ok = workers_ok and all(result is True for result in results)
        if not self._shutting_down:
            await self._set_health(serving=ok)
        return ok

    async def _health_loop(self) -> None:
        while not self._shutting_down:
            await asyncio.sleep(self.spec.health_interval)
            with contextlib.suppress(Exception):
                await self._check_health()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await self._check_health():
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{self.spec.name} not ready in {timeout}s")
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        if self._shutting_down:
            await self._stopped.wait()
            return
        self._shutting_down = True
        log.info("server_draining", service=self.spec.name, grace_seconds=self.spec.grace_seconds)
        await self.health.enter_graceful_shutdown()
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
        # Stop accepting, then drain: the edge refuses new calls (UNAVAILABLE SERVER_DRAINING), ends
        # open streams at once and waits for unary calls in flight. Only then does grpc stop, so it
        # finds nothing to cancel — grpc's stop() cancels what is still running when grace ends.
        loop = asyncio.get_running_loop()
        started = loop.time()
        for interceptor in self.spec.interceptors:
            drain = getattr(interceptor, "drain", None)
            if drain is not None:
                await drain(self.spec.grace_seconds)
        remaining = max(0.0, self.spec.grace_seconds - (loop.time() - started))
        await self.server.stop(remaining)
        log.info("server_drained", service=self.spec.name, seconds=round(loop.time() - started, 3))
        for worker in reversed(self.spec.workers):
            try:
                await asyncio.wait_for(worker.stop(), timeout=self.spec.worker_stop_seconds)
            except TimeoutError:
                log.error("worker_stop_timed_out", worker=type(worker).__name__, seconds=self.spec.worker_stop_seconds)
            except Exception:
                log.exception("worker_stop_failed", worker=type(worker).__name__)
        for close in self.spec.closers:
            try:
                await close()
            except Exception:
                log.exception("close_failed")
        log.info("server_stopped", service=self.spec.name)
        self._stopped.set()

    async def serve_until_signal(
        self,
        signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT),
        *,
        before_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Start, then run until a signal arrives; returns after a clean shutdown (exit code 0).
        `before_stop` runs first after the signal (e.g. telling long-lived streams to move)."""
        loop = asyncio.get_running_loop()
        received = asyncio.Event()
        for sig in signals:
            loop.add_signal_handler(sig, received.set)
        await self.start()
        await received.wait()
        if before_stop is not None:
            await before_stop()
        await self.stop()
