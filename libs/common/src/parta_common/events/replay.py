"""Replays a dead-letter topic into the topic its records came from, once the cause is fixed.

    python -m parta_common.events.replay --bootstrap 127.0.0.1:9092 --topic chat.x.v1.dlq   (make replay-dlq)

Each record goes back to its origin topic with the same key (so the same partition and order per
aggregate) and a `parta-replayed-from` header. Progress is the replay group's committed offset on
the dead-letter topic, committed after each record is acknowledged by Kafka: a second run replays
only what was dead-lettered since, and a run cut short re-publishes at most the record in flight.
That is safe because every consumer is idempotent (versioned projections, idempotent ids), and the
replayed record reaches every group of the origin topic, which applies it or skips it as already seen.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from parta_common.events.outbox import new_producer
from parta_common.events.topics import DLQ_SUFFIX

log = structlog.get_logger("parta.replay")

REPLAY_GROUP = "parta-dlq-replay"


async def replay_dead_letters(bootstrap: str, topic: str, *, group: str = REPLAY_GROUP) -> int:
    """Re-publishes every record of dead-letter `topic` not yet replayed by `group`; returns how many."""
    if not topic.endswith(DLQ_SUFFIX):
        raise ValueError(f"{topic!r} is not a dead-letter topic (it must end in {DLQ_SUFFIX})")
    origin = topic[: -len(DLQ_SUFFIX)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = new_producer(bootstrap, client_id=f"{group}-producer")
    await consumer.start()
    await producer.start()
    replayed = 0
    try:
        partitions = await _partitions(consumer, producer, topic)
        if not partitions:
            log.info("dlq_empty", topic=topic)
            return 0
        consumer.assign(partitions)
        for tp in partitions:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        # Replay up to where the topic ends now; records dead-lettered meanwhile wait for the next run.
        ends = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(*partitions, timeout_ms=1000, max_records=100)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    headers = [(k, v) for k, v in record.headers if k != "parta-replayed-from"]
                    headers.append(("parta-replayed-from", f"{tp.topic}/{tp.partition}/{record.offset}".encode()))
                    await producer.send_and_wait(origin, value=record.value, key=record.key, headers=headers)
                    await consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "")})
                    replayed += 1
        log.info("dlq_replayed", topic=topic, origin=origin, records=replayed)
        return replayed
    finally:
        await producer.stop()
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, topic: str) -> list[TopicPartition]:
    # topics() asks the cluster; a dead-letter topic nobody wrote to does not exist (and must not be
    # auto-created by asking for its partitions).
    if topic not in await consumer.topics():
        return []
    return [TopicPartition(topic, p) for p in sorted(await producer.partitions_for(topic))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay a dead-letter topic into its origin topic.")
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    parser.add_argument("--topic", required=True, help=f"the dead-letter topic (ends in {DLQ_SUFFIX})")
    parser.add_argument("--group", default=REPLAY_GROUP, help="consumer group that records replay progress")
    args = parser.parse_args(argv)
    count = asyncio.run(replay_dead_letters(args.bootstrap, args.topic, group=args.group))
    print(f"replayed {count} record(s) from {args.topic} into {args.topic[: -len(DLQ_SUFFIX)]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
