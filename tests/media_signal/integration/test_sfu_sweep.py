"""The sweep against the real Janus and store: Janus rooms of ended or unknown rooms go, a live
room's stays, and another deployment's (another namespace on the same Janus) is never listed."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from media_signal.adapters.janus import JanusSfu
from media_signal.adapters.mongo import MongoRoomRepository
from media_signal.app.sfu_rooms import SfuRoomSweeper, destroy_recorded_sfu_room
from media_signal.domain.rooms import Room, RoomKind, RoomState
from parta_common.events.topics import MEDIA_SIGNAL_ROOM

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import media  # noqa: E402


@pytest.fixture
async def janus(unique: str):
    media.COMPONENTS["janus"].up()
    ours, theirs = JanusSfu(media.janus_url(), namespace=f"t_{unique}"), JanusSfu(media.janus_url(), namespace="else")
    try:
        yield ours, theirs
    finally:
        await ours.close()
        await theirs.close()


def _room(state: RoomState) -> Room:
    return Room(str(uuid.uuid4()), "school", RoomKind.LESSON, "t", "teacher", datetime.now(UTC), "class", state=state)


async def test_sweep_destroys_janus_rooms_of_ended_and_unknown_rooms_only(janus: Any, mongo_db: Any) -> None:
    ours, theirs = janus
    repo = MongoRoomRepository(mongo_db, "t." + MEDIA_SIGNAL_ROOM)
    live, ended = _room(RoomState.LIVE), _room(RoomState.ENDED)
    numbers = {}
    for room in (live, ended):
        numbers[room.room_id] = await ours.create_room(room.room_id, 4)
        room.record_sfu_room(numbers[room.room_id], ours.instance)
        await repo.create(room, [])
    unknown = await ours.create_room(str(uuid.uuid4()), 4)  # made, then its creator died unrecorded
    foreign = await theirs.create_room(str(uuid.uuid4()), 4)  # another deployment's: not ours to judge
    try:
        assert {r.number for r in await ours.list_rooms()} == {*numbers.values(), unknown}
        assert (await repo.get(ended.room_id)).sfu_room == numbers[ended.room_id]  # the record round-trips

        assert await SfuRoomSweeper(sfu=ours, rooms=repo).sweep() == 2
        assert {r.number for r in await ours.list_rooms()} == {numbers[live.room_id]}
        assert foreign in {r.number for r in await theirs.list_rooms()}
        # Destroying what is gone already counts as done ("no such room").
        assert await destroy_recorded_sfu_room(ours, ended)
    finally:
        for number in (*numbers.values(), unknown, foreign):
            await ours.destroy_room(number)
