"""One gRPC channel per service behind the gateway, generic calls by method, errors as ApiError."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from web.app.ports import Metadata
from web.methods import Method
from web.rpc_errors import api_error_from

# Channels to single replicas kept open at once (room owners); the oldest is closed beyond this.
MAX_PINNED_CHANNELS = 16


def channel_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        # Spread calls over every address the name resolves to (several replicas behind one name).
        ("grpc.lb_policy_name", "round_robin"),
    ]


class Upstreams:
    def __init__(self, addresses: dict[str, str], max_message_bytes: int):
        self._channels = {
            name: grpc.aio.insecure_channel(address, options=channel_options(max_message_bytes))
            for name, address in addresses.items()
        }
        self._callables: dict[str, Any] = {}
        self._options = channel_options(max_message_bytes)
        self._pinned: dict[str, grpc.aio.Channel] = {}
        self._closing: list[asyncio.Future[None]] = []

    def _callable(self, method: Method, address: str | None = None) -> Any:
        key = method.path if address is None else f"{address}{method.path}"
        found = self._callables.get(key)
        if found is not None:
            return found
        channel = self._channels[method.upstream] if address is None else self._pinned_channel(address)
        factory = {
            (False, False): channel.unary_unary,
            (False, True): channel.unary_stream,
            (True, False): channel.stream_unary,
            (True, True): channel.stream_stream,
        }[(method.client_streaming, method.server_streaming)]
        made = factory(
            method.path,
            request_serializer=method.request.SerializeToString,
            response_deserializer=method.response.FromString,
        )
        self._callables[key] = made
        return made

    def _pinned_channel(self, address: str) -> grpc.aio.Channel:
        """A channel to one replica by address (a media-signal room's owner), from a small cache."""
        channel = self._pinned.get(address)
        if channel is None:
            while len(self._pinned) >= MAX_PINNED_CHANNELS:
                oldest, stale = next(iter(self._pinned.items()))
                del self._pinned[oldest]
                self._callables = {k: v for k, v in self._callables.items() if not k.startswith(oldest + "/")}
                self._closing.append(asyncio.ensure_future(stale.close(grace=30)))
            channel = self._pinned[address] = grpc.aio.insecure_channel(address, options=self._options)
        return channel

    async def unary(self, method: Method, request: Any, metadata: Metadata, timeout: float) -> Any:
        try:
            return await self._callable(method)(request, metadata=tuple(metadata), timeout=timeout)
        except grpc.aio.AioRpcError as error:
            raise api_error_from(error) from None

    def open(
        self,
        method: Method,
        metadata: Metadata,
        request: Any = None,
        *,
        address: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """A streaming call: server-streaming takes the request now; client- and bidi-streaming
        calls are written to (call.write / done_writing). `address`: one replica, not the service;
        `timeout`: the call's deadline (none for live streams that last as long as the page)."""
        stub = self._callable(method, address)
        if method.client_streaming:
            return stub(metadata=tuple(metadata), timeout=timeout)
        return stub(request, metadata=tuple(metadata), timeout=timeout)

    async def serving(self, name: str, timeout: float = 1.0) -> bool:
        try:
            reply = await health_pb2_grpc.HealthStub(self._channels[name]).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
        except (TimeoutError, grpc.aio.AioRpcError):
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def names(self) -> list[str]:
        return list(self._channels)

    async def close(self) -> None:
        for channel in [*self._channels.values(), *self._pinned.values()]:
            await channel.close()
        for closing in self._closing:
            await closing
