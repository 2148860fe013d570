"""identity benchmark: sign-ins per second (RequestCode + VerifyCode through a real identity
process, codes read from the dev SMS file) and the cost of access-token verification in the
shared interceptor (µs per call), measured beside the bare grpc.aio echo ceiling by run_all.

    python tests/bench/bench_identity.py      # env PARTA_KAFKA_BOOTSTRAP, PARTA_TEST_MONGODB_URI
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import LoadResult, run_load  # noqa: E402
from cost import Meter, metered_env  # noqa: E402
from parta.identity.v1 import auth_pb2, auth_pb2_grpc, profiles_pb2, profiles_pb2_grpc  # noqa: E402
from parta.testing.v1 import echo_pb2, echo_pb2_grpc  # noqa: E402
from parta_common.auth import KeyCache, TokenVerifier  # noqa: E402
from parta_common.grpc.keys import GrpcSigningKeySource  # noqa: E402
from parta_common.revocation import RevocationList  # noqa: E402
from parta_common.testing.echo import echo_runner  # noqa: E402

from tests.e2e.harness import Stack  # noqa: E402

SECONDS = float(os.environ.get("PARTA_BENCH_SECONDS", "5"))
# Per-call cost rows (cost.CostRow as text), appended after the rows above.
COST_ROWS: list[tuple[str, str]] = []


class CodeTail:
    """Follows the dev SMS file incrementally (re-reading it whole would be quadratic)."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.codes: dict[str, str] = {}

    async def code_for(self, phone: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while phone not in self.codes:
            if self.path.exists():
                with self.path.open("rb") as f:
                    f.seek(self.offset)
                    chunk = f.read()
                cut = chunk.rfind(b"\n") + 1
                self.offset += cut
                for line in chunk[:cut].splitlines():
                    record = json.loads(line)
                    self.codes[record["phone"]] = record["code"]
            if phone not in self.codes:
                if time.monotonic() > deadline:
                    raise TimeoutError("code not delivered")
                await asyncio.sleep(0.002)
        return self.codes.pop(phone)


async def _sign_ins(address: str, sms: Path, concurrency: int, meter: Meter | None = None) -> tuple[float, list[str]]:
    tail = CodeTail(sms)
    tokens: list[str] = []
    async with grpc.aio.insecure_channel(address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)

        async def one(_: int) -> None:
            phone = f"+7999{random.randrange(10**7):07d}"
            sent = await stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone), timeout=10)
            code = await tail.code_for(phone)
            reply = await stub.VerifyCode(
                auth_pb2.VerifyCodeRequest(challenge_id=sent.challenge_id, code=code, device_name="bench"), timeout=10
            )
            tokens.append(reply.access_token)

        result = await run_load(one, concurrency=concurrency, seconds=SECONDS)
        if meter is not None:
            cost = await meter.measure(
                f"identity sign-in (RequestCode + VerifyCode), concurrency {concurrency}",
                "rpc:VerifyCode",
                lambda: run_load(one, concurrency=concurrency, seconds=SECONDS / 2),
                settle=meter.quiesce,
                note="in RPC = VerifyCode's; all = both RPCs + relay",
            )
            COST_ROWS.append(("sign-in cost, concurrency 16", str(cost)))
    return result.rate, tokens


