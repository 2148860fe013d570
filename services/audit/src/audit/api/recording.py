"""The audit service's event side as one unit: the record log's relay and the consumer that feeds
both the recorder and the chainer (composed in bootstrap.recording). Started relay first, so a
submission made while the consumer catches up is published; stopped consumer first."""

from __future__ import annotations

from dataclasses import dataclass

from parta_common.events.consumer import EventConsumer
from parta_common.events.outbox import OutboxRelay

from audit.app.trail import AuditTrail


@dataclass
class Recording:
    """The recorder, the record log and the chainer over one database — what the audit service runs,
    and what the integration tests and the benchmark drive the same way."""

    trail: AuditTrail
    relay: OutboxRelay
    consumer: EventConsumer

    async def start(self) -> None:
        await self.relay.start()
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.relay.stop()
