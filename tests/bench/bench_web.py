"""web gateway benchmark: chat SendMessage through the gateway (HTTP/JSON, cookie session, CSRF
headers) beside the same call straight over gRPC, in the same run against the same chat process,
and the gateway's own CPU per call.

One chat process and one gateway process on loopback (real store and Kafka), tokens minted locally
and verified through a tiny in-process SigningKeyService; the chat is seeded straight into chat's
database (the bench measures the path, not provisioning).

    python tests/bench/bench_web.py      # env PARTA_KAFKA_BOOTSTRAP, PARTA_TEST_MONGODB_URI
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

import aiohttp
import grpc

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_chat import _seed_chat  # noqa: E402
from common import ms, run_load  # noqa: E402
from parta.chat.v1 import chat_pb2, chat_pb2_grpc  # noqa: E402
from stacks import bearer, bench_stack  # noqa: E402

from tests.e2e.web_support import start_gateway  # noqa: E402

SECONDS = float(os.environ.get("PARTA_BENCH_SECONDS", "4"))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


async def run(env: dict[str, str]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    async with bench_stack(env, "w") as bench:
        mint, key_port, stack, db = bench.mint, bench.key_port, bench.stack, bench.database("chat")
        chat = await stack.start(
            "chat",
            {
                "CHAT_IDENTITY_ADDRESS": f"127.0.0.1:{key_port}",
                "CHAT_LOG_LEVEL": "warning",
                "CHAT_TRUSTED_PROXIES": "127.0.0.1",
            },
        )
        gateway = await start_gateway(
            stack,
            "web-bench",
            {"WEB_IDENTITY_ADDRESS": f"127.0.0.1:{key_port}", "WEB_LOG_LEVEL": "warning"},
        )
        bench.on_close(gateway.stop)
        sender = "bench-teacher"
        await _seed_chat(db, "bench-web", 3, [sender])
        md = bearer(mint, sender)
        token = md[0][1].removeprefix("Bearer ")
        prefix = uuid.uuid4().hex[:6]
        async with grpc.aio.insecure_channel(chat.address) as channel:
            stub = chat_pb2_grpc.ChatServiceStub(channel)

            async def direct(i: int) -> None:
                await stub.SendMessage(
                    chat_pb2.SendMessageRequest(chat_id="bench-web", client_message_id=f"{prefix}-g{i}", text="hello"),
                    metadata=md,
                    timeout=30,
                )

            headers = {
                "Origin": gateway.url,
                "X-Parta-CSRF": "1",
                "Content-Type": "application/json",
                "Cookie": f"parta_at={token}",
            }
            url = f"{gateway.url}/api/parta.chat.v1.ChatService/SendMessage"
            connector = aiohttp.TCPConnector(limit=128)
            async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:

                async def through_gateway(i: int) -> None:
                    body = json.dumps({"chatId": "bench-web", "clientMessageId": f"{prefix}-w{i}", "text": "hello"})
                    async with http.post(url, data=body, headers=headers) as reply:
                        if reply.status != 200:
                            raise RuntimeError(f"gateway answered {reply.status}: {await reply.text()}")
                        await reply.read()

                await through_gateway(0)  # warm: channel to chat, first JSON mapping
                for concurrency in (1, 16):
                    grpc_result = await run_load(
                        lambda i, c=concurrency: direct(c * 10_000_000 + i), concurrency=concurrency, seconds=SECONDS
                    )
                    cpu_before = _cpu_seconds(gateway.process.pid)
                    web_result = await run_load(
                        lambda i, c=concurrency: through_gateway(c * 10_000_000 + i),
                        concurrency=concurrency,
                        seconds=SECONDS,
                    )
                    cpu = _cpu_seconds(gateway.process.pid) - cpu_before
                    rows.append(
                        (
                            f"SendMessage direct gRPC, concurrency {concurrency}",
                            f"{grpc_result.rate:.0f}/s  {ms(grpc_result.latencies)}",
                        )
                    )
                    rows.append(
                        (
                            f"SendMessage via gateway (HTTP/JSON), concurrency {concurrency}",
                            f"{web_result.rate:.0f}/s  {ms(web_result.latencies)}",
                        )
                    )
                    per_call = cpu / web_result.requests * 1e3 if web_result.requests else float("nan")
                    rows.append((f"  gateway CPU per call, concurrency {concurrency}", f"{per_call:.2f} ms"))
    return rows


if __name__ == "__main__":
    for name, value in asyncio.run(run(dict(os.environ))):
        print(f"{name:70} {value}")
