"""Issue 13 fault tests, with real processes: chat replicas as processes (tests/faults/chat_replica.py,
chat's own build and runner), a steady stream of sends, and a dependency or a replica killed mid-way.

Each asserts: every accepted send is in history exactly once and reaches a live subscriber on
another replica (the one that survives) exactly once; every refusal the caller sees is UNAVAILABLE. School
and identity events are written straight to Kafka (tests/chat/support.World): no identity or school
process is needed.
The numbers are printed (run with -s) and recorded in docs/operations.md."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from parta.chat.v1 import chat_pb2
from parta_client import Endpoints, Parta, Session

from tests.chaos import free_port
from tests.chat.integration.test_store_outage import details
from tests.chat.support import CSTUDENT, HEAD, STUDENT, TEACHER, Collector, Person, Stubs, World, eventually, uid
from tests.e2e.harness import ServiceProcess, Stack
from tests.faults.chat_replica import write_keys

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "local"))
import infra  # deploy/local is not a package

REPLICA = "tests.faults.chat_replica"
SENDERS = 3
PACE = 0.05  # between one sender's sends: a steady stream, not a CPU-bound flood on a shared machine
KAFKA_OUTAGE = 10.0


@dataclass
class Traffic:
    """Senders that keep sending until stopped; a refused send is retried with the same client id,
    as a client application does (so "accepted" ends up covering every send attempted)."""

    send: Callable[[str], Awaitable[Any]]
    prefix: str = "m"  # client ids are idempotency keys: each run of traffic needs its own
    accepted: dict[str, float] = field(default_factory=dict)  # client id → when it was accepted
    refused: Counter[grpc.StatusCode] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)  # ErrorInfo reasons of the refusals
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: Any = field(default_factory=lambda: iter(range(1_000_000)))
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._sender()) for _ in range(SENDERS)]

    async def _sender(self) -> None:
        pending: str | None = None
        while not self._stop.is_set() or pending is not None:
            client_id = pending or f"{self.prefix}{next(self._ids)}"
            try:
                await self.send(client_id)
                self.accepted[client_id] = time.monotonic()
                pending = None
            except grpc.aio.AioRpcError as exc:
                self.refused[exc.code()] += 1
                self.reasons[details(exc)[0] or "(none)"] += 1
                pending = client_id
            await asyncio.sleep(PACE)

    async def until_accepted(self, n: int, timeout: float = 60) -> None:
        target = len(self.accepted) + n
        await eventually(lambda: _true(len(self.accepted) >= target), timeout=timeout)

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.wait_for(asyncio.gather(*self._tasks), timeout=90)


async def _true(value: bool) -> bool:
    return value


@dataclass
class Class:
    chat_id: str
    student: Person
    teacher: Person


async def provision(world: World, stubs: Stubs) -> Class:
    school = world.school()
    await school.create()
    class_id = uid("c")
    await school.add_class(class_id)
    student, teacher = world.person(), world.person()
    await school.member(student.user_id, STUDENT, class_id, CSTUDENT)
    await school.member(teacher.user_id, TEACHER, class_id, HEAD)
    chat_id = f"cls-{class_id}"

    async def both_can_send() -> bool:
        # Topics are consumed independently: done when the chat, both memberships and both
        # profiles have landed, i.e. both people can write.
        for who in (student, teacher):
            await stubs.chat.SendMessage(
                chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=f"warm-{who.user_id}", text="hi"),
                metadata=who.md,
                timeout=5,
            )
        return True

    await eventually(both_can_send, timeout=60)
    return Class(chat_id, student, teacher)


async def history(stubs: Stubs, klass: Class) -> list[str]:
    seen: list[str] = []
    before = 0
    while True:
        page = await stubs.chat.ListMessages(
            chat_pb2.ListMessagesRequest(chat_id=klass.chat_id, before_seq=before, limit=100),
            metadata=klass.teacher.md,
            timeout=10,
        )
        seen += [m.client_message_id for m in page.messages if m.client_message_id.startswith("m")]
        if len(page.messages) < 100:
            return seen
        before = page.messages[0].seq


def live_ids(collector: Collector, klass: Class) -> list[str]:
    return [m.client_message_id for m in collector.messages(klass.chat_id) if m.client_message_id.startswith("m")]


async def until_delivered(collector: Collector, klass: Class, expected: set[str], timeout: float) -> float:
    """Waits (bounded) until the subscriber has every expected message; returns how long it took.
    On timeout it returns, and assert_once says what is missing."""
    started = time.monotonic()
    while not set(live_ids(collector, klass)) >= expected and time.monotonic() - started < timeout:
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def assert_once(ids: list[str], expected: set[str], where: str) -> int:
    duplicated = [cid for cid, n in Counter(ids).items() if n > 1]
    assert not duplicated, f"{where}: delivered twice: {duplicated[:10]}"
    lost = expected - set(ids)
    assert not lost, f"{where}: missing {sorted(lost)[:10]} ({len(lost)} of {len(expected)}); got {ids[:20]}"
    return len(duplicated)


@pytest.fixture
def keys_env(tmp_path: Path) -> tuple[World, dict[str, str]]:
    world = World("", "", uuid.uuid4().hex[:8])  # wiring filled in by each test
    keys = write_keys(world.mint, tmp_path / "keys.json")
    return world, {"PARTA_TEST_KEYS_FILE": str(keys)}


@pytest.fixture
def broker() -> Any:
    """A Kafka broker of this test's own, on free ports: the shared one is never touched."""
    node = infra.KafkaNode(name=f"kafka-faults-{uuid.uuid4().hex[:8]}", port=free_port(), controller_port=free_port())
    node.up()
    yield node
    node.down(kill=True)
    shutil.rmtree(node.data, ignore_errors=True)


