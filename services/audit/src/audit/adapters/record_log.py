"""The record log: what is to be chained goes to `audit.record.v1` through the outbox of one small
document per (school, source) in `submissions`. The document's `_id` makes a submission idempotent
(a redelivered event, a retried read), and it stays as that marker once the relay has published it.
A record whose entry is in the chain already is not submitted again: in a rebuild the chain comes
back from the log first, and the recorder's second look at the same events adds nothing to the log.

Why a topic between the recorder and the chain (docs/audit.md, "Rebuilding a trail"): the chain is
then built from one log whose per-school order and times are fixed once written, so a replay of it
rebuilds the same chain, hash for hash. The store write is the acceptance: a trail read that cannot
be submitted returns nothing, and nothing submitted is lost while Kafka is away (the outbox waits)."""

from __future__ import annotations

from collections.abc import Callable

from parta_common.events import topics
from parta_common.events.outbox import outbox_fields
from parta_common.events.writer import Aggregate, OutboxWriter
from parta_common.mongo import Document
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from audit.adapters.mongo import ENTRIES, SUBMISSIONS
from audit.codecs import recorded_event
from audit.domain.chain import Record

AGGREGATE = "audit_chain"


def submission_id(school_id: str, source: str) -> str:
    return f"{school_id}/{source}"


class MongoRecordLog:
    def __init__(self, database: AsyncDatabase[Document], writer: OutboxWriter, notify: Callable[[], None]):
        self._submissions = database[SUBMISSIONS]
        self._entries = database[ENTRIES]
        self._writer = writer
        self._notify = notify

    async def submit(self, record: Record) -> None:
        if await self._entries.find_one({"school_id": record.school_id, "source": record.source}, {"_id": 1}):
            return  # chained already (a rebuild replays the log before the services' topics)
        event = self._writer.record(
            recorded_event(record),
            topic=topics.AUDIT_RECORD,
            # Keyed by school: one school's records keep their order on one partition. No version:
            # the chain orders them, not the event.
            aggregate=Aggregate(AGGREGATE, record.school_id, 0),
        )
        try:
            marker = {"_id": submission_id(record.school_id, record.source)}
            await self._submissions.insert_one({**marker, **outbox_fields([event])})
        except DuplicateKeyError:
            return  # submitted already (a redelivered event); its first submission is the one chained
        self._notify()
