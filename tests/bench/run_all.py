"""`make bench`: every benchmark in one run, beside the bare grpc.aio echo ceiling and the store alone.

Numbers are printed, not asserted: compare each service with the ceiling measured in the same run
on the same machine. Each service's module tests/bench/bench_<svc>.py exposes `async run(env)`
returning (name, value) rows.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import cost  # noqa: E402
from common import EchoCeiling  # noqa: E402
from parta_common.testing.otlp import OtlpReceiver  # noqa: E402

SERVICES = ["identity", "school", "chat", "media_signal", "web", "audit", "export"]


def _load(name: str):
    path = HERE / f"bench_{name}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _store_name(uri: str) -> str:
    """Which server answered (the one already listening may not be the engine asked for)."""
    from pymongo import MongoClient

    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        info = client.admin.command("buildInfo")
    finally:
        client.close()
    if "secantusVersion" in info:
        name = "secantus-mdb" if str(info["secantusVersion"]).startswith("0.5") else "SecantusDB"
        return f"{name} {info['secantusVersion']}"
    return f"MongoDB {info.get('version', '?')}"


def _row(section: str, name: str, value: str) -> None:
    print(f"{section:14} {name:58} {value}", flush=True)


async def main() -> int:
    env = dict(os.environ)
    only = set(sys.argv[1:])
    print(f"Parta benchmarks — {time.strftime('%Y-%m-%d %H:%M:%S')} — {os.cpu_count()} CPUs\n", flush=True)
    async with EchoCeiling(bare=True) as bare, EchoCeiling(bare=False) as kit:
        for concurrency in (1, 16, 64):
            _row(
                "ceiling", f"bare grpc.aio echo, concurrency {concurrency}", (await bare.measure(concurrency)).summary()
            )
        assert bare.process is not None
        ceiling = await cost.Meter(bare.process.pid).measure(
            "bare grpc.aio echo ceiling, concurrency 16", None, lambda: bare.measure(16)
        )
        cost.COLLECTED.remove(ceiling)  # printed first in the table, not as a service row
        _row("ceiling", "bare echo cost, concurrency 16", str(ceiling))
        _row("ceiling", "echo through the kit edge (public RPC), concurrency 16", (await kit.measure(16)).summary())
    # The same edge with tracing switched on, exporting in batches over OTLP/gRPC to a loopback
    # receiver (in this process, so the receiver's work competes with the load generator's).
    async with OtlpReceiver() as receiver:
        tracing_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_INSECURE": "true"}
        async with EchoCeiling(bare=False, env=tracing_env) as traced:
            result = await traced.measure(16)
        _row("ceiling", "echo through the kit edge, tracing on, concurrency 16", result.summary())
        _row("ceiling", "  spans received by the OTLP receiver", f"{len(receiver.spans)} of {result.requests} calls")
    failures = 0
    if not only or "store" in only:
        store = subprocess.run(
            [
                sys.executable,
                str(HERE / "bench_store.py"),
                "--uri",
                env["PARTA_TEST_MONGODB_URI"],
                "--messages",
                "100000",
                "--samples",
                "20",
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        for line in store.stdout.splitlines():
            _row("store", "", line.strip())
        if store.returncode != 0:
            failures += 1
            print(store.stderr[-2000:])
    for name in SERVICES:
        if only and name not in only:
            continue
        module = _load(name)
        if module is None:
            _row(name, "(no benchmark yet)", "")
            continue
        try:
            for row_name, value in await module.run(env):
                _row(name, row_name, value)
        except Exception as exc:
            failures += 1
            _row(name, "FAILED", repr(exc))
    # One table per run: what each hot RPC costs its service process, beside the echo ceiling.
    # Store commands and Kafka records per call do not depend on the store; CPU per call hardly
    # does (the process waits on the store off-CPU); calls/s and latency do.
    print(f"\nPer-call cost (store: {_store_name(env['PARTA_TEST_MONGODB_URI'])}):\n", flush=True)
    print(cost.table(cost.COLLECTED, ceiling), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
