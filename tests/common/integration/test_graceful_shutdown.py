"""SIGTERM: health turns NOT_SERVING, in-flight calls complete, the process exits 0 within the grace."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import subprocess
import sys
import time
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from grpc_health.v1 import health_pb2, health_pb2_grpc
from parta.testing.v1 import echo_pb2, echo_pb2_grpc
from parta_client import Endpoints, Parta
from parta_common.testing.fakes import TokenMint

GRACE = 5.0


async def test_sigterm_drains_in_flight_calls_and_exits_zero(tmp_path):
    keys = TokenMint()
    raw = keys.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(
        json.dumps(
            {
                "kid": keys.key_id,
                "public_key": base64.b64encode(raw).decode(),
                "issuer": keys.issuer,
                "audience": keys.audience,
            }
        )
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "parta_common.testing.echo",
            "--port",
            "0",
            "--grace",
            str(GRACE),
            "--keys-file",
            str(keys_file),
            "--announce-slow",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        assert line.startswith("PORT "), line
        address = f"127.0.0.1:{int(line.split()[1])}"
        auth = [("authorization", f"Bearer {keys.token('teacher-1')}")]
        async with grpc.aio.insecure_channel(address) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING

            echo = echo_pb2_grpc.EchoServiceStub(channel)
            in_flight = [
                asyncio.ensure_future(echo.Slow(echo_pb2.SlowRequest(millis=1500), metadata=auth)) for _ in range(3)
            ]
            await _slow_calls_started(process, 3)  # in flight at the server, not merely sent
            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)

            update = await asyncio.wait_for(watch.read(), 5)
            assert update.status == health_pb2.HealthCheckResponse.NOT_SERVING
            replies = await asyncio.gather(*in_flight)
            assert [r.text for r in replies] == ["slept 1500"] * 3

        code = await asyncio.to_thread(process.wait, GRACE + 5)
        assert code == 0
        assert time.monotonic() - sent < GRACE + 2
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def _slow_calls_started(process: subprocess.Popen[str], n: int, timeout: float = 30.0) -> None:
    """Waits until the echo process says `n` Slow calls reached its handler (it prints "SLOW <millis>"
    as each starts). A fixed sleep here was a guess: on a loaded machine a call sent before SIGTERM
    could reach the server after it and be refused SERVER_DRAINING, which is right, but not the
    in-flight call the test drains."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    started = 0
    while started < n:
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), deadline - time.monotonic())
        assert line, "the echo process ended"
        started += line.startswith("SLOW ")


def _reason(error: grpc.aio.AioRpcError) -> str:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return ""


def _session(keys: TokenMint) -> Any:
    from datetime import datetime

    from parta_client import Session

    session = Session(user_id="teacher-1", phone="+79000000003", access_token=keys.token("teacher-1"), refresh_token="")
    session.access_expires_at = datetime(2999, 1, 1).timestamp()
    return session


def _start_echo(tmp_path, grace: float) -> tuple[subprocess.Popen[str], TokenMint]:  # type: ignore[no-untyped-def]
    keys = TokenMint()
    raw = keys.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(
        json.dumps(
            {
                "kid": keys.key_id,
                "public_key": base64.b64encode(raw).decode(),
                "issuer": keys.issuer,
                "audience": keys.audience,
            }
        )
    )
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "parta_common.testing.echo"),
            *("--port", "0", "--grace", str(grace), "--keys-file", str(keys_file), "--announce-slow"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return process, keys


async def test_sigterm_ends_streams_at_once_completes_unary_calls_and_cancels_nothing(tmp_path):
    """Issue 13: streams end UNAVAILABLE SERVER_DRAINING at once (not CANCELLED after the grace),
    unary calls in flight complete, calls arriving during the drain are refused UNAVAILABLE, and the
    drain takes as long as the slowest unary call, not the grace period."""
    grace = 10.0
    process, keys = _start_echo(tmp_path, grace)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        assert line.startswith("PORT "), line
        address = f"127.0.0.1:{int(line.split()[1])}"
        auth = [("authorization", f"Bearer {keys.token('teacher-1')}")]
        async with grpc.aio.insecure_channel(address) as channel:
            echo = echo_pb2_grpc.EchoServiceStub(channel)
            streams = [echo.Ticks(echo_pb2.TicksRequest(millis=50), metadata=auth) for _ in range(3)]
            for stream in streams:
                assert (await stream.read()).tick == 0
            in_flight = [
                asyncio.ensure_future(echo.Slow(echo_pb2.SlowRequest(millis=1500), metadata=auth, timeout=10))
                for _ in range(3)
            ]
            codes: list[grpc.StatusCode] = []
            raw_codes: list[grpc.StatusCode] = []
            stop_traffic = asyncio.Event()
            sdk = Parta(Endpoints(address, address, address, address), session=_session(keys))
            # The SDK's own channel (its interceptors: token, deadline, retries) pointed at the echo.
            sdk_channel = sdk._channel(address)
            sdk_echo = echo_pb2_grpc.EchoServiceStub(sdk_channel)

            async def steady_traffic(stub: Any, out: list[grpc.StatusCode]) -> None:
                # Calls keep arriving through the shutdown: each is answered OK or refused UNAVAILABLE.
                n = 0
                while not stop_traffic.is_set():
                    n += 1
                    try:
                        await stub.Echo(echo_pb2.EchoRequest(text="hi", request_id=f"r{n}"), metadata=auth, timeout=5)
                        out.append(grpc.StatusCode.OK)
                    except grpc.aio.AioRpcError as exc:
                        out.append(exc.code())
                    await asyncio.sleep(0.01)

            traffic = [
                asyncio.ensure_future(steady_traffic(sdk_echo, codes)),
                asyncio.ensure_future(steady_traffic(echo, raw_codes)),
            ]
            await _slow_calls_started(process, 3)
            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)

            ended_in = []
            for stream in streams:
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    while True:
                        await asyncio.wait_for(stream.read(), 5)
                ended_in.append(time.monotonic() - sent)
                assert info.value.code() == grpc.StatusCode.UNAVAILABLE, info.value
                assert _reason(info.value) == "SERVER_DRAINING"
            assert max(ended_in) < 3.0, ended_in  # at once, not after the 10 s grace

            replies = await asyncio.gather(*in_flight)
            assert [r.text for r in replies] == ["slept 1500"] * 3
            code = await asyncio.to_thread(process.wait, grace + 5)
            drained_in = time.monotonic() - sent
            stop_traffic.set()
            await asyncio.gather(*traffic)
            await sdk_channel.close()
        assert code == 0
        # The slowest unary call (1.5 s, 1.2 s left at SIGTERM) sets the pace, not the 10 s grace.
        assert drained_in < grace - 3, drained_in
        # Through the SDK nothing ends CANCELLED: calls refused while draining, and the rare call
        # that grpc itself cancels because it reached the server during grpc's own stop (never
        # accepted by the application), are retried with the same request id.
        assert grpc.StatusCode.CANCELLED not in codes, codes
        assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}, codes
        assert set(raw_codes) <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
        print(
            f"\ndrain: streams ended in {max(ended_in):.2f}s, exit after {drained_in:.2f}s; sdk calls {len(codes)} "
            f"(CANCELLED 0); raw calls {len(raw_codes)}, CANCELLED {raw_codes.count(grpc.StatusCode.CANCELLED)}"
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
