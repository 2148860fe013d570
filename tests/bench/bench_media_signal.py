"""media-signal benchmark: a join storm of 30 participants into one lesson (time until each has the
room state), the same storm into a group call through Janus (room state and the first decoded
remote frame, aiortc peers), and signalling relay latency (offer relayed between two call
participants), with the service running as a process on loopback."""

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

from tests.e2e.media_signal_support import MediaStack, SfuPeer  # noqa: E402

STORM = 30
# Group-call storm: this many participants publish (160x120, 5 fps) before the storm; all 30 of the
# storm join at once and get the room state, and a sample of them (aiortc peers in this process)
# answer the SFU's offers and decode frames. 30 decoding peers (90 peer connections, or 870 if all
# published) in this one Python process measured the load generator on 2 shared cores, not the service.
PUBLISHERS = 3
FRAME_SAMPLE = 6
RELAYS = 300
SDP = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


async def token_for(user, room_id: str):
    """A join token, retried while the membership projection catches up (or the store is busy)."""
    for _ in range(100):
        try:
            return await user.join_token(room_id)
        except Exception:
            await asyncio.sleep(0.1)
    return await user.join_token(room_id)


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

        tokens = await asyncio.gather(*(token_for(u, room.room_id) for u in users))
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
        rows += await group_call_storm(stack, school, times)

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


async def group_call_storm(stack: MediaStack, school, lesson_times: list[float]):
    """30 people join a running group call (through Janus) at once, where PUBLISHERS others already
    publish: the time until each has the room state, and until each decodes a first remote frame."""
    rows: list[tuple[str, str]] = []
    host_id = "gh-" + uuid.uuid4().hex[:6]
    presenters = [f"gp{i}-{uuid.uuid4().hex[:6]}" for i in range(PUBLISHERS - 1)]
    joiners = [f"gj{i}-{uuid.uuid4().hex[:6]}" for i in range(STORM)]
    await stack.school([(host_id, "admin", ""), *[(u, "teacher", "") for u in presenters + joiners]], school)
    host = stack.user(host_id)
    call = await host.create_room(
        school, ev.ROOM_KIND_CALL, title="Bench group call", invited_user_ids=presenters + joiners, start_now=True
    )
    assert call.media_mode == pb.MEDIA_MODE_SFU
    peers: list[SfuPeer] = []
    try:
        for user_id in [host_id, *presenters]:
            peer = SfuPeer(await stack.user(user_id).signal(room_id=call.room_id))
            await peer.client.expect("joined")
            peers.append(peer)
            await peer.publish(fps=5)
        users = [stack.user(u) for u in joiners]
        tokens = await asyncio.gather(*(token_for(u, call.room_id) for u in users))
        state_times: list[float] = []
        frame_times: list[float] = []
        missed: list[SfuPeer] = []
        sampled: list[SfuPeer] = []

        async def join(user, token) -> None:
            started = time.perf_counter()
            peer = SfuPeer(await user.signal(token.token))
            peers.append(peer)
            await peer.client.expect("joined", timeout=60)
            state_times.append(time.perf_counter() - started)
            if len(sampled) >= FRAME_SAMPLE:
                return
            sampled.append(peer)
            peer.answer_offers()
            try:
                await asyncio.wait_for(peer.first_frame.wait(), 60)
            except TimeoutError:
                missed.append(peer)
                return
            frame_times.append(peer.first_frame_at - started)

        began = time.perf_counter()
        await asyncio.gather(*(join(u, t) for u, t in zip(users, tokens, strict=True)))
        total = time.perf_counter() - began
        label = f"{STORM} into one group call through Janus ({PUBLISHERS} publishing, 160x120 5 fps)"
        rows.append((f"group-call join storm: {label}, time to room state p50/p99", ms(state_times)))
        rows.append(
            (
                f"group-call join storm: first decoded remote frame, {FRAME_SAMPLE} of the {STORM} sampled",
                ms(frame_times),
            )
        )
        rows.append(
            ("group-call join storm: sampled peers without a frame in 60 s", f"{len(missed)} of {FRAME_SAMPLE}")
        )
        if missed:
            log = stack.stack.services["media_signal"].log_path.read_text(errors="replace")
            for p in missed:
                inbox = [r.WhichOneof("message") for r in p.client.inbox]
                print("MISSED", p.client.participant_id, p.frames, p.failures, inbox, file=sys.stderr)
            lines = [line for line in log.splitlines() if "sfu" in line or "rror" in line]
            print("\n".join(lines[-60:]), file=sys.stderr)
        rows.append(
            (f"group-call join storm: all {STORM} have the state, the sample a frame, after", f"{total * 1000:.0f} ms")
        )
        ratio = percentile(state_times, 50) / max(percentile(lesson_times, 50), 1e-9)
        rows.append(("group-call join storm: room state p50 vs the lesson storm's", f"x{ratio:.2f}"))
    finally:
        for peer in peers:
            await peer.close()
        await host.rooms.EndRoom(pb.EndRoomRequest(room_id=call.room_id), metadata=host.metadata)
    return rows


if __name__ == "__main__":
    import os

    for name, value in asyncio.run(run(dict(os.environ))):
        print(f"{name:70} {value}")
