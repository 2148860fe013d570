"""The kit's gRPC edge: error mapping and authentication, on an in-process server on port 0."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import jwt
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.testing.v1 import echo_pb2, echo_pb2_grpc
from parta_common.metrics import ServiceMetrics
from parta_common.testing.echo import echo_runner
from parta_common.testing.fakes import LogCapture, TokenMint


@pytest.fixture
def keys() -> TokenMint:
    return TokenMint()


@pytest.fixture
async def echo(keys: TokenMint) -> AsyncIterator[tuple[echo_pb2_grpc.EchoServiceStub, ServiceMetrics]]:
    metrics = ServiceMetrics("echo")
    runner = echo_runner(verifier=keys.verifier(), metrics=metrics)
    port = await runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield echo_pb2_grpc.EchoServiceStub(channel), metrics
    await channel.close()
    await runner.stop()


def _auth(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def _details(error: grpc.aio.AioRpcError) -> list[object]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    out: list[object] = []
    for detail in status.details:
        for cls in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest, error_details_pb2.RetryInfo):
            if detail.Is(cls.DESCRIPTOR):
                msg = cls()
                detail.Unpack(msg)
                out.append(msg)
    return out


async def test_invalid_input_gives_invalid_argument_with_field_violations(echo, keys):
    stub, _ = echo
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Fail(echo_pb2.FailRequest(mode="invalid"), metadata=_auth(keys.token("u1")))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = _details(caught.value)
    bad = next(d for d in details if isinstance(d, error_details_pb2.BadRequest))
    assert [v.field for v in bad.field_violations] == ["text", "mode"]
    info = next(d for d in details if isinstance(d, error_details_pb2.ErrorInfo))
    assert info.reason == "INVALID_ARGUMENT"


async def test_domain_not_found_gives_not_found_with_its_reason(echo, keys):
    stub, _ = echo
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Fail(echo_pb2.FailRequest(mode="not_found"), metadata=_auth(keys.token("u1")))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    info = next(d for d in _details(caught.value) if isinstance(d, error_details_pb2.ErrorInfo))
    assert info.reason == "SCHOOL_NOT_FOUND"


async def test_resource_exhausted_carries_retry_info(echo, keys):
    stub, _ = echo
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Fail(echo_pb2.FailRequest(mode="exhausted"), metadata=_auth(keys.token("u1")))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    retry = next(d for d in _details(caught.value) if isinstance(d, error_details_pb2.RetryInfo))
    assert retry.retry_delay.seconds == 1 and retry.retry_delay.nanos == 500_000_000


async def test_unexpected_exception_is_internal_without_internals(echo, keys):
    stub, metrics = echo
    logs = LogCapture()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Fail(echo_pb2.FailRequest(mode="boom"), metadata=_auth(keys.token("u1")))
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert caught.value.details() == "internal error"
    assert "hunter2" not in str(caught.value.debug_error_string())
    # The traceback is logged for operators, the client sees nothing of it.
    assert "RuntimeError" in logs.text
    # The edge counts the call after the status went out: under load the client can read it first.
    counter = metrics.rpc_total.labels("echo", "/parta.testing.v1.EchoService/Fail", "INTERNAL")
    deadline = time.monotonic() + 5
    while counter._value.get() < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert counter._value.get() == 1


async def test_valid_token_reaches_servicer_with_principal(echo, keys):
    stub, _ = echo
    reply = await stub.Slow(echo_pb2.SlowRequest(millis=1), metadata=_auth(keys.token("user-42")))
    assert reply.text == "slept 1"


async def test_allow_listed_rpc_passes_without_token(echo):
    stub, _ = echo
    reply = await stub.Echo(echo_pb2.EchoRequest(text="hi"))
    assert reply.text == "hi" and reply.caller == ""


async def test_allow_listed_rpc_still_sees_a_valid_caller(echo, keys):
    stub, _ = echo
    reply = await stub.Echo(echo_pb2.EchoRequest(text="hi"), metadata=_auth(keys.token("user-7")))
    assert reply.caller == "user-7"


def _forge_none_alg(keys: TokenMint) -> str:
    now = int(time.time())
    claims = {"iss": keys.issuer, "aud": keys.audience, "sub": "u1", "sid": "s", "iat": now, "exp": now + 60}
    return jwt.encode(claims, key=None, algorithm="none", headers={"kid": keys.key_id})


def _bad_tokens(keys: TokenMint) -> dict[str, list[tuple[str, str]]]:
    other = TokenMint(key_id=keys.key_id)  # same kid, different key: a bad signature
    now = int(time.time())
    return {
        "missing": [],
        "not bearer": [("authorization", "Basic dXNlcjpwYXNz")],
        "garbage": _auth("not-a-jwt"),
        "bad signature": _auth(other.token("u1")),
        "alg none": _auth(_forge_none_alg(keys)),
        "expired": _auth(keys.token("u1", issued_at=now - 3600, ttl=900)),
        "wrong audience": _auth(keys.token("u1", audience="another-app")),
        "unknown kid": _auth(TokenMint(key_id="who-knows").token("u1")),
    }


@pytest.mark.parametrize(
    "case",
    ["missing", "not bearer", "garbage", "bad signature", "alg none", "expired", "wrong audience", "unknown kid"],
)
async def test_bad_credentials_are_unauthenticated(echo, keys, case):
    stub, _ = echo
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Slow(echo_pb2.SlowRequest(millis=1), metadata=_bad_tokens(keys)[case])
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("store_down", "STORE_UNAVAILABLE"),
        ("store_down_wrapped", "STORE_UNAVAILABLE"),
        ("kafka_down", "EVENTS_UNAVAILABLE"),
    ],
)
async def test_a_dependency_outage_is_unavailable_with_retry_info_not_internal(echo, keys, mode, reason):
    stub, metrics = echo
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Fail(echo_pb2.FailRequest(mode=mode), metadata=_auth(keys.token("u1")), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "27017" not in caught.value.details()  # driver texts (addresses, hosts) stay in the logs
    details = _details(caught.value)
    info = next(d for d in details if isinstance(d, error_details_pb2.ErrorInfo))
    assert info.reason == reason
    retry = next(d for d in details if isinstance(d, error_details_pb2.RetryInfo))
    assert retry.retry_delay.seconds == 1
    # The status reaches the client as abort() sends it, before the edge's finally records the
    # metric: wait for the count (bounded) instead of reading it at once.
    counter = metrics.rpc_total.labels("echo", "/parta.testing.v1.EchoService/Fail", "UNAVAILABLE")
    deadline = time.monotonic() + 2
    while counter._value.get() < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert counter._value.get() == 1
