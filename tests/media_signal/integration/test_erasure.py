"""media-signal's erasure against the real store: an erased person's attendance keeps its times
under an anonymous token (the same in every room), invitations lose the id, the ledger publishes one
report through the outbox, and a replay changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from media_signal.adapters.mongo import MongoRoomRepository
from media_signal.adapters.mongo_erasure import MongoRoomErasure
from media_signal.app.erasure import Erasure
from media_signal.domain.rooms import AttendanceEntry, Room, RoomKind, RoomState
from parta.common.v1 import envelope_pb2, erasure_pb2
from parta_common.clock import SystemClock
from parta_common.erasure import ERASURES, MongoErasureLedger
from parta_common.events.topics import ERASURE_REPORT, MEDIA_SIGNAL_ROOM
from parta_common.events.writer import OutboxWriter

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _lesson(*attendees: str, invited: tuple[str, ...] = ()) -> Room:
    room = Room(str(uuid.uuid4()), "school", RoomKind.LESSON, "Алгебра", "teacher", T0, "class", state=RoomState.ENDED)
    room.attendance = {u: AttendanceEntry(T0, T0 + timedelta(minutes=40), 2400.0) for u in attendees}
    room.invited_user_ids = invited
    return room


async def test_attendance_is_anonymised_once_and_reported(mongo_db: Any) -> None:
    repo = MongoRoomRepository(mongo_db, "t." + MEDIA_SIGNAL_ROOM)
    a, b = _lesson("misha", "bob"), _lesson("misha", invited=("misha",))
    other = _lesson("bob")
    for room in (a, b, other):
        await repo.create(room, [])
    ledger = MongoErasureLedger(mongo_db, "media-signal", "t." + ERASURE_REPORT, OutboxWriter("media-signal"))
    erasure = Erasure(ledger, MongoRoomErasure(mongo_db), SystemClock())

    counts = await erasure.erase("misha", "anna")
    assert counts == {"attendance_anonymised": 2, "rooms": 2}
    assert await erasure.erase("misha", "anna") is None  # a replay

    first, second, third = [await repo.get(r.room_id) for r in (a, b, other)]
    assert first is not None and second is not None and third is not None
    assert "misha" not in first.attendance and "misha" not in second.attendance and not second.invited_user_ids
    tokens = {u for u in [*first.attendance, *second.attendance] if u != "bob"}
    assert len(tokens) == 1 and next(iter(tokens)).startswith("erased-")  # one token in every room
    token = next(iter(tokens))
    assert first.attendance[token].total_seconds == 2400.0 and first.attendance["bob"].total_seconds == 2400.0
    assert set(third.attendance) == {"bob"}

    doc = await mongo_db[ERASURES].find_one({"_id": "misha"})
    assert doc["state"] == "done" and len(doc["_outbox"]) == 1  # one report, waiting for the relay
    record = doc["_outbox"][0]
    assert record["topic"] == "t." + ERASURE_REPORT and record["key"] == "misha"
    envelope = envelope_pb2.EventEnvelope.FromString(record["envelope"])
    report = erasure_pb2.ErasureReported()
    assert envelope.payload.Unpack(report)
    assert (report.service, report.requested_by_user_id) == ("media-signal", "anna")
    assert {c.what: c.count for c in report.removed} == counts
