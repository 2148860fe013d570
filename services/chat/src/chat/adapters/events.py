"""chat's domain events → outbox records on the chat topic, through the kit's one OutboxWriter
(key: the chat id, so one chat's events keep their order)."""

from __future__ import annotations

from collections.abc import Iterable

from parta_common.events import topics
from parta_common.events.envelope import OutboxRecord
from parta_common.events.writer import Aggregate, OutboxWriter

from chat.domain import events as ev
from chat.pb import event_payload


class EventRecords:
    def __init__(self, writer: OutboxWriter):
        self._writer = writer

    def records(self, chat_id: str, events: Iterable[ev.ChatEvent]) -> list[OutboxRecord]:
        out = []
        for event in events:
            aggregate_type, aggregate_id, version, payload = event_payload(event)
            out.append(
                self._writer.record(
                    payload,
                    topic=topics.CHAT_MESSAGE,
                    aggregate=Aggregate(aggregate_type, aggregate_id, version),
                    key=chat_id,
                )
            )
        return out
