"""Transactional outbox on single-document atomicity, and the relay that drains it into Kafka.

A state change and its events are written in one update of one document: the events are pushed
onto the document's `_outbox` array and `_outbox_n` counts them. The relay finds documents with
`_outbox_n > 0`, publishes their events in order with an idempotent producer, then pulls exactly
the published ones. A crash between publish and pull re-publishes (at least once); consumers are
idempotent. While Kafka is down nothing is pulled, so the outbox grows and drains on return.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.protocol.metadata import MetadataRequest
from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from parta_common.events.envelope import OutboxRecord
from parta_common.metrics import ServiceMetrics

log = structlog.get_logger("parta.outbox")

OUTBOX_FIELD = "_outbox"
OUTBOX_COUNT = "_outbox_n"


def outbox_push(records: Sequence[OutboxRecord]) -> dict[str, Any]:
    """Update operators that append `records` to a document's outbox; merge into your own update."""
    if not records:
        return {}
    return {
        "$push": {OUTBOX_FIELD: {"$each": [r.to_document() for r in records]}},
        "$inc": {OUTBOX_COUNT: len(records)},
    }


def outbox_fields(records: Sequence[OutboxRecord]) -> dict[str, Any]:
    """Fields for a newly inserted document that carries its first events."""
    return {OUTBOX_FIELD: [r.to_document() for r in records], OUTBOX_COUNT: len(records)}


def merge_updates(*updates: dict[str, Any]) -> dict[str, Any]:
    """Merge update documents operator by operator (e.g. a `$set` with an outbox `$push`)."""
    merged: dict[str, Any] = {}
    for update in updates:
        for op, fields in update.items():
            merged.setdefault(op, {}).update(fields)
    return merged


def outbox_index() -> IndexModel:
    return IndexModel([(OUTBOX_COUNT, 1)], name="outbox_pending", sparse=True)


def new_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
    )


# Readiness probes run every couple of seconds; a broker that takes longer than this to answer a
# metadata request is as good as down for the calls and relays waiting on it.
READY_TIMEOUT_SECONDS = 2.0


