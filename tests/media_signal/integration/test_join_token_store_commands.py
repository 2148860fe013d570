"""Regression guard, not a timed test: the store commands a call's join token costs, on the real
store, counted with the kit's StoreCommandCounter (PyMongo command monitoring). Every invitee is
checked against the caller (the rule book's pairs), and their seats are read in one batch, so the
count does not grow with the call: a call of 3 costs what a group call of 15 costs.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from media_signal.adapters.mongo import MongoDirectoryProjection, MongoMembershipDirectory, MongoRoomRepository
from media_signal.adapters.tokens import HmacJoinTokenCodec
from media_signal.app.rooms import RoomUseCases
from media_signal.domain.rooms import Membership, RoomKind
from parta_common.events.topics import MEDIA_SIGNAL_ROOM
from parta_common.mongo import StoreCommandCounter, create_mongo_client
from parta_common.testing.fakes import FakeClock

from tests.media_signal.fakes import SCHOOL, NoIce, new_room_cmd

# Per join token, whatever the number of invitees (measured 2026-12-07): the room, the caller's
# seats and consent state, everyone else's seats and consent state (one find each for all of
# them), the room's owner. Before the batch it was 6 + 2 per other person (36 for a call of 16).
JOIN_TOKEN_MAX_COMMANDS = 6
HOST = "host"


@pytest.fixture
async def counted(mongo_uri: str, unique: str) -> AsyncIterator[tuple[Any, StoreCommandCounter]]:
    counter = StoreCommandCounter()
    client = create_mongo_client(mongo_uri, app_name="tests", command_listener=counter)
    name = f"t_{unique}"
    try:
        yield client[name], counter
    finally:
        await client.drop_database(name)
        await client.close()


async def test_a_join_token_reads_every_invitee_in_one_batch(counted: tuple[Any, StoreCommandCounter]) -> None:
    db, counter = counted
    staff = [HOST, *(f"t{i}" for i in range(15))]
    projection = MongoDirectoryProjection(db)
    for user in staff:
        await projection.membership(f"m-{user}", Membership(user, SCHOOL, "teacher", verified=True), True, 1)
        await projection.person(user, awaiting_guardian=False, has_profile=True, version=1)
    ids = itertools.count()
    uc = RoomUseCases(
        rooms=MongoRoomRepository(db, MEDIA_SIGNAL_ROOM),
        directory=MongoMembershipDirectory(db),
        tokens=HmacJoinTokenCodec(b"k" * 32),
        ice=NoIce(),
        clock=FakeClock(datetime.now(UTC)),
        room_ids=lambda scope, actor, request: f"room-{next(ids)}",
    )

    costs: dict[int, int] = {}
    for invited in (staff[1:3], staff[1:]):  # a call of 3 (peer to peer) and of 16 (through the SFU)
        cmd = new_room_cmd(RoomKind.CALL, invited_user_ids=tuple(invited), request_id=f"r{len(invited)}")
        room = await uc.create_room(cmd, HOST)
        counter.reset()
        grant = await uc.create_join_token(room.room_id, invited[-1])
        assert grant.token and not grant.grants.is_host
        costs[len(invited) + 1] = counter.total()
    assert costs == {3: JOIN_TOKEN_MAX_COMMANDS, 16: JOIN_TOKEN_MAX_COMMANDS}, counter.counts