@pytest.fixture
async def stacks() -> AsyncIterator[list[Stack]]:
    made: list[Stack] = []
    yield made
    for stack in made:
        stack.stop_all()


async def test_kafka_killed_under_sends_loses_nothing_and_live_delivery_catches_up(
    keys_env: tuple[World, dict[str, str]], broker: Any, mongo_uri: str, stacks: list[Stack]
) -> None:
    world, extra = keys_env
    world.mongo_uri, world.kafka = mongo_uri, broker.bootstrap
    stack = Stack(mongo_uri, broker.bootstrap, world.run)
    stacks.append(stack)
    a = await stack.start("chat", extra, name="chat-a", module=REPLICA)
    b = await stack.start("chat", extra, name="chat-b", module=REPLICA)
    on_a, on_b = Stubs(grpc.aio.insecure_channel(a.address)), Stubs(grpc.aio.insecure_channel(b.address))
    klass = await provision(world, on_a)
    await world.stop()  # its producer; the broker is about to go away
    subscriber = await Collector(on_b, klass.teacher).ready()

    async def send(client_id: str) -> None:
        await on_a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=klass.chat_id, client_message_id=client_id, text=client_id),
            metadata=klass.student.md,
            timeout=5,
        )

    traffic = Traffic(send)
    traffic.start()
    await traffic.until_accepted(30)
    await eventually(lambda: _true(len(live_ids(subscriber, klass)) >= 20), timeout=30)  # live before the outage

    await asyncio.to_thread(broker.down, kill=True)  # a crash, not a clean stop
    killed = time.monotonic()
    delivered_at_kill = len(live_ids(subscriber, klass))
    await traffic.until_accepted(30, timeout=60)  # sends go on: they are written with their outbox
    await asyncio.sleep(max(0.0, KAFKA_OUTAGE - (time.monotonic() - killed)))  # the outage itself
    await asyncio.to_thread(broker.up)  # returns once a metadata round trip succeeds
    back = time.monotonic()
    await traffic.until_accepted(30, timeout=60)
    await traffic.stop()

    accepted = set(traffic.accepted)
    await until_delivered(subscriber, klass, accepted, timeout=90)
    caught_up = time.monotonic() - back
    assert subscriber.error is None, subscriber.error
    assert_once(live_ids(subscriber, klass), accepted, "live subscriber on the other replica")
    assert_once(await history(on_b, klass), accepted, "history")
    assert set(traffic.refused) <= {grpc.StatusCode.UNAVAILABLE}, traffic.refused
    during = sum(1 for t in traffic.accepted.values() if killed <= t < back)
    print(
        f"\nkafka outage: down {back - killed:.1f}s (killed, {KAFKA_OUTAGE:.0f}s, restart) "
        f"accepted={len(accepted)} (while down: {during}) refused={dict(traffic.refused)} {dict(traffic.reasons)} "
        f"live before kill={delivered_at_kill} lost=0 duplicated=0 catch-up after broker ready={caught_up:.1f}s"
    )
    await subscriber.close()
    for stubs in (on_a, on_b):
        await stubs.channel.close()


