"""Composition root: settings → logging → channels → the aiohttp app; serve until SIGTERM, then drain."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass

import structlog
from aiohttp import web
from parta_common.logging import configure_logging
from parta_common.metrics import ServiceMetrics
from parta_common.telemetry import Tracing, tracing_from_env

from web.adapters.server import GatewayRunner, route_aiohttp_logs
from web.adapters.upstream import Upstreams
from web.api.context import Gateway
from web.api.routes import build_app
from web.config import WebSettings
from web.domain.errors import WS_GOING_AWAY
from web.methods import MethodTable

log = structlog.get_logger("web")
SERVICE = "web"
LINGER_SECONDS = 1.0


@dataclass
class WebService:
    settings: WebSettings
    gateway: Gateway
    app: web.Application
    tracing: Tracing | None
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> int:
        route_aiohttp_logs()
        self.runner = GatewayRunner(
            self.app,
            access_log=None,
            shutdown_timeout=self.settings.grace_seconds,
            # Closes a connection that sends no request (or only part of its line and headers).
            keepalive_timeout=self.settings.keepalive_seconds,
            # After refusing a request whose body is still coming, read on at most this long.
            lingering_time=LINGER_SECONDS,
        )
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.http_port
        log.info("server_started", service=SERVICE, host=self.settings.http_host, port=self.port)
        return self.port

    async def stop(self) -> None:
        """Drain: not ready, refuse new calls (503 SERVER_DRAINING), tell open sockets to go
        elsewhere (1001), let calls in flight finish within the grace period, then close."""
        gateway = self.gateway
        if gateway.draining:
            return
        gateway.draining = True
        log.info("server_draining", service=SERVICE, grace_seconds=self.settings.grace_seconds)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for ws in list(gateway.sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=WS_GOING_AWAY, message=b'{"code":"UNAVAILABLE","reason":"SERVER_DRAINING"}')
        if gateway.in_flight > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gateway.idle.wait(), self.settings.grace_seconds)
        if self.runner is not None:
            await self.runner.cleanup()
        await gateway.upstreams.close()
        if self.tracing is not None:
            await self.tracing.shutdown()
        log.info("server_stopped", service=SERVICE, seconds=round(loop.time() - started, 3))

    async def serve_until_signal(self) -> None:
        loop = asyncio.get_running_loop()
        received = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, received.set)
        await self.start()
        await received.wait()
        await self.stop()


def build(settings: WebSettings, metrics: ServiceMetrics | None = None) -> WebService:
    tracing = tracing_from_env(SERVICE, replica_id=settings.replica_id)
    upstreams = Upstreams(
        {
            "identity": settings.identity_address,
            "school": settings.school_address,
            "chat": settings.chat_address,
            "media_signal": settings.media_signal_address,
            "audit": settings.audit_address,
        },
        settings.max_message_bytes,
    )
    gateway = Gateway(
        settings=settings,
        methods=MethodTable(),
        upstreams=upstreams,
        metrics=metrics or ServiceMetrics(SERVICE, host=settings.metrics_host),
        tracer=tracing.tracer if tracing is not None else None,
    )
    return WebService(settings, gateway, build_app(gateway), tracing)


async def _serve(settings: WebSettings) -> None:
    service = build(settings)
    if settings.metrics_port:
        service.gateway.metrics.serve(settings.metrics_port)
    await service.serve_until_signal()


def main() -> None:
    settings = WebSettings()  # type: ignore[call-arg]  # from the environment
    configure_logging(SERVICE, settings.log_level, stream=sys.stdout)
    asyncio.run(_serve(settings))
