"""Issue 13: the SDK retries idempotent calls (reads, and sends carrying a client id) on UNAVAILABLE
and CANCELLED — a draining replica, a store outage, a call caught by a server's stop — with the
same request, so the same client id; other calls and other codes are never sent twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

import grpc
import pytest
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta_client import Endpoints, Parta, Session

pytestmark = pytest.mark.unit


@dataclass
class FlakyChats(chat_pb2_grpc.ChatServiceServicer):
    """Fails the first `failures` calls of each method with `code`, then answers."""

    failures: int = 2
    code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    seen: list[tuple[str, str]] = field(default_factory=list)

    async def _maybe_fail(self, method: str, key: str, context: grpc.aio.ServicerContext) -> None:
        self.seen.append((method, key))
        if sum(1 for m, _ in self.seen if m == method) <= self.failures:
            retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=10_000_000))
            packed = status_pb2.Status(code=self.code.value[0], message="draining")
            packed.details.add().Pack(retry)
            status = rpc_status.to_status(packed)
            await context.abort(status.code, status.details, status.trailing_metadata)

    async def SendMessage(self, request, context):  # type: ignore[no-untyped-def]
        await self._maybe_fail("send", request.client_message_id, context)
        return chat_pb2.SendMessageResponse(message={"client_message_id": request.client_message_id, "seq": 1})

    async def MarkRead(self, request, context):  # type: ignore[no-untyped-def]
        await self._maybe_fail("mark", str(request.seq), context)
        return chat_pb2.MarkReadResponse(last_read_seq=request.seq)

    async def ListChats(self, request, context):  # type: ignore[no-untyped-def]
        await self._maybe_fail("list", "", context)
        return chat_pb2.ListChatsResponse()


async def _serve(chats: FlakyChats) -> tuple[grpc.aio.Server, Endpoints]:
    server = grpc.aio.server()
    chat_pb2_grpc.add_ChatServiceServicer_to_server(chats, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    address = f"127.0.0.1:{port}"
    return server, Endpoints(identity=address, school=address, chat=address, media_signal=address)


def _session() -> Session:
    session = Session(user_id="u-1", phone="+79000000003", access_token="a", refresh_token="r")
    session.access_expires_at = datetime(2999, 1, 1).timestamp()
    return session


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[FlakyChats, Parta]]:
    chats = FlakyChats()
    server, endpoints = await _serve(chats)
    async with Parta(endpoints, session=_session()) as parta:
        yield chats, parta
    await server.stop(0)


async def test_a_send_with_a_client_id_is_retried_with_the_same_id(flaky) -> None:  # type: ignore[no-untyped-def]
    chats, parta = flaky
    reply = await parta.chats.SendMessage(chat_pb2.SendMessageRequest(chat_id="c", client_message_id="m-1", text="x"))
    assert reply.message.client_message_id == "m-1"
    assert chats.seen == [("send", "m-1")] * 3


async def test_cancelled_by_a_stopping_server_is_retried_too() -> None:
    chats = FlakyChats(code=grpc.StatusCode.CANCELLED)
    server, endpoints = await _serve(chats)
    try:
        async with Parta(endpoints, session=_session()) as parta:
            await parta.chats.ListChats(chat_pb2.ListChatsRequest())
        assert [m for m, _ in chats.seen] == ["list"] * 3
    finally:
        await server.stop(0)


async def test_a_call_without_idempotency_is_not_retried(flaky) -> None:  # type: ignore[no-untyped-def]
    chats, parta = flaky
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await parta.chats.MarkRead(chat_pb2.MarkReadRequest(chat_id="c", seq=3))
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert chats.seen == [("mark", "3")]


async def test_a_send_without_a_client_id_is_not_retried(flaky) -> None:  # type: ignore[no-untyped-def]
    chats, parta = flaky
    with pytest.raises(grpc.aio.AioRpcError):
        await parta.chats.SendMessage(chat_pb2.SendMessageRequest(chat_id="c", text="x"))
    assert len(chats.seen) == 1


async def test_other_codes_are_not_retried() -> None:
    chats = FlakyChats(code=grpc.StatusCode.INTERNAL)
    server, endpoints = await _serve(chats)
    try:
        async with Parta(endpoints, session=_session()) as parta:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await parta.chats.ListChats(chat_pb2.ListChatsRequest())
        assert info.value.code() == grpc.StatusCode.INTERNAL
        assert len(chats.seen) == 1
    finally:
        await server.stop(0)


async def test_retries_stop_at_the_deadline() -> None:
    chats = FlakyChats(failures=1000)
    server, endpoints = await _serve(chats)
    try:
        async with Parta(endpoints, session=_session()) as parta:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await parta.chats.ListChats(chat_pb2.ListChatsRequest(), timeout=0.5)
        assert info.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        assert 1 < len(chats.seen) <= 5
    finally:
        await server.stop(0)
