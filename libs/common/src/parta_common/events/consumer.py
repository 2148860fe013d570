"""Idempotent consumer runner: handle, then commit. A record that fails on its own (a poison
record) is retried a few times, then dead-lettered; a record that fails because a dependency is
down (store, Kafka, a peer: parta_common.outages) is held and retried with backoff until the
dependency returns, never dead-lettered — an outage is not a poison record."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from parta.common.v1 import envelope_pb2

from parta_common.events.envelope import MalformedEvent, parse_envelope
from parta_common.events.outbox import KafkaProducerHandle
from parta_common.events.topics import dead_letter
from parta_common.metrics import ServiceMetrics
from parta_common.outages import dependency_of
from parta_common.telemetry import context_from_traceparent

log = structlog.get_logger("parta.consumer")

EventHandler = Callable[[envelope_pb2.EventEnvelope], Awaitable[None]]

# Longest pause between two tries of a record held by an outage.
MAX_OUTAGE_BACKOFF = 5.0


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: EventConsumer):
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._runner.commit_processed(set(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        return None


class EventConsumer:
    """Consumes `topics` in group `group_id`; `handler` must be idempotent (delivery is at least once).

    Records of one partition are handled strictly in order. The offset after a record is committed
    only once its effect is done (or it has been dead-lettered), so a crash replays, never skips.
    """

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        topics: Iterable[str],
        handler: EventHandler,
        dead_letters: KafkaProducerHandle,
        metrics: ServiceMetrics | None = None,
        max_attempts: int = 5,
        initial_backoff: float = 0.1,
        offset_reset: str = "earliest",
        client_id: str = "parta",
        tracer: Tracer | None = None,
    ):
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._topics = list(topics)
        self._handler = handler
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._max_attempts = max_attempts
        self._initial_backoff = initial_backoff
        self._offset_reset = offset_reset
        self._client_id = client_id
        self._tracer = tracer
        self._consumer: AIOKafkaConsumer | None = None
        self._processed: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self.started = asyncio.Event()
        self.waiting_on: str | None = None

    @property
    def group_id(self) -> str:
        return self._group_id

    @property
    def healthy(self) -> bool:
        """False while a record is held because a dependency is down (readiness reads this)."""
        return self.waiting_on is None

    async def _pause(self, seconds: float) -> None:
        # Wakes at once on stop(), so a consumer held by an outage still stops promptly.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_requested.wait(), timeout=seconds)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self._group_id}")

    async def _connect(self) -> AIOKafkaConsumer:
        backoff = 0.5
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=self._group_id,
                client_id=self._client_id,
                enable_auto_commit=False,
                auto_offset_reset=self._offset_reset,
                isolation_level="read_committed",
                metadata_max_age_ms=5_000,
            )
            consumer.subscribe(self._topics, listener=_CommitOnRevoke(self))
            try:
                await consumer.start()
                return consumer
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                log.warning("consumer_connect_failed", group=self._group_id, error=type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _run(self) -> None:
        self._consumer = await self._connect()
        self.started.set()
        consumer = self._consumer
        while not self._stopping:
            try:
                batch = await consumer.getmany(timeout_ms=200, max_records=200)
            except Exception as exc:
                log.warning("consumer_fetch_failed", group=self._group_id, error=type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            for partition, records in batch.items():
                for record in records:
                    if self._stopping or not await self._handle(record):
                        break  # stopping (perhaps mid-outage): this record is replayed, not skipped
                    self._processed[partition] = record.offset + 1
                await self.commit_processed({partition})
                self._report_lag(consumer, partition)

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        """True once the record is done with (handled or dead-lettered); False when the consumer
        stopped first, so its offset must not be committed."""
        try:
            envelope = parse_envelope(record.value)
        except MalformedEvent as exc:
            return await self._dead_letter(record, f"malformed: {exc}")
        with self._span(record, envelope) as span:
            outcome = await self._handle_with_retries(envelope)
            if outcome is None:
                return False
            if not outcome:
                if span is not None:
                    span.set_status(Status(StatusCode.ERROR, "dead-lettered"))
                return await self._dead_letter(record, "handler failed")
        return True

    def _span(
        self, record: ConsumerRecord[bytes, bytes], envelope: envelope_pb2.EventEnvelope
    ) -> AbstractContextManager[Span | None]:
        if self._tracer is None:
            return contextlib.nullcontext()
        # A child of the span that wrote the event (OpenTelemetry's messaging conventions for a
        # single-message "process" span), so one trace runs from the RPC through Kafka to here.
        return self._tracer.start_as_current_span(
            f"{record.topic} process",
            context=context_from_traceparent(envelope.traceparent),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": record.topic,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.consumer.group.name": self._group_id,
                "messaging.kafka.offset": record.offset,
                "messaging.message.id": envelope.event_id,
                "parta.event_type": envelope.event_type,
            },
            record_exception=False,
            set_status_on_exception=False,
        )

    async def _handle_with_retries(self, envelope: envelope_pb2.EventEnvelope) -> bool | None:
        """True once the handler succeeded; False after the last attempt failed on the record
        itself; None when the consumer stopped while the record was held by an outage."""
        backoff = self._initial_backoff
        outage_backoff = self._initial_backoff
        attempt = 0
        while True:
            try:
                # Bound so store commands and log lines are attributed to the event being handled
                # (parta_common.mongo.StoreCommandCounter's scope).
                with structlog.contextvars.bound_contextvars(consumed=envelope.event_type):
                    await self._handler(envelope)
                self._dependency_back()
                self._count("handled")
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                dependency = dependency_of(exc)
                if dependency is not None:
                    # Not the record's fault: hold it (and the partition behind it, keeping order)
                    # until the dependency answers again. Attempts are not counted.
                    if self._stopping:
                        return None
                    self._waiting_for(dependency, envelope, exc)
                    await self._pause(outage_backoff)
                    outage_backoff = min(outage_backoff * 2, MAX_OUTAGE_BACKOFF)
                    if self._stopping:
                        return None
                    continue
                self._dependency_back()
                attempt += 1
                log.warning(
                    "event_handler_failed",
                    group=self._group_id,
                    event_type=envelope.event_type,
                    event_id=envelope.event_id,
                    attempt=attempt,
                    error=type(exc).__name__,
                    exc_info=attempt == self._max_attempts,
                )
                if attempt >= self._max_attempts:
                    return False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _waiting_for(self, dependency: str, envelope: envelope_pb2.EventEnvelope, exc: Exception) -> None:
        if self.waiting_on != dependency:
            log.warning(
                "consumer_waiting_for_dependency",
                group=self._group_id,
                dependency=dependency,
                event_type=envelope.event_type,
                event_id=envelope.event_id,
                error=type(exc).__name__,
            )
        self.waiting_on = dependency
        self._count("outage_retry")
        if self._metrics is not None:
            self._metrics.consumer_waiting.labels(self._metrics.service, self._group_id).set(1)

    def _dependency_back(self) -> None:
        if self.waiting_on is None:
            return
        log.info("consumer_dependency_back", group=self._group_id, dependency=self.waiting_on)
        self.waiting_on = None
        if self._metrics is not None:
            self._metrics.consumer_waiting.labels(self._metrics.service, self._group_id).set(0)

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], why: str) -> bool:
        """Publishes `record` to its dead-letter topic; while Kafka itself is down it keeps trying
        (the record stays uncommitted). False when the consumer stopped first."""
        headers = [
            ("parta-dlq-reason", why.encode()[:200]),
            ("parta-dlq-group", self._group_id.encode()),
            ("parta-dlq-origin", f"{record.topic}/{record.partition}/{record.offset}".encode()),
        ]
        backoff = self._initial_backoff
        while True:
            try:
                producer = await self._dead_letters.get()
                await producer.send_and_wait(
                    dead_letter(record.topic), value=record.value, key=record.key, headers=headers
                )
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping:
                    return False
                log.warning("dead_letter_publish_failed", group=self._group_id, error=type(exc).__name__)
                await self._pause(backoff)
                backoff = min(backoff * 2, MAX_OUTAGE_BACKOFF)
        self._count("dead_lettered")
        log.error("event_dead_lettered", group=self._group_id, topic=record.topic, offset=record.offset, why=why)
        return True

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.events_consumed.labels(self._metrics.service, self._group_id, outcome).inc()

    def _report_lag(self, consumer: AIOKafkaConsumer, partition: TopicPartition) -> None:
        # A rebalance may revoke the partition while its batch was handled; highwater() then
        # asserts, and an exception here would end the consumer's loop for good.
        if self._metrics is None or partition not in consumer.assignment():
            return
        end = consumer.highwater(partition)
        position = self._processed.get(partition)
        if end is not None and position is not None:
            self._metrics.consumer_lag.labels(
                self._metrics.service, self._group_id, partition.topic, str(partition.partition)
            ).set(max(0, end - position))

    async def commit_processed(self, partitions: set[TopicPartition]) -> None:
        if self._consumer is None:
            return
        offsets = {tp: off for tp, off in self._processed.items() if tp in partitions}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except Exception as exc:
            # Not fatal: the records will be replayed and the handler is idempotent.
            log.warning("consumer_commit_failed", group=self._group_id, error=type(exc).__name__)
        for tp in offsets:
            self._processed.pop(tp, None)

    async def stop(self) -> None:
        self._stopping = True
        self._stop_requested.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
        if self._consumer is not None:
            await self.commit_processed(set(self._processed))
            await self._consumer.stop()
            self._consumer = None

    def describe(self) -> dict[str, Any]:
        return {"group": self._group_id, "topics": self._topics}
