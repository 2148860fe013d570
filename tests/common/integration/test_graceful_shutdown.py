"""SIGTERM: health turns NOT_SERVING, in-flight calls complete, the process exits 0 within the grace."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import subprocess
import sys
import time

import grpc
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from grpc_health.v1 import health_pb2, health_pb2_grpc
from parta.testing.v1 import echo_pb2, echo_pb2_grpc
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
            await asyncio.sleep(0.3)
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