class KafkaProducerHandle:
    """Owns the producer; starts it lazily and keeps retrying, so a service can boot while Kafka is down."""

    def __init__(self, bootstrap: str, client_id: str):
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        return self._producer is not None

    async def get(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                producer = new_producer(self._bootstrap, self._client_id)
                try:
                    await producer.start()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    raise
                self._producer = producer
        return self._producer

    async def is_up(self, timeout: float = READY_TIMEOUT_SECONDS) -> bool:
        """A real round trip to a broker (a metadata request for no topics) within `timeout`.
        Cached cluster metadata is no evidence: it stays populated long after every broker left."""
        try:
            producer = await asyncio.wait_for(self.get(), timeout=timeout)
        except Exception:
            return False
        client = producer.client
        for node_id in [broker.nodeId for broker in client.cluster.brokers()]:
            try:
                response = await asyncio.wait_for(client.send(node_id, MetadataRequest([])), timeout=timeout)
            except Exception as exc:
                # That broker is down or slow; another one may answer.
                log.debug("kafka_probe_failed", node_id=node_id, error=type(exc).__name__)
                continue
            return bool(response.brokers)
        return False

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()


class OutboxRelay:
    """Publishes outbox events of the given collections; `notify()` wakes it after a local write."""

    def __init__(
        self,
        database: AsyncDatabase[Any],
        collections: Iterable[str],
        producer: KafkaProducerHandle,
        *,
        metrics: ServiceMetrics | None = None,
        poll_interval: float = 0.5,
        batch_size: int = 200,
    ):
        self._db = database
        self._collections = list(collections)
        self._producer = producer
        self._metrics = metrics
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def notify(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=5)

    async def _run(self) -> None:
        # This task's own context: its store commands count as the relay's, not as a request's.
        structlog.contextvars.bind_contextvars(worker="outbox-relay")
        backoff = 0.2
        while not self._stopping:
            self._wake.clear()
            try:
                published = await self.drain_once()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox_relay_failed", error=type(exc).__name__, retry_in=backoff)
                await self._report_backlog()
                await self._sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if published == 0:
                await self._sleep(self._poll_interval)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def drain_once(self) -> int:
        """Publish one batch per collection; returns how many events were published."""
        total = 0
        backlog = 0  # documents with pending events seen in this pass
        for name in self._collections:
            collection = self._db[name]
            docs = await collection.find(
                {OUTBOX_COUNT: {"$gt": 0}}, {OUTBOX_FIELD: 1}, limit=self._batch_size
            ).to_list()
            backlog += len(docs)
            if not docs:
                continue
            producer = await self._producer.get()
            futures = []
            for doc in docs:
                for event in doc.get(OUTBOX_FIELD, []):
                    futures.append(
                        await producer.send(event["topic"], value=bytes(event["envelope"]), key=event["key"].encode())
                    )
            await asyncio.gather(*futures)
            await remove_published(collection, docs)
            if self._metrics is not None:
                for doc in docs:
                    for event in doc.get(OUTBOX_FIELD, []):
                        self._metrics.events_published.labels(self._metrics.service, event["topic"]).inc()
            total += sum(len(doc.get(OUTBOX_FIELD, [])) for doc in docs)
        if self._metrics is not None and backlog == 0:
            self._metrics.outbox_backlog.labels(self._metrics.service).set(0)
        return total

    async def _report_backlog(self) -> None:
        if self._metrics is None:
            return
        with contextlib.suppress(Exception):
            self._metrics.outbox_backlog.labels(self._metrics.service).set(await self.backlog())

    async def backlog(self) -> int:
        count = 0
        for name in self._collections:
            count += await self._db[name].count_documents({OUTBOX_COUNT: {"$gt": 0}})
        return count


async def remove_published(collection: Any, docs: list[dict[str, Any]]) -> None:
    """Removes the events of `docs` (as the relay read them, then published) from their documents:
    one write per batch in the common case.

    Documents whose outbox still holds exactly what we read (count unchanged) lose both fields
    in one update_many per outbox size; the pending index then stays down to pending documents
    (a store that scans index ranges, like the local one, would otherwise read every drained
    document on each poll). Stores serialise writes: one write per batch, not one per document.
    """
    published = {doc["_id"]: [event["id"] for event in doc.get(OUTBOX_FIELD, [])] for doc in docs}
    by_size: dict[int, list[Any]] = {}
    for doc_id, ids in published.items():
        if ids:
            by_size.setdefault(len(ids), []).append(doc_id)
    for size, doc_ids in by_size.items():
        # Event ids are unique and outboxes only grow at the end and shrink from the front, so a
        # document that still holds our first event and as many events as we read holds exactly
        # what we read. Without the id check, a second relay could have drained the document and a
        # new event arrived since, restoring the count: we would drop an unpublished event.
        ours = [published[doc_id][0] for doc_id in doc_ids]
        mine = {"_id": {"$in": doc_ids}, f"{OUTBOX_FIELD}.id": {"$in": ours}}
        drained = await collection.update_many(
            {**mine, OUTBOX_COUNT: size}, {"$unset": {OUTBOX_FIELD: "", OUTBOX_COUNT: ""}}
        )
        if drained.modified_count == len(doc_ids):
            continue
        # The rest either got new events meanwhile (pull only ours; the filter on our first id
        # makes a relay that published the same batch a no-op, not a double $inc) or were drained
        # by another relay (nothing left of ours: not found here).
        for doc in await collection.find(mine, {"_id": 1}).to_list():
            ids = published[doc["_id"]]
            await collection.update_one(
                {"_id": doc["_id"], f"{OUTBOX_FIELD}.id": ids[0]},
                {"$pull": {OUTBOX_FIELD: {"id": {"$in": ids}}}, "$inc": {OUTBOX_COUNT: -len(ids)}},
            )
