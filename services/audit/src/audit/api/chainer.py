"""The chainer: appends each AuditRecorded of `audit.record.v1` to its school's chain, in the topic's
order (one partition per school), with the event's own time as the entry's `recorded_at` — so the
chain is a function of that topic alone and replaying it rebuilds every seq and hash
(docs/audit.md, "Rebuilding a trail"). A record whose source is chained already is a duplicate
(a rebuild's recorder re-submits what the topic holds) and changes nothing."""

from __future__ import annotations

from parta.audit.v1 import events_pb2
from parta.common.v1 import envelope_pb2
from parta_common.events.envelope import MalformedEvent
from parta_common.events.router import EventRouter
from parta_common.timestamps import from_ts

from audit.app.ports import Chains
from audit.codecs import record_of


class Chainer:
    def __init__(self, chains: Chains):
        self._chains = chains

    def router(self) -> EventRouter:
        router = EventRouter()
        router.register(events_pb2.AuditRecorded, self.on_recorded)
        return router

    async def on_recorded(self, msg: events_pb2.AuditRecorded, envelope: envelope_pb2.EventEnvelope) -> None:
        recorded_at = from_ts(envelope.occurred_at)
        if recorded_at is None:
            raise MalformedEvent("AuditRecorded envelope without occurred_at")
        await self._chains.append(record_of(msg), recorded_at)
