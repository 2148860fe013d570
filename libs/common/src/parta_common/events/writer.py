"""The one outbox writer: a domain event's protobuf payload + the aggregate it changed → the
outbox record stored with that change (parta_common.events.outbox relays it to Kafka).

Every service builds its records here; what differs between services is data, not code:
which topic, which aggregate and version, which key. The key defaults to the aggregate id
(one aggregate's events keep their order); school keys by school id instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.message import Message

from parta_common.events.envelope import OutboxRecord, make_envelope
from parta_common.grpc.context import correlation_id


@dataclass(frozen=True)
class Aggregate:
    """The document an event changed, at the version the event brings it to."""

    type: str
    id: str
    version: int


def no_prefix(topic: str) -> str:
    """For `OutboxWriter(topic=...)` where the caller passes topics with their prefix already."""
    return topic


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OutboxWriter:
    """Binds what is fixed per service: producer name, topic prefix (`settings.topic`), clock."""

    producer: str
    topic: Callable[[str], str] = no_prefix
    now: Callable[[], datetime] = utc_now

    def record(
        self,
        payload: Message,
        *,
        topic: str,
        aggregate: Aggregate,
        key: str | None = None,
        occurred_at: datetime | None = None,
    ) -> OutboxRecord:
        """`topic` is a parta_common.events.topics name (the prefix is added here). The envelope
        carries the current call's correlation id and trace parent."""
        envelope = make_envelope(
            payload,
            aggregate_type=aggregate.type,
            aggregate_id=aggregate.id,
            aggregate_version=aggregate.version,
            producer=self.producer,
            occurred_at=occurred_at if occurred_at is not None else self.now(),
            correlation_id=correlation_id(),
        )
        return OutboxRecord(
            event_id=envelope.event_id,
            topic=self.topic(topic),
            key=aggregate.id if key is None else key,
            envelope=envelope.SerializeToString(),
        )
