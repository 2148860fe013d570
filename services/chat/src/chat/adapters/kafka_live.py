"""The live source: one Kafka reader per replica reads every partition of the chat topic from its
end and hands each update to the app's hub (app/live.py orders and fans them out).

Why no consumer group: every replica needs every partition (its subscribers may be in any chat),
and manual assignment avoids the group-join delay. Reading starts at the end of each partition when
the replica starts; anything older is served from the store by the subscriber's resume step.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from parta_common.events.envelope import MalformedEvent, parse_envelope
from parta_common.events.revocations import start_assigned_reader

from chat.app.live import LiveSink
from chat.pb import live_update

log = structlog.get_logger("chat.live")


class KafkaLiveReader:
    """A Worker: reads the chat topic and publishes to the sink (the hub)."""

    def __init__(
        self, bootstrap: str, topic: str, sink: LiveSink, *, partitions: int = 3, client_id: str = "chat-live"
    ):
        self._bootstrap = bootstrap
        self._topic = topic
        self._sink = sink
        self._partitions = partitions
        self._client_id = client_id
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

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
        try:
            await asyncio.wait_for(self._connect(), timeout=15)
        except Exception as exc:
            log.warning("live_reader_start_deferred", error=type(exc).__name__)
        self._task = asyncio.create_task(self._run(), name="chat-live-reader")

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
        self._consumer = consumer

    async def _run(self) -> None:
        backoff = 0.5
        while self._consumer is None and not self._stopping:
            try:
                await self._connect()
            except Exception as exc:
                log.warning("live_reader_connect_failed", error=type(exc).__name__, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        assert self._consumer is not None
        while not self._stopping:
            try:
                batch = await self._consumer.getmany(timeout_ms=200, max_records=500)
            except Exception as exc:
                log.warning("live_fetch_failed", error=type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
        await self._sink.close()
