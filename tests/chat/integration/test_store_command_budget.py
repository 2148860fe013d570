"""Regression guard, not a timed test: the store commands SendMessage and live delivery cost.

Counted with the kit's StoreCommandCounter (PyMongo command monitoring, attributed to the RPC or
worker that sent each command), on the real store, so the numbers are the code's and not the
store's speed. A path that grows past its ceiling fails here. The ceilings are today's counts
(issue 18, 2026-12-02); the hot paths are being cut, so lower the constant with the change that
cuts the path, never raise it without saying why in docs/chat.md.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from parta.chat.v1 import chat_pb2
from parta_common.mongo import create_mongo_client

from tests.chat.support import CSTUDENT, STUDENT, Collector, Replica, Stubs, World, chat_ids, eventually, uid

# Store commands per SendMessage on the common path (a member posting text in a class chat).
# Measured 2026-12-02: 3 find, 1 findAndModify, 1 insert; cut to 3 the same day (issue 18's
# target): one aggregate (member with its chat and profile), the counter's $inc, the insert.
SEND_MESSAGE_MAX_COMMANDS = 3
# A history page before a cursor: the same access aggregate and the bounded-window find (was 3).
LIST_MESSAGES_MAX_COMMANDS = 2
# Store commands the subscriber's replica sends per delivered message (Subscribe stream plus its
# live reader), on the common path. Measured 2026-12-02: 0 (issue 18's target). The replica's own
# pollers count as "background" too and now and then land one find in the window, so the ceiling
# allows 2 in 10 messages; a store read per delivered message would show as 1.0 or more.
DELIVERY_MAX_COMMANDS_PER_MESSAGE = 0.2
MESSAGES = 10


async def _metered_replica(world: World, name: str) -> Replica:
    """A replica that counts its store commands; its own pollers slowed down so they stay out of the window."""
    from chat.bootstrap import build

    settings = world.settings(name).model_copy(
        # PolicySync's once-a-second read of changed schools is a poller too (no policy changes here).
        # The retention job too (its first run comes 30 s after the start).
        update={
            "mongodb_command_metrics": True,
            "quiet_release_poll_seconds": 3600.0,
            "policy_sync_seconds": 3600.0,
            "retention_interval_seconds": 0.0,
        }
    )
    service = await build(settings, key_source=world.mint.source(), clock=world.clock)
    port = await service.runner.start()
    address = f"127.0.0.1:{port}"
    replica = Replica(service, address, Stubs(grpc.aio.insecure_channel(address)))
    world.replicas.append(replica)
    return replica


@pytest.fixture(scope="module")
async def metered(mongo_uri: str, kafka_bootstrap: str) -> AsyncIterator[World]:
    w = World(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:10])
    await _metered_replica(w, "a")
    await _metered_replica(w, "b")
    try:
        yield w
    finally:
        await w.stop()
        client = create_mongo_client(mongo_uri, app_name="tests")
        await client.drop_database(w.database)
        await client.close()


async def test_send_message_and_live_delivery_stay_within_their_store_command_ceilings(metered: World) -> None:
    sender_side, subscriber_side = metered.replicas
    a, b = sender_side.stubs, subscriber_side.stubs
    school = metered.school()
    await school.create()
    class_id = uid("c")
    await school.add_class(class_id)
    alice, bob = metered.person(), metered.person()
    for person in (alice, bob):
        await school.member(person.user_id, STUDENT, class_id, CSTUDENT)
    chat_id = f"cls-{class_id}"

    async def both_in() -> bool:
        return chat_id in await chat_ids(a, alice) and chat_id in await chat_ids(b, bob)

    await eventually(both_in)
    bob_live = await Collector(b, bob).ready()

    async def send(i: int) -> None:
        await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=f"budget-{i}", text=f"m{i}"),
            metadata=alice.md,
        )

    def received(n: int):  # type: ignore[no-untyped-def]
        async def check() -> bool:
            return len(bob_live.messages(chat_id)) >= n

        return check

    await send(-1)  # warm-up: first-use caches and projections are not the common path
    await eventually(received(1))
    sender = sender_side.service.infra.store_commands
    receiver = subscriber_side.service.infra.store_commands
    sender.reset()
    receiver.reset()

    for i in range(MESSAGES):
        await send(i)
    await eventually(received(MESSAGES + 1))
    await bob_live.close()

    per_send = sender.total("rpc:SendMessage") / MESSAGES
    delivery_scopes = {scope for scope, _ in receiver.counts} - {"worker:outbox-relay"}
    delivery_scopes = {s for s in delivery_scopes if not s.startswith("event:")}
    per_delivery = sum(receiver.total(s) for s in delivery_scopes) / MESSAGES
    detail = f"sender {sender.counts}, subscriber's replica {receiver.counts}"
    assert per_send <= SEND_MESSAGE_MAX_COMMANDS, f"SendMessage: {per_send:.1f} store commands per call; {detail}"
    assert per_delivery <= DELIVERY_MAX_COMMANDS_PER_MESSAGE, (
        f"delivery: {per_delivery:.1f} store commands per message on the subscriber's replica; {detail}"
    )

    latest = await a.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id, limit=1), metadata=alice.md)
    last = latest.messages[-1].seq  # the latest page also reads the counter: one command more
    sender.reset()
    request = chat_pb2.ListMessagesRequest(chat_id=chat_id, before_seq=last, limit=5)
    page = await a.chat.ListMessages(request, metadata=alice.md)
    assert [m.seq for m in page.messages] == list(range(last - 5, last))
    per_page = sender.total("rpc:ListMessages")
    assert per_page <= LIST_MESSAGES_MAX_COMMANDS, f"ListMessages: {per_page} store commands; {sender.counts}"


# A parent's DM to a teacher in working hours (measured 2026-12-07): the access aggregate, both
# people's seats (the rule book and quiet hours), the school (quiet hours), the recipient's
# preferences (block list and urgent switch, one find: issue 16 added it, 6 → 7), the counter's
# $inc and the insert.
DM_SEND_MAX_COMMANDS = 7
# The same DM marked urgent at night: + the allowance's conditional upsert.
URGENT_DM_SEND_MAX_COMMANDS = 8


async def test_a_direct_message_and_an_urgent_one_stay_within_their_ceilings(metered: World) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from tests.chat.support import CPARENT, HEAD, PARENT, TEACHER

    a = metered.replicas[0].stubs
    school = metered.school()
    await school.create(tz="Europe/Moscow")
    class_id = uid("c")
    await school.add_class(class_id)
    teacher, parent, child = metered.person(), metered.person(), metered.person()
    await school.member(teacher.user_id, TEACHER, class_id, HEAD)
    await school.member(child.user_id, STUDENT, class_id, CSTUDENT)
    await school.member(parent.user_id, PARENT, class_id, CPARENT, child=child.user_id)

    async def opened() -> str:
        reply = await a.chat.OpenDirectChat(
            chat_pb2.OpenDirectChatRequest(school_id=school.school_id, user_id=teacher.user_id), metadata=parent.md
        )
        return reply.chat.chat.chat_id

    dm = await eventually(opened)
    moscow = ZoneInfo("Europe/Moscow")
    counter = metered.replicas[0].service.infra.store_commands

    async def per_send(urgent: bool) -> float:
        await a.chat.SendMessage(  # warm-up
            chat_pb2.SendMessageRequest(chat_id=dm, client_message_id=uid(), text="w"), metadata=parent.md
        )
        counter.reset()
        for _ in range(2):
            await a.chat.SendMessage(
                chat_pb2.SendMessageRequest(
                    chat_id=dm,
                    client_message_id=uid(),
                    text="m",
                    urgent=urgent,
                    urgent_reason="fever" if urgent else "",
                ),
                metadata=parent.md,
            )
        return counter.total("rpc:SendMessage") / 2

    try:
        metered.clock.fixed = datetime(2026, 9, 1, 10, 0, tzinfo=moscow).astimezone(UTC)
        in_hours = await per_send(False)
        assert in_hours <= DM_SEND_MAX_COMMANDS, f"DM SendMessage: {in_hours:.1f}; {counter.counts}"
        metered.clock.fixed = datetime(2026, 9, 1, 22, 40, tzinfo=moscow).astimezone(UTC)
        urgent = await per_send(True)
        assert urgent <= URGENT_DM_SEND_MAX_COMMANDS, f"urgent DM SendMessage: {urgent:.1f}; {counter.counts}"
    finally:
        metered.clock.fixed = None
