"""Feeds the revocation deny-set from identity's events, in every replica of every service.

Not a consumer group: each replica needs every revocation, so the feed assigns itself all
partitions of `identity.user.v1` and, at start, seeks to the offsets of `now - horizon` (the
longest life an access token can have): the deny-set is rebuilt from the log, nothing is stored.

Readiness (safe behaviour when Kafka lags): a replica is ready only once it has read up to the end
offsets it saw at start, and only while its last successful fetch is younger than `max_lag`; a
replica that cannot hear revocations leaves the Service endpoints instead of accepting tokens
it can no longer judge. The worst case left is bounded by the access-token life (5 minutes).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2

from parta_common.events import topics
from parta_common.events.envelope import MalformedEvent, parse_envelope, unpack
from parta_common.revocation import RevocationList

log = structlog.get_logger("parta.revocations")

IDENTITY_TOPIC = topics.IDENTITY_USER  # kept for callers of this module
SESSION_REVOKED = events_pb2.SessionRevoked.DESCRIPTOR.full_name
ACCOUNT_DELETED = events_pb2.AccountDeleted.DESCRIPTOR.full_name
ACCOUNT_DELETED_REASON = "account_deleted"  # SessionRevoked.reason when the account goes


def apply_revocation(revocations: RevocationList, envelope: envelope_pb2.EventEnvelope, horizon: float) -> bool:
    """Puts one identity event into the deny-set; False for events that revoke nothing."""
    if envelope.event_type == SESSION_REVOKED:
        revoked = unpack(envelope, events_pb2.SessionRevoked)
        assert isinstance(revoked, events_pb2.SessionRevoked)
        until = revoked.expires_at.seconds or envelope.occurred_at.seconds + horizon
        if revoked.reason == ACCOUNT_DELETED_REASON:
            # Deletion revokes the sessions before it erases the account: from the first of these
            # events on, the caller hears ACCOUNT_DELETED rather than a session story.
            revocations.delete_user(revoked.user_id, until)
        revocations.revoke_session(revoked.session_id, until)
        return True
    if envelope.event_type == ACCOUNT_DELETED:
        deleted = unpack(envelope, events_pb2.AccountDeleted)
        assert isinstance(deleted, events_pb2.AccountDeleted)
        # Events from before expires_at existed: assume the longest token life.
        until = deleted.expires_at.seconds or (deleted.deleted_at.seconds or envelope.occurred_at.seconds) + horizon
        revocations.delete_user(deleted.user_id, until)
        return True
    return False


class RevocationFeed:
    """A Worker: reads identity.user.v1 from `now - horizon` into `revocations`."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        revocations: RevocationList,
        *,
        horizon_seconds: float = 3600.0,
        max_lag_seconds: float = 30.0,
        partitions: int = 3,
        client_id: str = "parta-revocations",
        now: Callable[[], float] = time.time,
    ):
        self._bootstrap = bootstrap
        self._topic = topic
        self._revocations = revocations
        self._horizon = horizon_seconds
        self._max_lag = max_lag_seconds
        self._partitions = partitions
        self._client_id = client_id
        self._now = now
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._catch_up: dict[TopicPartition, int] = {}
        self._caught_up = asyncio.Event()
        # The last successful round trip to the brokers (getmany returns empty batches while Kafka
        # is away, so an explicit end-offsets query is the proof of contact).
        self._last_contact = float("-inf")
        self._partitions_assigned: list[TopicPartition] = []
        self.applied = 0

    @property
    def caught_up(self) -> asyncio.Event:
        return self._caught_up

    async def ready(self) -> bool:
        """A readiness check: caught up once, and hearing Kafka within `max_lag_seconds`."""
        return self._caught_up.is_set() and time.monotonic() - self._last_contact <= self._max_lag

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="revocation-feed")

    async def _ensure_topic(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        await admin.start()
        try:
            if self._topic not in await admin.list_topics():
                with contextlib.suppress(Exception):  # created meanwhile by identity's relay or a replica
                    await admin.create_topics([NewTopic(self._topic, self._partitions, 1)])
        finally:
            await admin.close()

    async def _connect(self) -> AIOKafkaConsumer:
        await self._ensure_topic()
        consumer, tps = await start_assigned_reader(self._bootstrap, self._topic, self._client_id)
        try:
            since = int((self._now() - self._horizon) * 1000)
            # The ends first: a partition with nothing since `since` is read from where it ended
            # before that question, so a revocation published between the two answers is not skipped
            # (asking in the other order seeked past one under load: CI, stop 24).
            ends = await consumer.end_offsets(tps)
            found = await consumer.offsets_for_times({tp: since for tp in tps})
            for tp in tps:
                at = found.get(tp)
                consumer.seek(tp, at.offset if at is not None else ends[tp])
            self._catch_up = {tp: end for tp, end in ends.items() if end > 0}
            self._partitions_assigned = tps
            self._last_contact = time.monotonic()
        except BaseException:
            await consumer.stop()
            raise
        return consumer

    async def _run(self) -> None:
        backoff = 0.5
        while self._consumer is None and not self._stopping:
            try:
                self._consumer = await self._connect()
            except Exception as exc:
                log.warning("revocation_feed_connect_failed", error=type(exc).__name__, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        consumer = self._consumer
        assert consumer is not None
        probe_every = min(5.0, self._max_lag / 3)
        next_probe = time.monotonic() + probe_every
        while not self._stopping:
            if time.monotonic() >= next_probe:
                next_probe = time.monotonic() + probe_every
                await self._probe(consumer)
            try:
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
            except Exception as exc:
                log.warning("revocation_feed_fetch_failed", error=type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            for records in batch.values():
                for record in records:
                    try:
                        envelope = parse_envelope(record.value)
                        if apply_revocation(self._revocations, envelope, self._horizon):
                            self.applied += 1
                    except (MalformedEvent, ValueError, TypeError) as exc:
                        log.warning("revocation_record_skipped", error=type(exc).__name__, offset=record.offset)
            if not self._caught_up.is_set():
                await self._check_caught_up(consumer)

    async def _probe(self, consumer: AIOKafkaConsumer) -> None:
        try:
            await asyncio.wait_for(consumer.end_offsets(self._partitions_assigned), timeout=5)
        except Exception as exc:
            log.warning("revocation_feed_probe_failed", error=type(exc).__name__)
            return
        self._last_contact = time.monotonic()

    async def _check_caught_up(self, consumer: AIOKafkaConsumer) -> None:
        for tp, end in self._catch_up.items():
            if await consumer.position(tp) < end:
                return
        self._caught_up.set()
        log.info("revocation_feed_caught_up", denied=len(self._revocations))

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


class TopicNotReady(Exception):
    """The brokers do not list the topic's partitions yet (just created, or a broker is lagging)."""


async def start_assigned_reader(
    bootstrap: str, topic: str, client_id: str, *, metadata_wait_seconds: float = 10.0
) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
    """A started consumer outside any group, assigned every partition of `topic` (each replica reads
    the whole topic itself); the caller seeks and owns stopping it.

    Raises TopicNotReady when the partitions are not known within `metadata_wait_seconds`: guessing
    "partition 0" instead would read a third of a three-partition topic and report itself caught up,
    so the caller retries the whole connect."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + metadata_wait_seconds
        while not (partitions := consumer.partitions_for_topic(topic)):
            if time.monotonic() >= deadline:
                raise TopicNotReady(topic)
            await consumer._client.force_metadata_update()  # the topic may have just been created
            await asyncio.sleep(0.1)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
    except BaseException:
        await _stop_unassigned(consumer)
        raise
    return consumer, tps


async def _stop_unassigned(consumer: AIOKafkaConsumer) -> None:
    """Stops a consumer that never got an assignment. aiokafka's stop then lets the CancelledError of
    its own idle committed-offsets task escape; that one is swallowed, a cancellation of ours is not."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
