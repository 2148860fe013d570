"""Live delivery at scale across two replicas, and a slow subscriber that is cut off alone."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from parta.chat.v1 import chat_pb2

from tests.chat.support import CSTUDENT, HEAD, STUDENT, TEACHER, Collector, World, chat_ids, eventually, uid

MESSAGES = int(__import__("os").environ.get("CHAT_FANOUT_MESSAGES", "1000"))
SUBSCRIBERS = 20


async def test_1000_messages_round_robin_reach_20_subscribers_on_both_replicas_in_order(world: World) -> None:
    a, b = (r.stubs for r in world.replicas)
    school = world.school()
    await school.create()
    class_id = uid("c")
    await school.add_class(class_id)
    students = [world.person() for _ in range(SUBSCRIBERS)]
    for s in students:
        await school.member(s.user_id, STUDENT, class_id, CSTUDENT)
    chat_id = f"cls-{class_id}"

    async def all_in() -> bool:
        return all([chat_id in await chat_ids(a, s) for s in students[-3:]])

    await eventually(all_in)
    subs = [await Collector(a if i % 2 else b, s).ready() for i, s in enumerate(students)]
    order = asyncio.Semaphore(16)  # 16 concurrent senders: sequence numbers race between replicas

    async def send(i: int) -> int:
        async with order:
            stubs = a if i % 2 else b
            reply = await stubs.chat.SendMessage(
                chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=f"rr{i}", text=f"message {i}"),
                metadata=students[i % SUBSCRIBERS].md,
            )
            return reply.message.seq

    seqs = sorted(await asyncio.gather(*(send(i) for i in range(MESSAGES))))
    assert len(set(seqs)) == MESSAGES

    async def everyone_has_all() -> bool:
        return all(len(s.messages(chat_id)) >= MESSAGES for s in subs)

    try:
        await eventually(everyone_has_all, timeout=60)
    except AssertionError:
        for sub in subs:
            got = [m.seq for m in sub.messages(chat_id)]
            missing = sorted(set(seqs) - set(got))
            print("fanout:", len(got), len(set(got)), missing[:10], len(missing), sub.error)
        db = world.replicas[0].service.infra.database
        print("fanout: pending", await db["messages"].count_documents({"_outbox_n": {"$gt": 0}}))
        print("fanout: stored", await db["messages"].count_documents({"chat_id": chat_id}))
        print(
            "fanout: sample",
            await db["messages"].find_one({"_outbox_n": {"$gt": 0}}, {"_outbox_n": 1, "seq": 1, "_outbox.id": 1}),
        )
        for r in world.replicas:
            print(
                "fanout: hub",
                {
                    k: (v.expected, sorted(v.pending)[:5], v.resolving)
                    for k, v in r.service.hub._order.items()
                    if k == chat_id
                },
            )
        raise
    await asyncio.sleep(0.5)  # would-be duplicates have time to show up
    for sub in subs:
        got = [m.seq for m in sub.messages(chat_id)]
        assert got == seqs, "missing, duplicated or out of order"
        assert sub.error is None
    for sub in subs:
        await sub.close()


async def test_a_slow_subscriber_is_cut_off_with_resync_required(world: World) -> None:
    c = await world.start_replica("slow", subscriber_queue=20, max_text_chars=60_000)
    stubs = c.stubs
    school = world.school()
    await school.create()
    class_id = uid("c")
    await school.add_class(class_id)
    head, slow, fast = world.person(), world.person(), world.person()
    await school.member(head.user_id, TEACHER, class_id, HEAD)
    await school.member(slow.user_id, STUDENT, class_id, CSTUDENT)
    await school.member(fast.user_id, STUDENT, class_id, CSTUDENT)
    chat_id = f"cls-{class_id}"

    async def ready() -> bool:
        return chat_id in await chat_ids(stubs, slow) and chat_id in await chat_ids(stubs, fast)

    await eventually(ready)
    stalled = stubs.chat.Subscribe(chat_pb2.SubscribeRequest(), metadata=slow.md)
    while (await stalled.read()).WhichOneof("event") != "live":  # read up to the live marker, then stop
        pass
    healthy = await Collector(stubs, fast).ready()
    big = "x" * 60_000  # big updates fill the transport buffers of a client that stopped reading
    for i in range(100):
        await stubs.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=f"b{i}", text=big), metadata=head.md
        )

    async def fast_has_all() -> bool:
        return len(healthy.messages(chat_id)) >= 100

    await eventually(fast_has_all, timeout=30)
    assert healthy.error is None
    with pytest.raises(grpc.aio.AioRpcError) as err:
        while True:
            if await asyncio.wait_for(stalled.read(), 10) is grpc.aio.EOF:
                break
    assert err.value.code() == grpc.StatusCode.ABORTED
    assert "RESYNC_REQUIRED" in str(err.value.trailing_metadata()) or "subscribe again" in (err.value.details() or "")
    await healthy.close()