async def _interceptor_cost(identity_address: str, token: str) -> tuple[float, float, float, float]:
    """µs per token check — uncached verify(), and the edge's cached verify() + deny-set check —
    and per-call latency of an in-process echo with and without the edge."""
    source = GrpcSigningKeySource(identity_address)
    uncached = TokenVerifier(KeyCache(source), issuer="parta-identity", audience="parta", cache_size=0)
    verifier = TokenVerifier(KeyCache(source), issuer="parta-identity", audience="parta")
    denied = RevocationList()
    await uncached.verify(token)  # warm the key caches
    await verifier.verify(token)
    n = 3000

    async def check_loop() -> LoadResult:
        latencies = []
        began = time.perf_counter()
        for _ in range(n):
            t = time.perf_counter()
            denied.check(await verifier.verify(token))
            latencies.append(time.perf_counter() - t)
        return LoadResult(n, time.perf_counter() - began, latencies)

    # The check every service runs in its edge (cached verify + deny-set), in this process (no store, no Kafka).
    cost = await Meter(os.getpid()).measure("token check (cached verify + deny-set, in-process)", None, check_loop)
    COST_ROWS.append(("token check cost", str(cost)))
    cached_us = cost.seconds / n * 1e6
    started = time.perf_counter()
    for _ in range(n):
        await uncached.verify(token)
    verify_us = (time.perf_counter() - started) / n * 1e6

    async def echo_latency(with_edge: bool) -> float:
        runner = echo_runner(verifier=verifier, with_edge=with_edge, revocations=denied)
        port = await runner.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = echo_pb2_grpc.EchoServiceStub(channel)
                # Slow() is not a public method, so the edge verifies the token on every call.
                request = echo_pb2.SlowRequest(millis=0)
                md = [("authorization", f"Bearer {token}")]
                for _ in range(200):
                    await stub.Slow(request, metadata=md)
                began = time.perf_counter()
                calls = 2000
                for _ in range(calls):
                    await stub.Slow(request, metadata=md)
                return (time.perf_counter() - began) / calls * 1e6
        finally:
            await runner.stop()

    bare = await echo_latency(False)
    edged = await echo_latency(True)
    await source.close()
    return verify_us, cached_us, bare, edged


async def _authenticated_rpc(address: str, tokens: list[str], meter: Meter) -> str:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = profiles_pb2_grpc.ProfileServiceStub(channel)
        request = profiles_pb2.BatchGetDisplayNamesRequest()

        async def one(i: int) -> None:
            await stub.BatchGetDisplayNames(request, metadata=[("authorization", f"Bearer {tokens[i % len(tokens)]}")])

        cost = await meter.measure(
            "identity authenticated RPC (token + session check), concurrency 16",
            "rpc:BatchGetDisplayNames",
            lambda: run_load(one, concurrency=16, seconds=min(SECONDS, 3)),
        )
        COST_ROWS.append(("authenticated RPC cost", str(cost)))
        return cost_summary(cost)


def cost_summary(cost) -> str:  # type: ignore[no-untyped-def]
    return LoadResult(cost.calls, cost.seconds, cost.latencies).summary()


async def run(env: dict[str, str]) -> list[tuple[str, str]]:
    stack = Stack(env["PARTA_TEST_MONGODB_URI"], env["PARTA_KAFKA_BOOTSTRAP"], "bench" + uuid.uuid4().hex[:6])
    rows: list[tuple[str, str]] = []
    try:
        identity_env = {"IDENTITY_LOG_LEVEL": "warning", **metered_env("IDENTITY_")}
        identity = await stack.start("identity", extra=identity_env)
        meter = Meter(identity.process.pid, identity_env)
        rate1, _ = await _sign_ins(identity.address, stack.sms_file, 1)
        rate16, tokens = await _sign_ins(identity.address, stack.sms_file, 16, meter)
        rows.append(("sign-ins/s (RequestCode+VerifyCode), 1 client", f"{rate1:.0f}"))
        rows.append(("sign-ins/s (RequestCode+VerifyCode), 16 concurrent", f"{rate16:.0f}"))
        verify_us, cached_us, bare, edged = await _interceptor_cost(identity.address, tokens[0])
        rows.append(("TokenVerifier.verify (Ed25519 JWT), uncached", f"{verify_us:.0f} µs/call"))
        rows.append(("token check: cached verify + revocation deny-set", f"{cached_us:.1f} µs/call"))
        rows.append(("echo in-process, no interceptor", f"{bare:.0f} µs/call"))
        rows.append(("echo in-process, edge interceptor + token", f"{edged:.0f} µs/call (+{edged - bare:.0f} µs)"))
        rows.append(
            (
                "identity authenticated RPC (token + session check)",
                await _authenticated_rpc(identity.address, tokens, meter),
            )
        )
    finally:
        stack.stop_all()
        stack.sms_file.unlink(missing_ok=True)
    rows.extend(COST_ROWS)
    COST_ROWS.clear()
    return rows


if __name__ == "__main__":
    for name, value in asyncio.run(run(dict(os.environ))):
        print(f"{name:55s} {value}")
