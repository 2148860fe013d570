"""The live source: one Kafka reader per replica reads every partition of the chat topic from its
end and hands each update to the app's hub (app/live.py orders and fans them out).

Why no consumer group: every replica needs every partition (its subscribers may be in any chat),
and manual assignment avoids the group-join delay. Reading starts at the end of each partition when
the replica starts; anything older is served from the store by the subscriber's resume step.

Degraded: a fetch that returns nothing is no evidence that the broker is there (aiokafka retries
quietly), so every `probe_every` the reader asks the brokers for the partitions' end offsets. When
no round trip (probe or fetch with records) succeeded for `degraded_after` seconds — also before
the first connection — the hub is told live delivery is degraded; the first success after that
tells it live delivery is back. The consumer keeps its positions throughout, so what was published
meanwhile is read next, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from parta_common.events.envelope import MalformedEvent, parse_envelope
from parta_common.events.revocations import start_assigned_reader

from chat.app.live import LiveSink
from chat.pb import live_update

log = structlog.get_logger("chat.live")


class KafkaLiveReader:
    """A Worker: reads the chat topic and publishes to the sink (the hub)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        sink: LiveSink,
        *,
        partitions: int = 3,
        client_id: str = "chat-live",
        degraded_after: float = 5.0,
        probe_every: float = 1.0,
    ):
        self._bootstrap = bootstrap
        self._topic = topic
        self._sink = sink
        self._partitions = partitions
        self._client_id = client_id
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._degraded_after = degraded_after
        self._probe_every = probe_every
        self._tps: list[TopicPartition] = []
        self._last_contact = time.monotonic()

    async def _ensure_topic(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        await admin.start()
        try:
            existing = await admin.list_topics()
            if self._topic not in existing:
                with contextlib.suppress(Exception):  # created meanwhile by another replica or the relay
                    await admin.create_topics([NewTopic(self._topic, self._partitions, 1)])
        finally:
            await admin.close()

    async def start(self) -> None:
        # Position at the end of every partition before the server takes calls, so nothing published
        # after start-up is skipped. If Kafka is down, start anyway and keep trying in the background
        # (subscribers then get history from the store and live updates once Kafka is back).
        self._last_contact = time.monotonic()
        try:
            await asyncio.wait_for(self._connect(), timeout=15)
        except Exception as exc:
            log.warning("live_reader_start_deferred", error=type(exc).__name__)
        self._task = asyncio.create_task(self._run(), name="chat-live-reader")
        self._watch_task = asyncio.create_task(self._watch(), name="chat-live-watch")

    async def _watch(self) -> None:
        """Tells the sink when the broker has been out of reach for `degraded_after`, and when it is back."""
        while not self._stopping:
            quiet = time.monotonic() - self._last_contact
            self._sink.set_degraded(quiet > self._degraded_after)
            await asyncio.sleep(min(0.5, self._degraded_after / 4))

    async def _probe(self, consumer: AIOKafkaConsumer) -> None:
        try:
            await asyncio.wait_for(consumer.end_offsets(self._tps), timeout=self._degraded_after / 2)
        except Exception as exc:
            log.debug("live_reader_probe_failed", error=type(exc).__name__)
            return
        self._contact()

    def _contact(self) -> None:
        self._last_contact = time.monotonic()
        self._sink.set_degraded(False)  # at once: the watch only notices within its period

    async def _connect(self) -> None:
        await self._ensure_topic()
        consumer, tps = await start_assigned_reader(self._bootstrap, self._topic, self._client_id)
        try:
            await consumer.seek_to_end(*tps)
            for tp in tps:
                await consumer.position(tp)
        except BaseException:
            await consumer.stop()
            raise
        self._tps = tps
        self._consumer = consumer
        self._contact()

    async def _run(self) -> None:
        backoff = 0.5
        while self._consumer is None and not self._stopping:
            try:
                await self._connect()
            except Exception as exc:
                log.warning("live_reader_connect_failed", error=type(exc).__name__, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        consumer = self._consumer
        assert consumer is not None
        next_probe = time.monotonic() + self._probe_every
        while not self._stopping:
            if time.monotonic() >= next_probe:
                await self._probe(consumer)
                next_probe = time.monotonic() + self._probe_every
            try:
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
            except Exception as exc:
                log.warning("live_fetch_failed", error=type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            if batch:
                self._contact()
            for records in batch.values():
                for record in records:
                    try:
                        envelope = parse_envelope(record.value)
                        update = live_update(envelope.event_type, envelope.payload.value)
                    except (MalformedEvent, ValueError) as exc:
                        log.warning("live_record_skipped", error=type(exc).__name__, offset=record.offset)
                        continue
                    if update is not None:
                        self._sink.publish(update)

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._task, self._watch_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._consumer is not None:
            await self._consumer.stop()
        await self._sink.close()
