"""GET /api/ws/<full.service.Name>/<Method>: a gRPC stream as a WebSocket.

The first client text frame is the request (protobuf JSON). Server-streaming RPCs send each
response as a text frame; bidirectional RPCs also relay every later client frame into the stream.
The stream's end closes the socket with 1000; a gRPC error with 4000 + its code and the JSON error
body as the reason. Frames are bounded in size (larger ones close with 1009) and in rate
(4008, RESOURCE_EXHAUSTED).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import grpc
import structlog
from aiohttp import WSMsgType, web

from web.api.context import Gateway, gateway_of
from web.api.http import from_json, to_json
from web.api.sessions import SESSIONS_KEY
from web.domain.errors import WS_GOING_AWAY, WS_NORMAL_CLOSE, ApiError, gateway_error
from web.domain.rate import TokenBucket
from web.methods import Method
from web.rpc_errors import api_error_from

log = structlog.get_logger("web.ws")
FIRST_FRAME_SECONDS = 15.0
ROOM_PINNED_ELSEWHERE = "ROOM_PINNED_ELSEWHERE"


async def stream(request: web.Request) -> web.StreamResponse:
    gateway = gateway_of(request)
    gateway.refuse_if_draining()
    method = gateway.methods.stream(request.match_info["service"], request.match_info["method"])
    if method is None:
        raise gateway_error("NOT_FOUND", "NO_SUCH_STREAM", "no such streaming method")
    # Cross-site WebSocket hijacking: a page elsewhere can open a socket to us with the cookies.
    gateway.check_csrf(request, require_header=False)
    # Expired and nothing to refresh it with: a plain 401 beats a socket that closes at once.
    token, fresh = await request.app[SESSIONS_KEY].live_token(request)
    settings = gateway.settings
    ws = web.WebSocketResponse(
        heartbeat=settings.ws_heartbeat_seconds, max_msg_size=settings.ws_max_frame_bytes, autoping=True
    )
    if fresh is not None:
        request.app[SESSIONS_KEY].set_cookies(ws, fresh)
    await ws.prepare(request)
    gateway.sockets.add(ws)
    try:
        await _relay(request, gateway, method, token, ws)
    finally:
        gateway.sockets.discard(ws)
        if not ws.closed:
            await ws.close(code=WS_GOING_AWAY)
    return ws


async def _close_with(ws: web.WebSocketResponse, error: ApiError) -> None:
    await ws.close(code=error.close_code(), message=error.close_reason().encode())


class _ClientFrames:
    """Reads client frames with the rate limit; returns None when the client has gone."""

    def __init__(self, ws: web.WebSocketResponse, bucket: TokenBucket):
        self.ws = ws
        self.bucket = bucket
        self.refusal: ApiError | None = None

    async def next(self, timeout: float | None = None) -> str | None:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return None  # aiohttp has already closed too-large frames with 1009
        if not self.bucket.take():
            self.refusal = gateway_error("RESOURCE_EXHAUSTED", "WS_RATE_LIMIT", "too many messages; slow down")
            return None
        if msg.type is not WSMsgType.TEXT:
            self.refusal = gateway_error("INVALID_ARGUMENT", "TEXT_FRAMES_ONLY", "send JSON text frames")
            return None
        return str(msg.data)


def _parse(text: str, method: Method) -> Any:
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        raise gateway_error("INVALID_ARGUMENT", "INVALID_JSON", "the frame is not JSON") from None
    return from_json(payload, method.request())


async def _relay(request: web.Request, gateway: Gateway, method: Method, token: str, ws: web.WebSocketResponse) -> None:
    settings = gateway.settings
    frames = _ClientFrames(
        ws, TokenBucket(settings.ws_messages_per_second, 2 * settings.ws_messages_per_second, time.monotonic)
    )
    try:
        first = await frames.next(timeout=FIRST_FRAME_SECONDS)
    except TimeoutError:
        await _close_with(ws, gateway_error("INVALID_ARGUMENT", "REQUEST_MISSING", "send the request first"))
        return
    if first is None:
        if frames.refusal is not None:
            await _close_with(ws, frames.refusal)
        return
    try:
        message = _parse(first, method)
    except ApiError as error:
        await _close_with(ws, error)
        return
    metadata = gateway.metadata(request, token)
    stream = _Stream(gateway, method, metadata, message)
    await stream.open()

    async def client_to_stream() -> None:
        while True:
            text = await frames.next()
            if text is None:
                return
            if not method.client_streaming:
                continue  # a server-streaming call takes no more requests; the frame is dropped
            try:
                await stream.call.write(_parse(text, method))
            except ApiError as error:
                frames.refusal = error
                return
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
                continue  # the call has ended: the response side reports how, and ends the socket

    reader = asyncio.create_task(client_to_stream(), name="ws-client-frames")
    outcome: ApiError | None = None
    try:
        while True:
            try:
                async for reply in _responses(stream.call, reader):
                    stream.answered = True
                    await ws.send_str(json.dumps(to_json(reply), ensure_ascii=False, separators=(",", ":")))
            except grpc.aio.AioRpcError as error:
                outcome = api_error_from(error)
                if await stream.follow_pin(outcome):
                    outcome = None
                    continue
            break
    except asyncio.CancelledError:
        stream.call.cancel()
        raise
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
    if frames.refusal is not None:
        stream.call.cancel()
        await _close_with(ws, frames.refusal)
    elif outcome is not None:
        if outcome.code != "CANCELLED" or not ws.closed:
            await _close_with(ws, outcome)
    else:
        stream.call.cancel()  # ended by the client (closed or went away): nothing further to send
        await ws.close(code=WS_NORMAL_CLOSE)


class _Stream:
    """The gRPC call behind one socket. A media-signal room lives on one replica: a join that lands
    on another is refused with ROOM_PINNED_ELSEWHERE naming the owner's address (ErrorInfo
    metadata, from the service, never from the browser), and the gateway reopens the stream there
    once, with the same first message, before anything reached the browser."""

    def __init__(self, gateway: Gateway, method: Method, metadata: list[tuple[str, str]], first: Any):
        self.gateway = gateway
        self.method = method
        self.metadata = metadata
        self.first = first
        self.call: Any = None
        self.answered = False
        self.redirected = False

    async def open(self, address: str | None = None) -> None:
        bidi = self.method.client_streaming
        request = None if bidi else self.first
        self.call = self.gateway.upstreams.open(self.method, self.metadata, request, address=address)
        if bidi:
            await self.call.write(self.first)

    async def follow_pin(self, error: ApiError) -> bool:
        owner = error.metadata.get("owner_address", "")
        if error.reason != ROOM_PINNED_ELSEWHERE or not owner or self.answered or self.redirected:
            return False
        self.redirected = True
        log.info("stream_follows_room_owner", rpc=self.method.path)
        await self.open(owner)
        return True


async def _responses(call: Any, reader: asyncio.Task[None]) -> Any:
    """The call's responses until it ends or the client side stops (closed, refused)."""
    responses = call.__aiter__()
    while True:
        nxt = asyncio.ensure_future(responses.__anext__())
        done, _ = await asyncio.wait({nxt, reader}, return_when=asyncio.FIRST_COMPLETED)
        if nxt in done:
            try:
                yield nxt.result()
            except StopAsyncIteration:
                return
            continue
        # The client stopped first: end the call, drop whatever was in flight.
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError, StopAsyncIteration):
            await nxt
        return
