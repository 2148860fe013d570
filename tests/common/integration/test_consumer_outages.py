"""Issue 13: consumers tell a poison record from an outage. A store outage holds the records (in
order) and never dead-letters them, however long it lasts; a record dead-lettered on its own merit
is replayed by `replay_dead_letters` (make replay-dlq) once the fix is deployed, exactly once per run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from parta.common.v1 import envelope_pb2
from parta.testing.v1 import echo_pb2
from parta_common.events.consumer import EventConsumer
from parta_common.events.envelope import make_envelope
from parta_common.events.outbox import KafkaProducerHandle
from parta_common.events.replay import replay_dead_letters
from parta_common.metrics import ServiceMetrics
from parta_common.mongo import apply_versioned
from pymongo import AsyncMongoClient

from tests.chaos import StoreProcess

pytestmark = pytest.mark.integration


def _event(text: str, version: int) -> bytes:
    return make_envelope(
        echo_pb2.EchoRequest(text=text),
        aggregate_type="t",
        aggregate_id=text,
        aggregate_version=version,
        producer="test",
        occurred_at=datetime.now(UTC),
    ).SerializeToString()


def _text(envelope: envelope_pb2.EventEnvelope) -> str:
    message = echo_pb2.EchoRequest()
    envelope.payload.Unpack(message)
    return message.text


async def wait_until(check: Any, *, timeout: float = 60.0, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not met in {timeout}s: {what}")
        await asyncio.sleep(0.05)


async def _dead_lettered(bootstrap: str, topic: str) -> int:
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    probe = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await reader.start()
    await probe.start()
    try:
        if topic not in await reader.topics():
            return 0
        parts = [TopicPartition(topic, p) for p in await probe.partitions_for(topic)]
        ends = await reader.end_offsets(parts)
        return sum(ends.values())
    finally:
        await probe.stop()
        await reader.stop()


@pytest.fixture
async def chaos_store() -> AsyncIterator[StoreProcess]:
    node = StoreProcess()
    node.start()
    try:
        yield node
    finally:
        node.cleanup()


async def test_a_store_outage_holds_records_and_never_dead_letters_them(kafka_bootstrap, unique, chaos_store):
    topic = f"t{unique}.kit.outage.v1"
    # A short selection timeout only so each held try is quick; the consumer's logic is the same.
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(chaos_store.uri, serverSelectionTimeoutMS=300)
    projection = client["outage"]["projection"]
    order: list[str] = []

    async def handler(envelope: envelope_pb2.EventEnvelope) -> None:
        await apply_versioned(projection, envelope.aggregate_id, envelope.aggregate_version, {"$set": {"n": 1}})
        order.append(_text(envelope))

    metrics = ServiceMetrics("test")
    dlq = KafkaProducerHandle(kafka_bootstrap, "outage-dlq")
    consumer = EventConsumer(
        bootstrap=kafka_bootstrap,
        group_id=f"g{unique}",
        topics=[topic],
        handler=handler,
        dead_letters=dlq,
        metrics=metrics,
        max_attempts=3,
        initial_backoff=0.01,
    )
    raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await raw.start()
    await consumer.start()
    held = metrics.events_consumed.labels("test", f"g{unique}", "outage_retry")
    try:
        await raw.send_and_wait(topic, _event("e0", 1), key=b"k", partition=0)
        await wait_until(lambda: _has(order, 1), what="e0 handled while the store is up")
        chaos_store.kill()
        for i in range(1, 6):
            await raw.send_and_wait(topic, _event(f"e{i}", 1), key=b"k", partition=0)
        # Held far beyond max_attempts (3): a poison record would be dead-lettered by now.
        await wait_until(lambda: _over(held, 10), what="the held record retried through the outage")
        assert consumer.waiting_on == "store" and not consumer.healthy
        assert metrics.consumer_waiting.labels("test", f"g{unique}")._value.get() == 1
        assert order == ["e0"]
        chaos_store.start()
        await wait_until(lambda: _has(order, 6), what="the held records handled after the store returned")
        assert order == ["e0", "e1", "e2", "e3", "e4", "e5"]  # in order, none skipped
        assert consumer.healthy and metrics.consumer_waiting.labels("test", f"g{unique}")._value.get() == 0
        assert await projection.count_documents({}) == 6
        assert await _dead_lettered(kafka_bootstrap, topic + ".dlq") == 0
    finally:
        await consumer.stop()
        await raw.stop()
        await dlq.close()
        await client.close()


async def test_stop_while_held_by_an_outage_is_prompt_and_commits_nothing_for_the_held_record(
    kafka_bootstrap, unique, chaos_store
):
    topic = f"t{unique}.kit.outage-stop.v1"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(chaos_store.uri, serverSelectionTimeoutMS=300)
    projection = client["outage"]["projection"]

    async def handler(envelope: envelope_pb2.EventEnvelope) -> None:
        await apply_versioned(projection, envelope.aggregate_id, envelope.aggregate_version, {"$set": {"n": 1}})

    dlq = KafkaProducerHandle(kafka_bootstrap, "outage-stop-dlq")
    consumer = EventConsumer(
        bootstrap=kafka_bootstrap, group_id=f"g{unique}", topics=[topic], handler=handler, dead_letters=dlq
    )
    raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await raw.start()
    chaos_store.kill()
    await raw.send_and_wait(topic, _event("held", 1), key=b"k", partition=0)
    await consumer.start()
    try:
        await wait_until(lambda: _is(consumer.waiting_on, "store"), what="the consumer holding the record")
    finally:
        started = asyncio.get_running_loop().time()
        await consumer.stop()
        stopped_in = asyncio.get_running_loop().time() - started
        await raw.stop()
        await dlq.close()
        await client.close()
    assert stopped_in < 3.0
    reader = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=f"g{unique}")
    await reader.start()
    try:
        committed = await reader.committed(TopicPartition(topic, 0))
    finally:
        await reader.stop()
    assert committed in (None, 0)  # the held record is replayed on restart, never skipped


async def test_replay_dlq_reapplies_a_dead_lettered_record_once_the_fix_is_in(kafka_bootstrap, unique):
    topic = f"t{unique}.kit.replay.v1"
    fixed = False
    handled: list[str] = []

    async def handler(envelope: envelope_pb2.EventEnvelope) -> None:
        if _text(envelope) == "needs-fix" and not fixed:
            raise ValueError("cannot apply this record (a bug)")
        handled.append(_text(envelope))

    dlq = KafkaProducerHandle(kafka_bootstrap, "replay-dlq")
    consumer = EventConsumer(
        bootstrap=kafka_bootstrap,
        group_id=f"g{unique}",
        topics=[topic],
        handler=handler,
        dead_letters=dlq,
        max_attempts=2,
        initial_backoff=0.01,
    )
    raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await raw.start()
    await consumer.start()
    try:
        for text in ("a", "needs-fix", "b"):
            await raw.send_and_wait(topic, _event(text, 1), key=b"k", partition=0)
        await wait_until(lambda: _has(handled, 2), what="a and b handled, the bad record skipped")
        await wait_until(
            lambda: _ge(_dead_lettered(kafka_bootstrap, topic + ".dlq"), 1), what="the bad record dead-lettered"
        )
        assert handled == ["a", "b"]

        fixed = True  # the fix is deployed
        group = f"replay-{unique}"
        assert await replay_dead_letters(kafka_bootstrap, topic + ".dlq", group=group) == 1
        await wait_until(lambda: _has(handled, 3), what="the replayed record handled")
        assert handled == ["a", "b", "needs-fix"]
        # A second run replays nothing: progress is committed per record.
        assert await replay_dead_letters(kafka_bootstrap, topic + ".dlq", group=group) == 0
        assert await replay_dead_letters(kafka_bootstrap, f"t{unique}.kit.never.v1.dlq", group=group) == 0
        with pytest.raises(ValueError):
            await replay_dead_letters(kafka_bootstrap, topic, group=group)
    finally:
        await consumer.stop()
        await raw.stop()
        await dlq.close()


async def _has(items: list[str], n: int) -> bool:
    return len(items) >= n


async def _over(counter: Any, n: int) -> bool:
    return bool(counter._value.get() >= n)


async def _is(value: object, expected: object) -> bool:
    return value == expected


async def _ge(awaitable: Any, n: int) -> bool:
    return bool(await awaitable >= n)
