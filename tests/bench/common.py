"""Benchmark helpers: latency percentiles, fixed-duration load loops, the bare echo ceiling."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from parta.testing.v1 import echo_pb2, echo_pb2_grpc


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        return percentile(self.latencies, p)

    def summary(self) -> str:
        return f"{self.rate:8.0f} req/s  p50 {self.pct(50) * 1e3:6.2f} ms  p99 {self.pct(99) * 1e3:6.2f} ms"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"p50 {percentile(values, 50) * 1e3:.2f} ms  p99 {percentile(values, 99) * 1e3:.2f} ms  (n={len(values)})"


async def run_load(call: Callable[[int], Awaitable[object]], *, concurrency: int, seconds: float) -> LoadResult:
    """Runs `call(i)` from `concurrency` workers for `seconds`; each worker waits for its reply."""
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds
    counter = 0

    async def worker() -> None:
        nonlocal counter
        while time.perf_counter() < stop_at:
            counter += 1
            started = time.perf_counter()
            await call(counter)
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadResult(len(latencies), time.perf_counter() - began, latencies)


class EchoCeiling:
    """The bare grpc.aio echo server in its own process: the ceiling every service is compared with."""

    def __init__(self, bare: bool = True, env: dict[str, str] | None = None):
        self._bare = bare
        self._env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        self.address = ""

    async def __aenter__(self) -> EchoCeiling:
        args = [sys.executable, "-m", "parta_common.testing.echo", "--port", "0"]
        self.process = subprocess.Popen(
            [*args, "--bare"] if self._bare else args,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=self._env,
        )
        assert self.process.stdout is not None
        line = await asyncio.to_thread(self.process.stdout.readline)
        self.address = f"127.0.0.1:{int(line.split()[1])}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            await asyncio.to_thread(self.process.wait, 10)  # the loop may serve an OTLP receiver meanwhile

    async def measure(self, concurrency: int, seconds: float = 3.0) -> LoadResult:
        async with grpc.aio.insecure_channel(self.address) as channel:
            stub = echo_pb2_grpc.EchoServiceStub(channel)
            request = echo_pb2.EchoRequest(text="x" * 64)
            return await run_load(lambda _: stub.Echo(request), concurrency=concurrency, seconds=seconds)
