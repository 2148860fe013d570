"""Removing published events from outboxes on the real store: one write for the common case, and
nothing unpublished is ever dropped when events arrive or another relay drains meanwhile."""

from __future__ import annotations

from typing import Any

from parta_common.events.envelope import OutboxRecord
from parta_common.events.outbox import OUTBOX_COUNT, OUTBOX_FIELD, outbox_fields, outbox_push, remove_published


def record(event_id: str) -> OutboxRecord:
    return OutboxRecord(event_id=event_id, topic="t", key="k", envelope=event_id.encode())


async def outbox(collection: Any, doc_id: str) -> tuple[list[str], int | None]:
    doc = await collection.find_one({"_id": doc_id})
    return [e["id"] for e in doc.get(OUTBOX_FIELD, [])], doc.get(OUTBOX_COUNT)


async def test_published_events_leave_and_late_ones_stay(mongo_db):
    docs = mongo_db["things"]
    await docs.insert_many(
        [
            {"_id": "a", **outbox_fields([record("a1")])},
            {"_id": "b", **outbox_fields([record("b1")])},
            {"_id": "c", **outbox_fields([record("c1"), record("c2")])},
            {"_id": "d", **outbox_fields([record("d1")])},
        ]
    )
    read = await docs.find({OUTBOX_COUNT: {"$gt": 0}}, {OUTBOX_FIELD: 1}).to_list()
    # Meanwhile: b gets a new event; d is drained by another relay and then gets a new one, so its
    # count is back to what we read although its content is not.
    await docs.update_one({"_id": "b"}, outbox_push([record("b2")]))
    await docs.update_one({"_id": "d"}, {"$unset": {OUTBOX_FIELD: "", OUTBOX_COUNT: ""}})
    await docs.update_one({"_id": "d"}, outbox_push([record("d2")]))

    await remove_published(docs, read)

    assert await outbox(docs, "a") == ([], None)
    assert await outbox(docs, "c") == ([], None)
    assert await outbox(docs, "b") == (["b2"], 1)
    assert await outbox(docs, "d") == (["d2"], 1)
    # A second relay that published the same batch changes nothing.
    await remove_published(docs, read)
    assert await outbox(docs, "b") == (["b2"], 1)
    assert await outbox(docs, "d") == (["d2"], 1)
