"""Revocation reaches other services through the real Kafka (issue 11, finding 6): identity
revokes a session or deletes an account, and another service — the kit's echo with the same
RevocationFeed and edge every service's bootstrap starts — refuses the old token within seconds
and ends its open stream UNAUTHENTICATED."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.identity.v1 import account_pb2, account_pb2_grpc, auth_pb2, auth_pb2_grpc
from parta.testing.v1 import echo_pb2, echo_pb2_grpc
from parta_common.auth import KeyCache, TokenVerifier
from parta_common.events.revocations import IDENTITY_TOPIC, RevocationFeed
from parta_common.grpc.keys import GrpcSigningKeySource
from parta_common.revocation import RevocationList
from parta_common.testing.echo import echo_runner

from tests.e2e.identity_client import auth
from tests.identity.integration.test_identity_grpc import sign_in

pytestmark = pytest.mark.asyncio

WITHIN_SECONDS = 10.0  # "within seconds"; measured times are printed


@dataclass
class Other:
    stub: echo_pb2_grpc.EchoServiceStub
    feed: RevocationFeed


@pytest.fixture
async def other_service(identity, kafka_bootstrap) -> AsyncIterator[Other]:  # type: ignore[no-untyped-def]
    port = identity.service.runner.port
    denied = RevocationList()
    feed = RevocationFeed(
        kafka_bootstrap, identity.settings.topic(IDENTITY_TOPIC), denied, client_id="test-other-revocations"
    )
    verifier = TokenVerifier(
        KeyCache(GrpcSigningKeySource(f"127.0.0.1:{port}")), issuer="parta-identity", audience="parta"
    )
    runner = echo_runner(verifier=verifier, revocations=denied, workers=[feed], readiness=[feed.ready])
    echo_port = await runner.start()
    await runner.wait_ready(timeout=30)  # ready means: caught up with the revocations so far
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{echo_port}")
    try:
        yield Other(echo_pb2_grpc.EchoServiceStub(channel), feed)
    finally:
        await channel.close()
        await runner.stop()


def _reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return ""


async def _refused_within(stub: echo_pb2_grpc.EchoServiceStub, token: str, seconds: float) -> tuple[str, float]:
    started = time.monotonic()
    while True:
        try:
            await stub.Slow(echo_pb2.SlowRequest(millis=0), metadata=auth(token))
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            return _reason(error), time.monotonic() - started
        if time.monotonic() - started > seconds:
            raise AssertionError(f"the old token still works after {seconds} s")
        await asyncio.sleep(0.05)


async def _stream_end(stream) -> grpc.aio.AioRpcError:  # type: ignore[no-untyped-def]
    try:
        async with asyncio.timeout(WITHIN_SECONDS):
            while True:
                await stream.read()
    except grpc.aio.AioRpcError as error:
        return error
    raise AssertionError("the stream ended without an error")


async def test_a_revoked_session_is_refused_by_another_service_and_its_stream_ends(identity, other_service):
    signed = await sign_in(identity)
    second = await sign_in(identity)  # another user: their token keeps working
    stub = other_service.stub
    assert (await stub.Slow(echo_pb2.SlowRequest(millis=0), metadata=auth(signed.access_token))).text == "slept 0"
    stream = stub.Ticks(echo_pb2.TicksRequest(millis=50), metadata=auth(signed.access_token))
    assert (await stream.read()).tick == 0
    sessions = auth_pb2_grpc.AuthServiceStub(identity.channel)
    listed = await sessions.ListSessions(auth_pb2.ListSessionsRequest(), metadata=auth(signed.access_token))
    await sessions.RevokeSession(
        auth_pb2.RevokeSessionRequest(session_id=listed.sessions[0].session_id), metadata=auth(signed.access_token)
    )
    reason, took = await _refused_within(stub, signed.access_token, WITHIN_SECONDS)
    assert reason == "SESSION_REVOKED"
    print(f"revoked session refused by another service after {took * 1000:.0f} ms")
    ended = await _stream_end(stream)
    assert ended.code() == grpc.StatusCode.UNAUTHENTICATED and _reason(ended) == "SESSION_REVOKED"
    assert (await stub.Slow(echo_pb2.SlowRequest(millis=0), metadata=auth(second.access_token))).text == "slept 0"


async def test_a_deleted_account_is_refused_everywhere_with_account_deleted(identity, other_service):
    signed = await sign_in(identity)
    stub = other_service.stub
    stream = stub.Ticks(echo_pb2.TicksRequest(millis=50), metadata=auth(signed.access_token))
    assert (await stream.read()).tick == 0
    await account_pb2_grpc.AccountServiceStub(identity.channel).DeleteAccount(
        account_pb2.DeleteAccountRequest(confirm=True), metadata=auth(signed.access_token)
    )
    reason, took = await _refused_within(stub, signed.access_token, WITHIN_SECONDS)
    assert reason == "ACCOUNT_DELETED"
    print(f"deleted account refused by another service after {took * 1000:.0f} ms")
    ended = await _stream_end(stream)
    assert _reason(ended) == "ACCOUNT_DELETED"


async def test_a_replica_started_later_rebuilds_the_deny_set_from_the_log(identity, kafka_bootstrap):
    signed = await sign_in(identity)
    sessions = auth_pb2_grpc.AuthServiceStub(identity.channel)
    await sessions.RevokeAllSessions(auth_pb2.RevokeAllSessionsRequest(), metadata=auth(signed.access_token))
    denied = RevocationList()
    feed = RevocationFeed(kafka_bootstrap, identity.settings.topic(IDENTITY_TOPIC), denied, client_id="test-late")
    await feed.start()
    try:
        deadline = time.monotonic() + WITHIN_SECONDS
        # The relay publishes within moments; the feed reads from now - 1 h. The entry lands a step
        # before the feed checks its positions against the log's end, so wait for both.
        while len(denied) == 0 or not await feed.ready():
            assert time.monotonic() < deadline, (
                f"the late replica has {len(denied)} revocation(s) and is "
                f"{'ready' if await feed.ready() else 'not ready'} after {WITHIN_SECONDS} s"
            )
            await asyncio.sleep(0.05)
    finally:
        await feed.stop()
