"""Build and read `parta.common.v1.EventEnvelope` records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf.message import DecodeError, Message
from parta.common.v1 import envelope_pb2

from parta_common.ids import new_id
from parta_common.telemetry import current_traceparent

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class OutboxRecord:
    """One event waiting in a document's outbox: where it goes and its serialized envelope."""

    event_id: str
    topic: str
    key: str
    envelope: bytes

    def to_document(self) -> dict[str, object]:
        return {"id": self.event_id, "topic": self.topic, "key": self.key, "envelope": self.envelope}


def make_envelope(
    payload: Message,
    *,
    aggregate_type: str,
    aggregate_id: str,
    aggregate_version: int,
    producer: str,
    occurred_at: datetime,
    correlation_id: str = "",
    event_id: str | None = None,
    traceparent: str | None = None,
) -> envelope_pb2.EventEnvelope:
    """`traceparent` defaults to the active span (the RPC or event that causes this one), so the
    consumer's span joins the same trace even though the outbox publishes it later."""
    packed = any_pb2.Any()
    packed.Pack(payload)
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(occurred_at)
    return envelope_pb2.EventEnvelope(
        event_id=event_id or new_id(),
        event_type=payload.DESCRIPTOR.full_name,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        occurred_at=stamp,
        producer=producer,
        correlation_id=correlation_id,
        payload=packed,
        traceparent=current_traceparent() if traceparent is None else traceparent,
    )


def outbox_record(topic: str, envelope: envelope_pb2.EventEnvelope) -> OutboxRecord:
    return OutboxRecord(
        event_id=envelope.event_id,
        topic=topic,
        key=envelope.aggregate_id,
        envelope=envelope.SerializeToString(),
    )


class MalformedEvent(ValueError):
    """A record that is not a readable envelope; it goes straight to the dead-letter topic."""


def parse_envelope(value: bytes | None) -> envelope_pb2.EventEnvelope:
    if not value:
        raise MalformedEvent("empty record")
    envelope = envelope_pb2.EventEnvelope()
    try:
        envelope.ParseFromString(value)
    except DecodeError as exc:
        raise MalformedEvent("not an EventEnvelope") from exc
    if not envelope.event_id or not envelope.event_type:
        raise MalformedEvent("envelope without id or type")
    return envelope


def unpack(envelope: envelope_pb2.EventEnvelope, message_type: type[M]) -> M:
    message = message_type()
    if not envelope.payload.Unpack(message):
        raise MalformedEvent(f"payload is not {message_type.DESCRIPTOR.full_name}")
    return message
