"""Outbox → real Kafka → idempotent consumer: exactly-once in effect, nothing lost while Kafka is down."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from parta.common.v1 import envelope_pb2
from parta.testing.v1 import echo_pb2
from parta_common.events.consumer import EventConsumer
from parta_common.events.envelope import make_envelope, outbox_record, unpack
from parta_common.events.outbox import (
    KafkaProducerHandle,
    OutboxRelay,
    outbox_fields,
    outbox_index,
    outbox_push,
)
from parta_common.mongo import apply_versioned

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local"))
import infra


class CounterStore:
    """A tiny aggregate: every increment bumps its version and records an event in its outbox."""

    def __init__(self, db: Any, topic: str):
        self.collection = db["counters"]
        self.topic = topic

    async def create(self, counter_id: str) -> None:
        await self.collection.create_indexes([outbox_index()])
        await self.collection.insert_one({"_id": counter_id, "value": 0, "version": 0, **outbox_fields([])})

    async def increment(self, counter_id: str) -> None:
        doc = await self.collection.find_one({"_id": counter_id}, {"version": 1})
        version = doc["version"] + 1
        envelope = make_envelope(
            echo_pb2.EchoRequest(text=f"{counter_id}:{version}"),
            aggregate_type="counter",
            aggregate_id=counter_id,
            aggregate_version=version,
            producer="test",
            occurred_at=datetime.now(UTC),
        )
        update = outbox_push([outbox_record(self.topic, envelope)])
        update["$inc"]["value"] = 1
        update["$inc"]["version"] = 1
        result = await self.collection.update_one({"_id": counter_id, "version": version - 1}, update)
        assert result.modified_count == 1


class Projection:
    """What a consumer builds: how many increments it has applied per counter (idempotently)."""

    def __init__(self, db: Any):
        self.collection = db["projection"]
        self.deliveries = 0

    async def handle(self, envelope: envelope_pb2.EventEnvelope) -> None:
        self.deliveries += 1
        unpack(envelope, echo_pb2.EchoRequest)
        await apply_versioned(
            self.collection, envelope.aggregate_id, envelope.aggregate_version, {"$inc": {"applied": 1}}
        )

    async def applied(self) -> int:
        return sum(d.get("applied", 0) for d in await self.collection.find({}).to_list())


async def wait_until(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def wiring(mongo_db, kafka_bootstrap, unique) -> AsyncIterator[tuple[CounterStore, Projection, Any]]:
    topic = f"t{unique}.kit.counter.v1"
    store = CounterStore(mongo_db, topic)
    projection = Projection(mongo_db)
    producer = KafkaProducerHandle(kafka_bootstrap, "test-relay")
    relay = OutboxRelay(mongo_db, ["counters"], producer, poll_interval=0.1)
    dlq = KafkaProducerHandle(kafka_bootstrap, "test-dlq")
    consumer = EventConsumer(
        bootstrap=kafka_bootstrap, group_id=f"g{unique}", topics=[topic], handler=projection.handle, dead_letters=dlq
    )
    await relay.start()
    await consumer.start()
    yield store, projection, {"topic": topic, "relay": relay}
    await consumer.stop()
    await relay.stop()
    await producer.close()
    await dlq.close()


async def test_events_reach_kafka_and_apply_once_even_when_delivered_twice(wiring, kafka_bootstrap):
    store, projection, ctx = wiring
    await store.create("c1")
    for _ in range(10):
        await store.increment("c1")
    await wait_until(lambda: _eq(projection.applied(), 10), what="10 applied")
    assert await store.collection.count_documents({"_outbox_n": {"$gt": 0}}) == 0

    # Redeliver every event a second time (what a relay crash between publish and pull does).
    raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await raw.start()
    try:
        for version in range(1, 11):
            envelope = make_envelope(
                echo_pb2.EchoRequest(text="dup"),
                aggregate_type="counter",
                aggregate_id="c1",
                aggregate_version=version,
                producer="test",
                occurred_at=datetime.now(UTC),
            )
            await raw.send_and_wait(ctx["topic"], envelope.SerializeToString(), key=b"c1")
    finally:
        await raw.stop()
    await wait_until(lambda: _ge_sync(projection.deliveries, 20), what="duplicates delivered")
    assert await projection.applied() == 10


async def _eq(awaitable, expected) -> bool:
    return (await awaitable) == expected


async def _ge_sync(value: int, expected: int) -> bool:
    return value >= expected


@pytest.fixture
def chaos_broker(unique) -> Any:
    """A second broker of our own, on other ports, that this test stops and starts at will."""
    node = infra.KafkaNode(name=f"kafka-chaos-{unique}", port=_free_port(), controller_port=_free_port())
    node.up()
    yield node
    node.down(kill=True)
    import shutil

    shutil.rmtree(node.data, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_outbox_grows_while_kafka_is_down_and_drains_when_it_returns(mongo_db, chaos_broker, unique):
    topic = f"t{unique}.kit.chaos.v1"
    store = CounterStore(mongo_db, topic)
    projection = Projection(mongo_db)
    producer = KafkaProducerHandle(chaos_broker.bootstrap, "chaos-relay")
    relay = OutboxRelay(mongo_db, ["counters"], producer, poll_interval=0.1)
    dlq = KafkaProducerHandle(chaos_broker.bootstrap, "chaos-dlq")
    consumer = EventConsumer(
        bootstrap=chaos_broker.bootstrap,
        group_id=f"g{unique}",
        topics=[topic],
        handler=projection.handle,
        dead_letters=dlq,
    )
    ids = [f"c{i}" for i in range(10)]
    for counter in ids:
        await store.create(counter)
    await relay.start()
    await consumer.start()
    try:
        await store.increment(ids[0])
        await wait_until(lambda: _eq(projection.applied(), 1), timeout=60, what="first event")

        await asyncio.to_thread(chaos_broker.down, kill=True)  # a crash, not a polite stop
        for i in range(100):
            await store.increment(ids[i % 10])
        await asyncio.sleep(1.0)
        pending = sum(d["_outbox_n"] for d in await store.collection.find({}, {"_outbox_n": 1}).to_list())
        assert pending == 100, "every change waits in the outbox while Kafka is down"

        await asyncio.to_thread(chaos_broker.up)
        await wait_until(lambda: _eq(projection.applied(), 101), timeout=90, what="all 101 events applied")
        await wait_until(lambda: _eq(relay.backlog(), 0), timeout=30, what="outbox drained")
        versions = {d["_id"]: d["version"] for d in await projection.collection.find({}).to_list()}
        assert versions == {counter: (11 if counter == "c0" else 10) for counter in ids}
    finally:
        await consumer.stop()
        await relay.stop()
        await producer.close()
        await dlq.close()
