"""What every handler needs, built once in bootstrap: settings, methods, channels, sessions, metrics."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from opentelemetry.trace import Tracer
from parta_common.grpc.forwarded import client_address
from parta_common.metrics import ServiceMetrics
from parta_common.telemetry import current_traceparent

from web.app.ports import Upstream
from web.config import WebSettings
from web.domain.errors import ApiError, gateway_error
from web.domain.origin import csrf_refusal
from web.methods import MethodTable


@dataclass
class Gateway:
    settings: WebSettings
    methods: MethodTable
    upstreams: Upstream
    metrics: ServiceMetrics
    tracer: Tracer | None = None
    draining: bool = False
    sockets: set[web.WebSocketResponse] = field(default_factory=set)
    in_flight: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def client_address(self, request: web.Request) -> str:
        """The browser's address: the TCP peer, or what a trusted proxy in front of us says."""
        remote = request.remote or ""
        peer = f"ipv6:[{remote}]:0" if ":" in remote else f"ipv4:{remote}:0"
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() in ("forwarded", "x-forwarded-for")}
        return client_address(peer, headers, self.settings.trusted_networks())

    def metadata(self, request: web.Request, token: str | None) -> list[tuple[str, str]]:
        out = [
            ("x-forwarded-for", self.client_address(request)),
            ("x-request-id", request.get(REQUEST_ID_KEY) or uuid.uuid4().hex),
        ]
        if token:
            out.append(("authorization", f"Bearer {token}"))
        traceparent = current_traceparent()
        if traceparent:
            out.append(("traceparent", traceparent))
        return out

    def check_csrf(self, request: web.Request, *, require_header: bool = True) -> None:
        reason = csrf_refusal(
            request.headers,
            host=request.host,
            allowed_origins=self.settings.origins(),
            require_header=require_header,
        )
        if reason is not None:
            raise gateway_error("PERMISSION_DENIED", reason, "the request must come from the Parta page itself")

    def refuse_if_draining(self) -> None:
        if self.draining:
            raise ApiError("UNAVAILABLE", "SERVER_DRAINING", "this gateway is shutting down; retry")

    def now(self) -> float:
        return time.time()

    def begin(self) -> None:
        self.in_flight += 1
        self.idle.clear()

    def end(self) -> None:
        self.in_flight -= 1
        if self.in_flight <= 0:
            self.idle.set()


GATEWAY_KEY: web.AppKey[Any] = web.AppKey("gateway", Gateway)
# The request's id (edge_middleware sets it, the gRPC metadata carries it on): a typed key, so aiohttp
# does not warn about a string key (NotAppKeyWarning) and the type checker knows the value.
REQUEST_ID_KEY: web.RequestKey[str] = web.RequestKey("request_id", str)


def gateway_of(request: web.Request) -> Gateway:
    gateway: Gateway = request.app[GATEWAY_KEY]
    return gateway
