"""A poison record is retried, then dead-lettered, and the consumer moves on to the next one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from parta.common.v1 import envelope_pb2
from parta.testing.v1 import echo_pb2
from parta_common.events.consumer import EventConsumer
from parta_common.events.envelope import make_envelope
from parta_common.events.outbox import KafkaProducerHandle


def _event(text: str) -> bytes:
    return make_envelope(
        echo_pb2.EchoRequest(text=text),
        aggregate_type="t",
        aggregate_id="a",
        aggregate_version=1,
        producer="test",
        occurred_at=datetime.now(UTC),
    ).SerializeToString()


async def test_poison_and_malformed_records_go_to_the_dead_letter_topic(kafka_bootstrap, unique):
    topic = f"t{unique}.kit.poison.v1"
    handled: list[str] = []
    attempts: dict[str, int] = {}

    async def handler(envelope: envelope_pb2.EventEnvelope) -> None:
        message = echo_pb2.EchoRequest()
        envelope.payload.Unpack(message)
        attempts[message.text] = attempts.get(message.text, 0) + 1
        if message.text == "poison":
            raise ValueError("cannot apply")
        handled.append(message.text)

    raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await raw.start()
    for value in (_event("first"), _event("poison"), b"\x00garbage", _event("after")):
        await raw.send_and_wait(topic, value, key=b"a", partition=0)
    await raw.stop()

    dlq = KafkaProducerHandle(kafka_bootstrap, "dlq")
    consumer = EventConsumer(
        bootstrap=kafka_bootstrap,
        group_id=f"g{unique}",
        topics=[topic],
        handler=handler,
        dead_letters=dlq,
        max_attempts=3,
        initial_backoff=0.01,
    )
    await consumer.start()
    try:
        for _ in range(300):
            if handled == ["first", "after"]:
                break
            await asyncio.sleep(0.1)
        assert handled == ["first", "after"]
        assert attempts["poison"] == 3
    finally:
        await consumer.stop()
        await dlq.close()

    reader = AIOKafkaConsumer(topic + ".dlq", bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await reader.start()
    try:
        got = []
        for _ in range(50):
            batch = await reader.getmany(timeout_ms=200)
            got.extend(r for records in batch.values() for r in records)
            if len(got) >= 2:
                break
        reasons = sorted(dict(r.headers)["parta-dlq-reason"].decode() for r in got)
        assert reasons == ["handler failed", "malformed: not an EventEnvelope"]
    finally:
        await reader.stop()

    # Offsets were committed past everything: a new consumer of the group sees nothing to redo.
    again: list[str] = []

    async def record(envelope: envelope_pb2.EventEnvelope) -> None:
        again.append(envelope.event_id)

    dlq2 = KafkaProducerHandle(kafka_bootstrap, "dlq2")
    second = EventConsumer(
        bootstrap=kafka_bootstrap, group_id=f"g{unique}", topics=[topic], handler=record, dead_letters=dlq2
    )
    await second.start()
    await asyncio.wait_for(second.started.wait(), 30)
    await asyncio.sleep(2)
    await second.stop()
    await dlq2.close()
    assert again == []
