#!/usr/bin/env python3
"""Where a service's CPU goes under load: chat SendMessage at concurrency 16, sampled by py-spy.

    make profile     # or: python tests/bench/cpu_profile.py [--seconds 15] [--raw out.txt]
                     #     with PARTA_KAFKA_BOOTSTRAP and PARTA_TEST_MONGODB_URI set

`make bench` says how much CPU a call costs; this says where it goes. One chat process on loopback
(the bench stack: real store and Kafka, tokens minted locally), warmed up, then sampled by py-spy
(`--gil`: only the thread holding the GIL, i.e. Python work, 200 Hz) while 16 tasks send. Prints:

1. the share of samples per piece of work the event loop ran — the RPC handler, the outbox relay,
   the live reader, … — where `(native: …)` is time inside grpc's Cython/C code and C-level
   callbacks, which py-spy sees only as the asyncio handle running them;
2. inside the RPC, the share per innermost frame of the service's own code (the adapter call or
   use-case line that led into the driver, protobuf or the kit).

Nothing is asserted: numbers go to docs/chat.md ("Where a send's CPU goes").
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_chat import _seed_chat  # noqa: E402
from common import run_load  # noqa: E402
from parta.chat.v1 import chat_pb2, chat_pb2_grpc  # noqa: E402
from stacks import bearer, bench_stack  # noqa: E402

RPC_FRAME = "unary_response.<locals>.run (parta_common/grpc/edge.py"
HANDLE_FRAME = "Handle._run (asyncio/events.py"
SERVICE_CODE = "(chat/"


def split(raw: Path) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """(samples, samples per top-level piece of work, samples per innermost chat frame in the RPC)."""
    total = 0
    work: collections.Counter[str] = collections.Counter()
    in_rpc: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, n = stack.split(";"), int(count)
        total += n
        handle = next((i for i, f in enumerate(frames) if f.startswith(HANDLE_FRAME)), None)
        if handle is None:
            work["(outside the event loop: threads, selector)"] += n
        elif handle + 1 == len(frames):
            work["(native: gRPC core and asyncio C callbacks)"] += n
        elif (rpc := next((i for i, f in enumerate(frames) if RPC_FRAME in f), None)) is not None:
            work["the RPC (edge → servicer → use case)"] += n
            own = [f for f in frames[rpc:] if SERVICE_CODE in f]
            in_rpc[own[-1] if own else "(edge and kit, before the servicer)"] += n
        else:
            work[frames[handle + 1]] += n
    return total, work, in_rpc


async def sample(seconds: float, raw: Path) -> float:
    env = dict(os.environ)
    async with bench_stack(env, "p") as bench:
        chat = await bench.stack.start(
            "chat", {"CHAT_IDENTITY_ADDRESS": f"127.0.0.1:{bench.key_port}", "CHAT_LOG_LEVEL": "warning"}
        )
        await _seed_chat(bench.database("chat"), "profile-send", 3, ["profile-teacher"])
        async with grpc.aio.insecure_channel(chat.address) as channel:
            stub = chat_pb2_grpc.ChatServiceStub(channel)
            metadata, prefix = bearer(bench.mint, "profile-teacher"), uuid.uuid4().hex[:6]

            async def send(i: int) -> None:
                request = chat_pb2.SendMessageRequest(
                    chat_id="profile-send", client_message_id=f"{prefix}-{i}", text="hello class"
                )
                await stub.SendMessage(request, metadata=metadata, timeout=30)

            await run_load(send, concurrency=16, seconds=3)  # warm: connections, caches, JIT-free but paged in
            sampling = f"--duration {int(seconds)} --rate 200 --gil --format raw".split()
            spy = subprocess.Popen(
                [_py_spy(), "record", "--pid", str(chat.process.pid), *sampling, "--output", str(raw)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            result = await run_load(lambda i: send(10_000_000 + i), concurrency=16, seconds=seconds)
            _, errors = await asyncio.to_thread(spy.communicate)
    if spy.returncode != 0:
        # py-spy needs ptrace on the chat process: the same user, and ptrace_scope 0 or root.
        raise SystemExit(f"py-spy failed: {errors.strip()[-500:]}")
    return result.rate


def _py_spy() -> str:
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not found:
        raise SystemExit("py-spy is not installed: `make setup` puts it in .venv (the dev group)")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw stacks here (flamegraph.pl input)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        raw = args.raw or Path(scratch) / "stacks.txt"
        rate = asyncio.run(sample(args.seconds, raw))
        total, work, in_rpc = split(raw)
    print(f"chat SendMessage at concurrency 16: {rate:.0f}/s; {total} samples with the GIL held\n")
    print("share of samples, by the work the event loop ran:")
    for name, n in work.most_common(12):
        print(f"  {100 * n / total:5.1f} %  {name}")
    print("\ninside the RPC, by the innermost frame of chat's own code:")
    for name, n in in_rpc.most_common(15):
        print(f"  {100 * n / total:5.1f} %  {name}")


if __name__ == "__main__":
    main()