async def test_replica_sigkill_then_sigterm_under_sdk_sends_loses_nothing(
    keys_env: tuple[World, dict[str, str]], kafka_bootstrap: str, mongo_uri: str, stacks: list[Stack]
) -> None:
    world, extra = keys_env
    world.mongo_uri, world.kafka = mongo_uri, kafka_bootstrap
    stack = Stack(mongo_uri, kafka_bootstrap, world.run)
    stacks.append(stack)
    a = await stack.start("chat", extra, name="chat-a", module=REPLICA)
    b = await stack.start("chat", extra, name="chat-b", module=REPLICA)
    on_b = Stubs(grpc.aio.insecure_channel(b.address))
    klass = await provision(world, on_b)
    await world.stop()

    session = Session(
        user_id=klass.student.user_id, phone="+79000000001", access_token=klass.student.token, refresh_token=""
    )
    session.access_expires_at = datetime(2999, 1, 1).timestamp()

    def sdk_over(first: ServiceProcess, second: ServiceProcess) -> Parta:
        # Two replicas behind one name, as a Service gives them: grpc's pick_first uses the first
        # and moves to the second when the first is gone.
        target = f"ipv4:{first.address},{second.address}"
        return Parta(Endpoints(target, target, target, target), session=session)

    async def run_phase(name: str, first: ServiceProcess, second: ServiceProcess, fault: Callable[[], None]) -> Traffic:
        # A live subscriber on the replica that survives must get every accepted send once.
        listen = Stubs(grpc.aio.insecure_channel(second.address))
        subscriber = await Collector(listen, klass.teacher).ready()
        async with sdk_over(first, second) as sdk:

            async def send(client_id: str) -> None:
                await sdk.chats.SendMessage(
                    chat_pb2.SendMessageRequest(chat_id=klass.chat_id, client_message_id=client_id, text=client_id),
                    timeout=5,
                )

            traffic = Traffic(send, prefix=f"m{name}-")
            traffic.start()
            await traffic.until_accepted(30)
            await asyncio.to_thread(fault)
            await traffic.until_accepted(30, timeout=60)  # the survivor takes over
            await traffic.stop()
        await until_delivered(subscriber, klass, set(traffic.accepted), timeout=60)
        assert subscriber.error is None, subscriber.error
        assert_once(live_ids(subscriber, klass), set(traffic.accepted), f"{name}: live subscriber on the survivor")
        await subscriber.close()
        await listen.channel.close()
        return traffic

    def sigkill_a() -> None:
        a.process.send_signal(signal.SIGKILL)
        a.process.wait(30)

    killed = await run_phase("sigkill", a, b, sigkill_a)

    c = await stack.start("chat", extra, name="chat-c", module=REPLICA)
    on_c = Stubs(grpc.aio.insecure_channel(c.address))
    drain_took: list[float] = []

    def sigterm_b() -> None:
        started = time.monotonic()
        b.process.send_signal(signal.SIGTERM)
        assert b.process.wait(30) == 0, b.log_tail()
        drain_took.append(time.monotonic() - started)

    termed = await run_phase("sigterm", b, c, sigterm_b)

    accepted = set(killed.accepted) | set(termed.accepted)
    assert_once(await history(on_c, klass), accepted, "history")
    for phase in (killed, termed):
        # Beyond the SDK's own retries (same client id), nothing but UNAVAILABLE reaches the caller.
        assert set(phase.refused) <= {grpc.StatusCode.UNAVAILABLE}, phase.refused
    for name, phase in (("SIGKILL", killed), ("SIGTERM", termed)):
        print(
            f"\nreplica {name}: accepted={len(phase.accepted)} refused after the SDK's retries="
            f"{dict(phase.refused)} {dict(phase.reasons)} lost=0 duplicated=0"
        )
    print(f"drain after SIGTERM: {drain_took[0]:.1f}s")
    for stubs in (on_b, on_c):
        await stubs.channel.close()


