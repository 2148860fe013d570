"""chat benchmark: send throughput and ack latency (concurrency 1/16/64), send-to-delivery latency to a
30-member class chat and a 1,000-subscriber channel, history page latency in a 100,000-message chat,
confirmations per second into one 1,000-family announcement and the author's live count latency.

One chat process on loopback (real store and Kafka), tokens minted locally and verified through a
tiny in-process SigningKeyService. Chats and members are seeded straight into chat's database (the
bench measures messaging, not provisioning); messages go through the API.

    python tests/bench/bench_chat.py      # env PARTA_KAFKA_BOOTSTRAP, PARTA_TEST_MONGODB_URI
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import LoadResult, ms, run_load  # noqa: E402
from cost import Meter, metered_env  # noqa: E402
from parta.chat.v1 import chat_pb2, chat_pb2_grpc  # noqa: E402
from parta_common.testing.fakes import TokenMint  # noqa: E402
from stacks import bearer, bench_stack  # noqa: E402

SECONDS = float(os.environ.get("PARTA_BENCH_SECONDS", "4"))
CHANNEL_SUBSCRIBERS = int(os.environ.get("CHAT_BENCH_CHANNEL", "1000"))
ANNOUNCEMENT_FAMILIES = int(os.environ.get("CHAT_BENCH_FAMILIES", "1000"))
HISTORY = int(os.environ.get("CHAT_BENCH_HISTORY", "100000"))


async def _seed_chat(db, chat_id: str, kind: int, members: list[str], *, admins: tuple[str, ...] = ()) -> None:  # type: ignore[no-untyped-def]
    await db["chats"].insert_one(
        {
            "_id": chat_id,
            "school_id": "bench-school",
            "kind": kind,
            "title": chat_id,
            "class_id": "",
            "subject": "",
            "posting_policy": 1,
            "slow_mode_seconds": 0,
            "read_only": False,
            "pinned_seqs": [],
            "member_count": len(members),
            "useq": 0,
            "created_by": "",
            "version": 1,
        }
    )
    await db["counters"].insert_one({"_id": chat_id, "seq": 0})
    docs = [
        {
            "_id": f"{chat_id}|{u}",
            "chat_id": chat_id,
            "user_id": u,
            "school_id": "bench-school",
            "grants": [{"k": "seed", "g": "admin" if u in admins else "member"}],
            "active": True,
            "moderator": u in admins,
            "last_read_seq": 0,
            "rev": 1,
        }
        for u in members
    ]
    for i in range(0, len(docs), 1000):
        await db["members"].insert_many(docs[i : i + 1000])
    # Everyone has an educational profile (no profile, no writing: PROFILE_MISSING).
    profiles = [{"_id": u, "name": "", "awaiting": False, "deleted": False, "version": 1} for u in members]
    existing = {d["_id"] async for d in db["profiles"].find({"_id": {"$in": members}}, {"_id": 1})}
    fresh = [p for p in profiles if p["_id"] not in existing]
    for i in range(0, len(fresh), 1000):
        await db["profiles"].insert_many(fresh[i : i + 1000])


async def _delivery(
    stub, mint: TokenMint, chat_id: str, sender: str, users: list[str], messages: int, on_live=None
) -> list[float]:  # type: ignore[no-untyped-def]
    """Opens one stream per user, sends `messages` one at a time, returns send→receipt latencies.

    `on_live()` is awaited once every stream is live, before the first send, and again when the
    last message has arrived (so a cost window leaves out opening the streams)."""
    started: dict[str, float] = {}
    latencies: list[float] = []
    live = 0
    all_live = asyncio.Event()
    calls = []

    async def watch(user: str) -> None:
        nonlocal live
        call = stub.Subscribe(chat_pb2.SubscribeRequest(), metadata=bearer(mint, user))
        calls.append(call)
        try:
            async for event in call:
                kind = event.WhichOneof("event")
                if kind == "live":
                    live += 1
                    if live == len(users):
                        all_live.set()
                elif kind == "message" and event.message.client_message_id in started:
                    latencies.append(time.perf_counter() - started[event.message.client_message_id])
        except grpc.aio.AioRpcError:
            pass

    tasks = [asyncio.create_task(watch(u)) for u in users]
    await asyncio.wait_for(all_live.wait(), 120)
    if on_live is not None:
        await on_live()
    md = bearer(mint, sender)
    for i in range(messages):
        cmid = f"d-{chat_id}-{i}"
        started[cmid] = time.perf_counter()
        await stub.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=cmid, text="hi"), metadata=md
        )
        await asyncio.sleep(0.05)
    deadline = time.perf_counter() + 30
    while len(latencies) < messages * len(users) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    if on_live is not None:
        await on_live()
    for call in calls:
        call.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return latencies


async def _seed_families(db, chat_id: str, class_id: str, teacher: str, parents: list[str]) -> None:  # type: ignore[no-untyped-def]
    """A parents' chat whose members are the class head (seeded as the school's admin) and one
    guardian per family; the memberships projection holds their seats (a child per parent)."""
    await _seed_chat(db, chat_id, 4, [teacher, *parents], admins=(teacher,))
    await db["chats"].update_one({"_id": chat_id}, {"$set": {"class_id": class_id}})
    seats = [
        {
            "_id": f"{chat_id}-t",
            "school_id": "bench-school",
            "user_id": teacher,
            "school_role": 1,
            "class_id": "",
            "class_role": 0,
            "child_user_id": "",
            "active": True,
            "verified": True,
            "version": 1,
        }
    ] + [
        {
            "_id": f"{chat_id}-p{i}",
            "school_id": "bench-school",
            "user_id": p,
            "school_role": 4,
            "class_id": class_id,
            "class_role": 4,
            "child_user_id": f"{p}-kid",
            "active": True,
            "verified": False,
            "version": 1,
        }
        for i, p in enumerate(parents)
    ]
    for i in range(0, len(seats), 1000):
        await db["memberships"].insert_many(seats[i : i + 1000])


async def _announcement(channel, db, mint: TokenMint, meter: Meter) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """One announcement in a parents' chat of ANNOUNCEMENT_FAMILIES families; every family's guardian
    confirms once (16 at a time); the author's stream is open throughout. Rate = confirmations/s,
    latency = each ConfirmAnnouncement's ack and confirm→the author's stream showing that family."""
    teacher = "bench-head"
    parents = [f"bench-parent-{i}" for i in range(ANNOUNCEMENT_FAMILIES)]
    await _seed_families(db, "bench-parents", "bench-5a", teacher, parents)
    chats = chat_pb2_grpc.ChatServiceStub(channel)
    stub = chat_pb2_grpc.AnnouncementServiceStub(channel)
    started: dict[str, float] = {}
    arrived: dict[str, float] = {}
    highest = 0
    live = asyncio.Event()
    stream = chats.Subscribe(chat_pb2.SubscribeRequest(), metadata=bearer(mint, teacher))

    async def watch() -> None:
        nonlocal highest
        try:
            async for event in stream:
                kind = event.WhichOneof("event")
                if kind == "live":
                    live.set()
                elif kind == "announcement_progress":
                    p = event.announcement_progress
                    arrived.setdefault(p.child_user_id, time.perf_counter())
                    highest = max(highest, p.confirmed_count)
        except grpc.aio.AioRpcError:
            pass

    watcher = asyncio.create_task(watch())
    await asyncio.wait_for(live.wait(), 60)
    posted = await stub.PostAnnouncement(
        chat_pb2.PostAnnouncementRequest(chat_id="bench-parents", client_message_id="bench-ann", text="Собрание"),
        metadata=bearer(mint, teacher),
    )
    seq = posted.message.seq
    tokens = [bearer(mint, p) for p in parents]

    async def confirm_all() -> LoadResult:
        latencies: list[float] = []
        queue = list(enumerate(parents))
        began = time.perf_counter()

        async def worker() -> None:
            while queue:
                i, parent = queue.pop()
                t = started[f"{parent}-kid"] = time.perf_counter()
                await stub.ConfirmAnnouncement(
                    chat_pb2.ConfirmAnnouncementRequest(chat_id="bench-parents", seq=seq),
                    metadata=tokens[i],
                    timeout=30,
                )
                latencies.append(time.perf_counter() - t)

        await asyncio.gather(*(worker() for _ in range(16)))
        return LoadResult(len(latencies), time.perf_counter() - began, latencies)

    async def all_arrived() -> None:
        deadline = time.perf_counter() + 60
        while len(arrived) < len(parents) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)

    cost = await meter.measure(
        f"chat ConfirmAnnouncement, {ANNOUNCEMENT_FAMILIES}-family announcement, concurrency 16",
        "rpc:ConfirmAnnouncement",
        confirm_all,
        settle=all_arrived,
        note="incl. its live count to the author's stream",
    )
    stream.cancel()
    await asyncio.gather(watcher, return_exceptions=True)
    status = await stub.GetAnnouncementStatus(
        chat_pb2.GetAnnouncementStatusRequest(chat_id="bench-parents", seq=seq), metadata=bearer(mint, teacher)
    )
    live_latency = [arrived[k] - started[k] for k in arrived if k in started]
    return [
        (
            f"ConfirmAnnouncement, {ANNOUNCEMENT_FAMILIES}-family announcement, concurrency 16",
            f"{cost.calls / cost.seconds:.0f}/s  {ms(cost.latencies)}",
        ),
        (
            "confirm→author's live count",
            f"{ms(live_latency)}  [{len(arrived)}/{len(parents)} live, highest count {highest},"
            f" status {status.announcement.confirmed_count} of {status.announcement.family_count}]",
        ),
        ("ConfirmAnnouncement cost, concurrency 16", str(cost)),
    ]


async def run(env: dict[str, str]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    async with bench_stack(env, "b") as bench:
        mint, key_port, stack, db = bench.mint, bench.key_port, bench.stack, bench.database("chat")
        chat_env = {
            "CHAT_IDENTITY_ADDRESS": f"127.0.0.1:{key_port}",
            "CHAT_LOG_LEVEL": "warning",
            **metered_env("CHAT_"),
        }
        chat = await stack.start("chat", chat_env)
        meter = Meter(chat.process.pid, chat_env)
        # A second replica that holds no streams: what every replica pays per message on the topic
        # (its live reader reads every partition), the first bottleneck in docs/scaling.md.
        idle_env = {**chat_env, **metered_env("CHAT_")}
        idle = await stack.start("chat", idle_env, name="chat-idle")
        idle_meter = Meter(idle.process.pid, idle_env)
        sender = "bench-teacher"
        class_members = [sender] + [f"bench-student-{i}" for i in range(29)]
        channel_members = [f"bench-reader-{i}" for i in range(CHANNEL_SUBSCRIBERS)]
        await _seed_chat(db, "bench-class", 3, class_members)
        await _seed_chat(db, "bench-send", 3, [sender])
        await _seed_chat(db, "bench-channel", 1, [sender, *channel_members], admins=(sender,))
        async with grpc.aio.insecure_channel(chat.address) as channel:
            stub = chat_pb2_grpc.ChatServiceStub(channel)
            md = bearer(mint, sender)
            prefix = uuid.uuid4().hex[:6]

            async def send(i: int) -> None:
                await stub.SendMessage(
                    chat_pb2.SendMessageRequest(
                        chat_id="bench-send", client_message_id=f"{prefix}-{i}", text="hello class"
                    ),
                    metadata=md,
                    timeout=30,
                )

            async def drained() -> None:
                # Let the outbox relay finish the backlog: its commands and records belong to the sends.
                for _ in range(600):
                    if not await db["messages"].count_documents({"_outbox_n": {"$gt": 0}}):
                        break
                    await asyncio.sleep(0.1)

            for concurrency in (1, 16, 64):
                result = await run_load(
                    lambda i, c=concurrency: send(c * 10_000_000 + i), concurrency=concurrency, seconds=SECONDS
                )
                rows.append((f"SendMessage, concurrency {concurrency}", f"{result.rate:.0f}/s  {ms(result.latencies)}"))
                if concurrency == 16:
                    await drained()
                    idle_before = await idle_meter.snapshot()
                    cost = await meter.measure(
                        "chat SendMessage, concurrency 16",
                        "rpc:SendMessage",
                        lambda: run_load(lambda i: send(20_000_000 + i), concurrency=16, seconds=SECONDS),
                        settle=drained,
                    )
                    rows.append(("SendMessage cost, concurrency 16", str(cost)))
                    idle_cost = idle_meter.row(
                        "chat replica without subscribers, per message on the topic",
                        None,
                        idle_before,
                        await idle_meter.snapshot(),
                        LoadResult(cost.calls, cost.seconds, []),
                        cost.calls,
                        "its live reader reads every partition; incl. its share of relaying the shared outbox",
                    )
                    rows.append(("idle replica cost per message", str(idle_cost)))

            await drained()

            async def delivered(rpc: str, chat_id: str, users: list[str], messages: int, note: str):  # type: ignore[no-untyped-def]
                marks: list = []  # snapshot and time when every stream is live, and when all arrived

                async def mark() -> None:
                    marks.append((await meter.snapshot(), time.perf_counter()))

                latencies = await _delivery(stub, mint, chat_id, sender, users, messages, on_live=mark)
                (before, began), (after, ended) = marks
                result = LoadResult(messages, ended - began, latencies)
                return meter.row(rpc, "rpc:Subscribe", before, after, result, messages, note)

            # Per message: the replica's whole work for one message sent into the chat and fanned out
            # to every stream it holds (one replica here), its SendMessage included; streams already open.
            cost = await delivered(
                "chat delivery, 30-member class, per message (incl. its send)",
                "bench-class",
                class_members[1:],
                40,
                "29 streams; latency = send→receipt",
            )
            class_lat = cost.latencies
            rows.append(("send→delivery, 30-member class chat (29 streams × 40 msgs)", ms(class_lat)))
            rows.append(("delivery cost per message, 30-member class", str(cost)))
            began = time.perf_counter()
            cost = await delivered(
                f"chat delivery, {CHANNEL_SUBSCRIBERS}-subscriber channel, per message (incl. its send)",
                "bench-channel",
                channel_members,
                10,
                f"{CHANNEL_SUBSCRIBERS} streams",
            )
            chan_lat = cost.latencies
            rows.append(
                (
                    f"send→delivery, {CHANNEL_SUBSCRIBERS}-subscriber channel (10 msgs)",
                    f"{ms(chan_lat)}  [{len(chan_lat)}/{10 * CHANNEL_SUBSCRIBERS} received,"
                    f" {time.perf_counter() - began:.0f} s incl. subscribe]",
                )
            )
            rows.append((f"delivery cost per message, {CHANNEL_SUBSCRIBERS}-subscriber channel", str(cost)))

            rows += await _announcement(channel, db, mint, meter)

            # Subscribe resume: a client that was away reconnects with its cursor 20 updates back.
            member_md = bearer(mint, class_members[1])

            async def resume(_: int) -> None:
                call = stub.Subscribe(
                    chat_pb2.SubscribeRequest(cursors=[chat_pb2.ChatCursor(chat_id="bench-class", update_seq=20)]),
                    metadata=member_md,
                )
                async for event in call:
                    if event.WhichOneof("event") == "live":
                        break
                call.cancel()

            cost = await meter.measure(
                "chat Subscribe resume (20 missed, until live)",
                "rpc:Subscribe",
                lambda: run_load(resume, concurrency=16, seconds=SECONDS / 2),
            )
            rows.append(("Subscribe resume cost, concurrency 16", str(cost)))

            # History: a chat of HISTORY messages loaded in bulk, then pages of 50 before random cursors.
            began = time.perf_counter()
            await _seed_chat(db, "bench-history", 3, [sender])
            now = datetime.now(UTC)
            batch = []
            for seq in range(1, HISTORY + 1):
                batch.append(
                    {
                        "_id": f"h{seq}",
                        "chat_id": "bench-history",
                        "seq": seq,
                        "useq": seq,
                        "school_id": "bench-school",
                        "sender": sender,
                        "text": f"message {seq}",
                        "sent_at": now,
                        "deleted": False,
                        "reactions": [],
                        "held_for": [],
                        "files": [],
                    }
                )
                if len(batch) == 5000:
                    await db["messages"].insert_many(batch, ordered=False)
                    batch = []
            if batch:
                await db["messages"].insert_many(batch, ordered=False)
            await db["counters"].update_one({"_id": "bench-history"}, {"$set": {"seq": HISTORY}})
            load_s = time.perf_counter() - began
            cursors = [HISTORY - (i * 997) % (HISTORY - 100) for i in range(200)]
            pages: list[float] = []

            async def paged() -> LoadResult:
                began = time.perf_counter()
                for i, cursor in enumerate(cursors):
                    t = time.perf_counter()
                    reply = await stub.ListMessages(
                        chat_pb2.ListMessagesRequest(chat_id="bench-history", before_seq=cursor, limit=50), metadata=md
                    )
                    pages.append(time.perf_counter() - t)
                    assert len(reply.messages) == 50 and reply.messages[-1].seq == cursor - 1, i
                return LoadResult(len(pages), time.perf_counter() - began, list(pages))

            cost = await meter.measure(
                f"chat ListMessages (50 before cursor, {HISTORY:,} msgs), concurrency 1", "rpc:ListMessages", paged
            )
            rows.append(("ListMessages cost, concurrency 1", str(cost)))
            rows.append(
                (f"history page (50 before cursor), {HISTORY:,}-message chat", f"{ms(pages)}  [load {load_s:.0f} s]")
            )
            latest: list[float] = []
            for _ in range(50):
                t = time.perf_counter()
                await stub.ListMessages(chat_pb2.ListMessagesRequest(chat_id="bench-history", limit=50), metadata=md)
                latest.append(time.perf_counter() - t)
            rows.append((f"history page (latest 50), {HISTORY:,}-message chat", ms(latest)))
    return rows


if __name__ == "__main__":
    for name, value in asyncio.run(run(dict(os.environ))):
        print(f"{name:70} {value}")
