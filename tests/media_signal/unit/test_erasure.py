"""media-signal's AccountDeleted handler (api/erasure.py, app/erasure.py) on fakes: the directory
marks the person deleted, the erasure anonymises with the ledger's token, a replay does nothing and
the report goes out once. The store side (attendance rewritten in place) is
tests/media_signal/integration/test_erasure.py."""

from __future__ import annotations

from typing import Any

import pytest
from media_signal.api.consumers import Projections
from media_signal.api.erasure import ErasureHandler
from media_signal.app.erasure import Erasure
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity_pb2
from parta_common.testing.fakes import FakeClock, MemoryErasureLedger

pytestmark = pytest.mark.unit


class Directory:
    def __init__(self) -> None:
        self.people: dict[str, tuple[bool, int]] = {}

    async def school_policy(self, *args: Any) -> None: ...
    async def school_class(self, *args: Any) -> None: ...
    async def membership(self, *args: Any) -> None: ...

    async def person(self, user_id: str, *, awaiting_guardian: bool, has_profile: bool, version: int) -> None:
        self.people[user_id] = (has_profile, version)


class Rooms:
    def __init__(self) -> None:
        self.attendance = {"lesson-1": ["misha", "bob"], "lesson-2": ["misha"]}

    async def anonymise(self, user_id: str, token: str) -> tuple[int, int]:
        entries = rooms = 0
        for room, people in self.attendance.items():
            if user_id in people:
                self.attendance[room] = [token if p == user_id else p for p in people]
                entries, rooms = entries + 1, rooms + 1
        return entries, rooms


async def test_account_deleted_anonymises_attendance_once() -> None:
    directory, rooms, ledger = Directory(), Rooms(), MemoryErasureLedger()
    handle = Projections(directory, None, ErasureHandler(Erasure(ledger, rooms, FakeClock())))
    event = identity_pb2.AccountDeleted(user_id="misha", deleted_by_user_id="anna")
    envelope = envelope_pb2.EventEnvelope(event_id="e1", aggregate_version=5, event_type=event.DESCRIPTOR.full_name)
    envelope.payload.Pack(event)

    await handle(envelope)
    await handle(envelope)  # redelivered

    assert directory.people["misha"] == (False, 5)
    token = ledger.runs["misha"].token
    assert rooms.attendance == {"lesson-1": [token, "bob"], "lesson-2": [token]}
    assert ledger.reports == [("misha", {"attendance_anonymised": 2, "rooms": 2}, "anna")]
