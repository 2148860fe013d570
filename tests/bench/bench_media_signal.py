"""media-signal benchmark: a join storm of 30 participants into one lesson (time until each has the
room state) and signalling relay latency (offer relayed between two call participants), with the
service running as a process on loopback."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import LoadResult, ms, percentile, run_load  # noqa: E402
from cost import Meter, metered_env  # noqa: E402
from parta.media_signal.v1 import events_pb2 as ev  # noqa: E402
from parta.media_signal.v1 import media_signal_pb2 as pb  # noqa: E402

from tests.e2e.media_signal_support import MediaStack  # noqa: E402

STORM = 30
RELAYS = 300
SDP = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


async def run(env: dict) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    metered = metered_env("MEDIA_SIGNAL_")
    async with MediaStack(
        env["PARTA_TEST_MONGODB_URI"], env["PARTA_KAFKA_BOOTSTRAP"], keepalive=15, extra=metered
    ) as stack:
        meter = Meter(stack.stack.services["media_signal"].process.pid, metered)
        teacher_id = "t-" + uuid.uuid4().hex[:6]
        students = [f"s{i}-{uuid.uuid4().hex[:6]}" for i in range(STORM)]
        school = await stack.school(
            [(teacher_id, "teacher", "class_head"), *[(s, "student", "student") for s in students]]
        )
        teacher = stack.user(teacher_id)
        room = await teacher.create_room(
            school, ev.ROOM_KIND_LESSON, title="Bench", start_now=True, max_participants=40
        )
        host = await teacher.signal(room_id=room.room_id)
        await host.expect("joined")
        users = [stack.user(s) for s in students]

        async def token_for(user):
            for _ in range(100):  # the membership projection may still be catching up
                try:
                    return await user.join_token(room.room_id)
                except Exception:
                    await asyncio.sleep(0.1)
            return await user.join_token(room.room_id)

        tokens = await asyncio.gather(*(token_for(u) for u in users))
        cost = await meter.measure(
            "media-signal CreateJoinToken, concurrency 16",
            "rpc:CreateJoinToken",
            lambda: run_load(lambda i: users[i % STORM].join_token(room.room_id), concurrency=16, seconds=2.0),
        )
        rows.append(("CreateJoinToken cost, concurrency 16", str(cost)))

        async def join(user, token) -> float:
            started = time.perf_counter()
            client = await user.signal(token.token)
            await client.expect("joined", timeout=30)
            elapsed = time.perf_counter() - started
            clients.append(client)
            return elapsed

        clients: list = []
        storm_started = time.perf_counter()
        times = await asyncio.gather(*(join(u, t) for u, t in zip(users, tokens, strict=True)))
        total = time.perf_counter() - storm_started
        rows.append((f"join storm: {STORM} into one lesson, time to room state p50/p99", f"{ms(times)}"))
        rows.append((f"join storm: all {STORM} have the room state after", f"{total * 1000:.0f} ms"))
        for c in clients:
            await c.close()
        await host.close()

        a_id, b_id = "a-" + uuid.uuid4().hex[:6], "b-" + uuid.uuid4().hex[:6]
        await stack.school([(a_id, "teacher", ""), (b_id, "teacher", "")], school)
        a, b = stack.user(a_id), stack.user(b_id)
        call = await a.create_room(school, ev.ROOM_KIND_CALL, title="Relay", invited_user_ids=[b_id], start_now=True)
        sa = await a.signal(room_id=call.room_id)
        await sa.expect("joined")
        sb = await b.signal(room_id=call.room_id)
        await sb.expect("joined")
        latencies: list[float] = []

        async def relay() -> LoadResult:
            began = time.perf_counter()
            for _ in range(RELAYS):
                started = time.perf_counter()
                await sa.send(pb.SignalRequest(offer=pb.SessionDescription(sdp=SDP, participant_id=sb.participant_id)))
                await sb.expect("offer")
                latencies.append(time.perf_counter() - started)
            return LoadResult(RELAYS, time.perf_counter() - began, list(latencies))

        cost = await meter.measure("media-signal signalling relay (offer A→B), sequential", "rpc:Signal", relay)
        rows.append(("signalling relay cost", str(cost)))
        rows.append((f"signalling relay A→B (offer), {RELAYS} sequential, p50/p99", ms(latencies)))
        rows.append(("signalling relay p99 (ms)", f"{percentile(latencies, 99) * 1000:.2f}"))
        await sa.close()
        await sb.close()
    return rows


if __name__ == "__main__":
    import os

    for name, value in asyncio.run(run(dict(os.environ))):
        print(f"{name:70} {value}")
