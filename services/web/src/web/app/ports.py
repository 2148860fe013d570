"""The services behind the gateway, as its HTTP edge uses them. The gRPC channels that implement
this live in adapters/upstream.py; api/ sees only this port, so a handler can be tested on a fake."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from web.methods import Method

Metadata = Sequence[tuple[str, str]]


class Upstream(Protocol):
    async def unary(self, method: Method, request: Any, metadata: Metadata, timeout: float) -> Any:
        """One unary call; a failure is raised as web.domain.errors.ApiError."""

    def open(
        self,
        method: Method,
        metadata: Metadata,
        request: Any = None,
        *,
        address: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """A streaming call (grpc.aio's call object): server-streaming takes the request now;
        client- and bidi-streaming calls are written to. `address`: one replica, not the service."""

    async def serving(self, name: str, timeout: float = 1.0) -> bool:
        """Whether the named upstream's health check answers SERVING."""

    def names(self) -> list[str]:
        """The upstreams' names (identity, school, chat, media_signal, audit)."""

    async def close(self) -> None:
        """Close every channel."""
