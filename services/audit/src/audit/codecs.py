"""A chain record ↔ parta.audit.v1.AuditRecorded, shared by the record log (which publishes it) and
the chainer (which appends what it consumes); neither layer imports the other."""

from __future__ import annotations

from parta.audit.v1 import events_pb2
from parta_common.events.envelope import MalformedEvent
from parta_common.timestamps import from_ts, ts

from audit.domain.chain import Record, to_millis


def recorded_event(record: Record) -> events_pb2.AuditRecorded:
    return events_pb2.AuditRecorded(
        school_id=record.school_id,
        kind=record.kind,
        actor_user_id=record.actor,
        subject_user_ids=list(record.subjects),
        # Milliseconds, as the chain stores and hashes them.
        occurred_at=ts(to_millis(record.occurred_at)),
        source=record.source,
        source_event_type=record.source_type,
        attributes=dict(record.attrs),
    )


def record_of(event: events_pb2.AuditRecorded) -> Record:
    occurred_at = from_ts(event.occurred_at)
    if occurred_at is None:
        raise MalformedEvent("AuditRecorded without occurred_at")
    return Record(
        school_id=event.school_id,
        kind=event.kind,
        actor=event.actor_user_id,
        subjects=tuple(event.subject_user_ids),
        occurred_at=occurred_at,
        source=event.source,
        source_type=event.source_event_type,
        attrs=dict(event.attributes),
    )
