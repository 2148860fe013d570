"""The `world` fixture: a hub and the room use cases on fakes, sharing one clock and room store."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from media_signal.adapters.tokens import HmacJoinTokenCodec
from media_signal.app.hub import SignalHub
from media_signal.app.rooms import RoomUseCases
from parta_common.testing.fakes import FakeClock

from tests.media_signal.fakes import MEMBERS, FakeDirectory, FakeRooms, FakeSfu, NoIce


@pytest.fixture
def world():
    clock = FakeClock(datetime(2026, 9, 1, 9, 0, tzinfo=UTC))
    rooms = FakeRooms()
    codec = HmacJoinTokenCodec(b"k" * 32)
    ids = (f"id-{n}" for n in itertools.count())
    sfu = FakeSfu()
    hub = SignalHub(
        rooms=rooms,
        tokens=codec,
        sfu=sfu,
        clock=clock,
        new_id=lambda: next(ids),
        replica="r1",
        address="a:1",
        keepalive_timeout=5,
    )
    use_cases = RoomUseCases(
        rooms=rooms,
        directory=FakeDirectory(MEMBERS),
        tokens=codec,
        ice=NoIce(),
        clock=clock,
        room_ids=lambda scope, actor, req: f"room-{actor}-{req}",
        live=hub,
    )
    return clock, rooms, use_cases, hub, sfu
