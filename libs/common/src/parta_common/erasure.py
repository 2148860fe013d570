"""Erasure (issue 17): the ledger every service keeps of the accounts it erased, and the report it
publishes when done.

One document per erased person in the service's `erasures` collection:
`{_id: user_id, state: "running" | "done", counts: {what: n}, requested_by, token, started_at,
finished_at}`. A service's AccountDeleted handler

1. `start`s the run (created once; a replay of a finished run gets None and does nothing),
2. erases in batches, `add`ing each batch's count after its writes,
3. `finish`es: the state moves to done and the report (parta.common.v1.ErasureReported, counts
   only) goes into the same document's outbox, in one write — so it is published exactly when the
   erasure is complete, and once.

A crash in step 2 leaves a running document; the redelivered event resumes it (every step is
idempotent: what was erased is not found again). A crash between a batch's writes and its `add`
under-reports that batch; two replicas running the same erasure at once (a rebalance mid-run) may
count what both found. `token` is a random id minted once per person, for
services that keep a row in place but must not keep the id (media-signal's attendance).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from parta.common.v1 import erasure_pb2
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from parta_common.events.outbox import merge_updates, outbox_push
from parta_common.events.topics import ERASURE_REPORT
from parta_common.events.writer import Aggregate, OutboxWriter
from parta_common.timestamps import ts

ERASURES = "erasures"


@dataclass(frozen=True)
class ErasureRun:
    """A person's erasure in this service, as stored: `done` runs need nothing more."""

    user_id: str
    requested_by: str
    token: str
    done: bool = False
    counts: dict[str, int] = field(default_factory=dict)


class ErasureLedger(Protocol):
    async def start(self, user_id: str, requested_by: str, now: datetime) -> ErasureRun | None:
        """The run to do (new, or left running by a crash); None when it finished before."""

    async def add(self, user_id: str, what: str, count: int) -> None:
        """Counts `count` more of `what` (after they were erased)."""

    async def finish(self, user_id: str, now: datetime) -> dict[str, int] | None:
        """Marks the run done and publishes its report; None when it was done already."""


def report_payload(
    user_id: str, service: str, counts: dict[str, int], requested_by: str, at: datetime
) -> erasure_pb2.ErasureReported:
    return erasure_pb2.ErasureReported(
        user_id=user_id,
        service=service,
        removed=[erasure_pb2.ErasureCount(what=k, count=v) for k, v in sorted(counts.items())],
        erased_at=ts(at),
        requested_by_user_id=requested_by,
    )


class MongoErasureLedger:
    """The ledger in the service's own database; its collection must be one of the outbox relay's."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]], service: str, topic: str, writer: OutboxWriter):
        """`topic`: ERASURE_REPORT with the deployment's prefix; `writer` the service's OutboxWriter
        (no prefix function: the topic given here is final)."""
        self._erasures = database[ERASURES]
        self._service = service
        self._topic = topic
        self._writer = writer

    async def start(self, user_id: str, requested_by: str, now: datetime) -> ErasureRun | None:
        doc: dict[str, Any] = {
            "_id": user_id,
            "state": "running",
            "counts": {},
            "requested_by": requested_by,
            "token": "erased-" + secrets.token_hex(8),
            "started_at": now,
        }
        try:
            await self._erasures.insert_one(doc)
        except DuplicateKeyError:
            found = await self._erasures.find_one({"_id": user_id}, {"_outbox": 0})
            if found is None or found.get("state") == "done":
                return None
            doc = found
        return ErasureRun(user_id, str(doc.get("requested_by", "")), str(doc["token"]), counts=dict(doc["counts"]))

    async def add(self, user_id: str, what: str, count: int) -> None:
        # A zero is written too: the report then says "none" rather than leaving the item out.
        await self._erasures.update_one({"_id": user_id, "state": "running"}, {"$inc": {f"counts.{what}": count}})

    async def finish(self, user_id: str, now: datetime) -> dict[str, int] | None:
        doc = await self._erasures.find_one({"_id": user_id, "state": "running"}, {"_outbox": 0})
        if doc is None:
            return None
        counts = {str(k): int(v) for k, v in (doc.get("counts") or {}).items()}
        payload = report_payload(user_id, self._service, counts, str(doc.get("requested_by", "")), now)
        record = self._writer.record(
            payload, topic=self._topic, aggregate=Aggregate("erasure", user_id, 1), key=user_id
        )
        update = merge_updates({"$set": {"state": "done", "finished_at": now}}, outbox_push([record]))
        done = await self._erasures.find_one_and_update(
            {"_id": user_id, "state": "running"}, update, return_document=ReturnDocument.AFTER
        )
        return counts if done is not None else None


__all__ = ["ERASURES", "ERASURE_REPORT", "ErasureLedger", "ErasureRun", "MongoErasureLedger", "report_payload"]
