"""EndRoom across signalling replicas, with fakes: two hubs share one store (copied and
version-checked like the real one); EndRoom on the replica that does not own the room reaches the
owner's streams (forwarded), or — owner unreachable — is written to the store and the owner closes
its streams at its next lease renewal."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime

import pytest
from media_signal.adapters.tokens import HmacJoinTokenCodec
from media_signal.app import signals as s
from media_signal.app.hub import SignalHub
from media_signal.app.ports import OwnerUnreachable
from media_signal.app.rooms import RoomUseCases
from media_signal.domain import events
from media_signal.domain.rooms import Room, RoomKind, RoomState
from parta_common.errors import ConcurrentChange, PermissionDenied
from parta_common.testing.fakes import FakeClock

from tests.media_signal.fakes import MEMBERS, SDP, FakeDirectory, FakeRooms, FakeSfu, NoIce, new_room_cmd


class StoreRooms(FakeRooms):
    """Hands out copies and checks versions, as MongoDB does: replicas never share a Room object."""

    async def create(self, room: Room, evts: list[object]) -> Room:
        return copy.deepcopy(await super().create(copy.deepcopy(room), evts))

    async def get(self, room_id: str) -> Room | None:
        return copy.deepcopy(self.rooms.get(room_id))

    async def save(self, room: Room, evts: list[object], *, expected_version: int) -> None:
        if self.rooms[room.room_id].version != expected_version:
            raise ConcurrentChange("the room changed concurrently; retry")
        await super().save(copy.deepcopy(room), evts, expected_version=expected_version)


class RecordingSfu(FakeSfu):
    def __init__(self) -> None:
        super().__init__()
        self.destroyed: list[int] = []

    async def destroy_room(self, sfu_room: int) -> None:
        self.destroyed.append(sfu_room)


class LoopbackOwners:
    """Forwards EndRoom to the replica at the address, as the caller, marked as forwarded."""

    def __init__(self) -> None:
        self.replicas: dict[str, RoomUseCases] = {}
        self.calls: list[tuple[str, str]] = []
        self.down = False

    async def end_room(self, address: str, room_id: str, credentials: str) -> None:
        self.calls.append((address, room_id))
        if self.down:
            raise OwnerUnreachable("connection refused")
        user_id = credentials.removeprefix("Bearer ")
        await self.replicas[address].end_room(room_id, user_id, credentials=credentials, forwarded=True)


@pytest.fixture
def cluster():
    clock = FakeClock(datetime(2026, 9, 1, 9, 0, tzinfo=UTC))
    rooms = StoreRooms()
    codec = HmacJoinTokenCodec(b"k" * 32)
    ids = (f"id-{n}" for n in itertools.count())
    owners = LoopbackOwners()
    replicas = {}
    for name in ("a", "b"):
        sfu = RecordingSfu()
        hub = SignalHub(
            rooms=rooms, tokens=codec, sfu=sfu, clock=clock, new_id=lambda: next(ids), replica=name, address=name
        )
        uc = RoomUseCases(
            rooms=rooms,
            directory=FakeDirectory(MEMBERS),
            tokens=codec,
            ice=NoIce(),
            clock=clock,
            room_ids=lambda scope, actor, req: f"room-{actor}-{req}",
            live=hub,
            signal_address=name,
            owners=owners,
            replica=name,
        )
        owners.replicas[name] = uc
        replicas[name] = (hub, uc, sfu)
    return rooms, owners, replicas


async def _lesson_on_a(replicas):
    hub, uc, _ = replicas["a"]
    room = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    host = await hub.join("teacher", (await uc.create_join_token(room.room_id, "teacher")).token)
    misha = await hub.join("misha", (await uc.create_join_token(room.room_id, "misha")).token)
    await hub.handle(host, s.Sdp("offer", SDP))  # publishing opens the SFU room
    return room, host, misha


def _messages(session) -> list:
    out = []
    while not session.queue.empty():
        out.append(session.queue.get_nowait())
    return out


async def test_end_room_on_another_replica_reaches_the_owners_streams(cluster) -> None:
    rooms, owners, replicas = cluster
    room, host, misha = await _lesson_on_a(replicas)
    hub_a, _, sfu_a = replicas["a"]
    _, uc_b, _ = replicas["b"]

    # Only the host may end it, and the refusal comes before anything is forwarded.
    with pytest.raises(PermissionDenied):
        await uc_b.end_room(room.room_id, "misha", credentials="Bearer misha")
    assert owners.calls == []

    ended = await uc_b.end_room(room.room_id, "teacher", credentials="Bearer teacher")
    assert ended.state is RoomState.ENDED and owners.calls == [("a", room.room_id)]
    for session in (host, misha):
        tail = _messages(session)[-2:]
        assert isinstance(tail[0], s.RoomEndedMsg) and tail[0].reason == "ended_by_host"
        assert isinstance(tail[1], s.Close) and tail[1].error is None
    assert hub_a.live_rooms() == 0 and sfu_a.destroyed == [1]
    assert room.room_id not in rooms.owner_of  # the lease is released with the room
    # The owner wrote the end: attendance of both, their leaves, one RoomEnded.
    final = [e for e in rooms.events if isinstance(e, events.RoomEnded)]
    assert len(final) == 1 and set(final[0].attendance) == {"teacher", "misha"}
    assert [e.reason for e in rooms.events if isinstance(e, events.ParticipantLeft)] == ["room_ended"] * 2

    # Ending an ended room is a no-op on either replica, and nothing is forwarded again.
    for name in ("a", "b"):
        again = await replicas[name][1].end_room(room.room_id, "teacher", credentials="Bearer teacher")
        assert again.state is RoomState.ENDED
    assert len(owners.calls) == 1


async def test_unreachable_owner_ends_in_the_store_and_the_owner_closes_at_renewal(cluster) -> None:
    rooms, owners, replicas = cluster
    room, host, misha = await _lesson_on_a(replicas)
    hub_a, _, sfu_a = replicas["a"]
    owners.down = True

    ended = await replicas["b"][1].end_room(room.room_id, "teacher", credentials="Bearer teacher")
    assert ended.state is RoomState.ENDED and (await rooms.get(room.room_id)).state is RoomState.ENDED
    assert not misha.gone  # not told yet: the owner was not reached

    await hub_a._renew_leases()
    for session in (host, misha):
        tail = _messages(session)[-2:]
        assert isinstance(tail[0], s.RoomEndedMsg) and isinstance(tail[1], s.Close)
        assert session.gone
    assert hub_a.live_rooms() == 0 and sfu_a.destroyed == [1]
    assert len([e for e in rooms.events if isinstance(e, events.RoomEnded)]) == 1


async def test_owner_ending_a_room_already_ended_elsewhere_closes_without_a_conflict(cluster) -> None:
    rooms, owners, replicas = cluster
    room, host, misha = await _lesson_on_a(replicas)
    hub_a, _, sfu_a = replicas["a"]
    owners.down = True
    await replicas["b"][1].end_room(room.room_id, "teacher", credentials="Bearer teacher")

    # The host ends it in-stream on the owner before the renewal: the store's version moved, but
    # the room is ended, which is what was asked; the streams close and the room unloads.
    await hub_a.handle(host, s.HostAction("end_room", ""))
    assert isinstance(_messages(misha)[-1], s.Close) and hub_a.live_rooms() == 0 and sfu_a.destroyed == [1]
    assert len([e for e in rooms.events if isinstance(e, events.RoomEnded)]) == 1