def statuses(collector: Collector) -> list[tuple[int, bool]]:
    """(position in the stream, degraded) of each live status the subscriber received."""
    return [
        (i, e.live_status.state == chat_pb2.LIVE_STATE_DEGRADED)
        for i, e in enumerate(collector.events)
        if e.WhichOneof("event") == "live_status"
    ]


async def test_live_subscribers_are_told_when_kafka_is_lost_and_when_it_is_back(
    keys_env: tuple[World, dict[str, str]], broker: Any, mongo_uri: str, stacks: list[Stack]
) -> None:
    """Two people on one replica, subscribed; the broker is SIGKILLed: both streams say DEGRADED
    within the bound (sends still accepted), then LIVE once the broker is back, and only then the
    messages sent meanwhile — each once, none lost — and the ones sent afterwards."""
    world, extra = keys_env
    world.mongo_uri, world.kafka = mongo_uri, broker.bootstrap
    stack = Stack(mongo_uri, broker.bootstrap, world.run)
    stacks.append(stack)
    degraded_after = 3.0
    a = await stack.start(
        "chat", {**extra, "CHAT_LIVE_DEGRADED_AFTER_SECONDS": str(degraded_after)}, name="chat-a", module=REPLICA
    )
    on_a = Stubs(grpc.aio.insecure_channel(a.address))
    klass = await provision(world, on_a)
    await world.stop()
    teacher = await Collector(on_a, klass.teacher).ready()
    student = await Collector(on_a, klass.student).ready()

    async def send(client_id: str, who: Person) -> None:
        await on_a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=klass.chat_id, client_message_id=client_id, text=client_id),
            metadata=who.md,
            timeout=10,
        )

    await send("m-before", klass.student)
    await eventually(lambda: _true(all("m-before" in live_ids(c, klass) for c in (teacher, student))), timeout=30)
    assert statuses(teacher) == statuses(student) == []  # live: nothing to say

    await asyncio.to_thread(broker.down, kill=True)
    killed = time.monotonic()
    await eventually(lambda: _true(all(statuses(c) for c in (teacher, student))), timeout=degraded_after + 20)
    told_degraded = time.monotonic() - killed
    during = [f"m-during-{i}" for i in range(5)]
    for i, client_id in enumerate(during):  # accepted while Kafka is down (written with their outbox)
        await send(client_id, (klass.student, klass.teacher)[i % 2])
    await asyncio.to_thread(broker.up)  # returns once a metadata round trip succeeds
    back = time.monotonic()
    await eventually(lambda: _true(all(len(statuses(c)) >= 2 for c in (teacher, student))), timeout=60)
    told_live = time.monotonic() - back
    after = [f"m-after-{i}" for i in range(3)]
    for client_id in after:
        await send(client_id, klass.teacher)

    expected = {"m-before", *during, *after}
    for who, collector in (("teacher", teacher), ("student", student)):
        await until_delivered(collector, klass, expected, timeout=60)
        assert collector.error is None, collector.error
        ids = live_ids(collector, klass)
        assert_once(ids, expected, f"{who}'s live stream")
        assert ids == sorted(ids, key=lambda cid: (cid != "m-before", not cid.startswith("m-during"))), ids
        (at_degraded, degraded), (at_live, recovered) = statuses(collector)
        assert (degraded, recovered) == (True, False), statuses(collector)
        first_during = next(
            i for i, e in enumerate(collector.events) if e.WhichOneof("event") == "message" and e.message.text in during
        )
        assert at_degraded < at_live < first_during  # LIVE again comes before what was missed
    assert_once(await history(on_a, klass), expected, "history")
    caught_up = time.monotonic() - back
    print(
        f"\nlive status: DEGRADED {told_degraded:.1f}s after the kill (bound {degraded_after:.0f}s), "
        f"LIVE {told_live:.1f}s after the broker answered, all {len(expected)} messages on both streams "
        f"{caught_up:.1f}s after it, lost=0 duplicated=0"
    )
    for c in (teacher, student):
        await c.close()
    await on_a.channel.close()
