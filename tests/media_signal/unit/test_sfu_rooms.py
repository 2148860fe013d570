"""No SFU room outlives its room, with fakes: two hubs share one store (version-checked, with
leases that expire) and one SFU. The owner "dies" by being abandoned with its SFU room open; the
EndRoom store fallback, a takeover after the lease, and the sweep each destroy that SFU room."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime

import pytest
from media_signal.adapters.tokens import HmacJoinTokenCodec
from media_signal.app import signals as s
from media_signal.app.hub import SignalHub
from media_signal.app.ports import Owner, OwnerUnreachable, SfuRoomInfo
from media_signal.app.rooms import RoomUseCases
from media_signal.app.sfu_rooms import SfuRoomSweeper, destroy_recorded_sfu_room
from media_signal.domain import events
from media_signal.domain.rooms import Room, RoomKind, RoomState
from parta_common.errors import Aborted, FailedPrecondition
from parta_common.testing.fakes import FakeClock

from tests.media_signal.fakes import MEMBERS, SDP, FakeDirectory, FakeSfu, NoIce, new_room_cmd
from tests.media_signal.unit.test_end_room_replicas import StoreRooms

LEASE = 30.0


class LeasedRooms(StoreRooms):
    """Leases as in the store: a claim succeeds for the holder, on a free room, or after expiry."""

    def __init__(self) -> None:
        super().__init__()
        self.leases: dict[str, tuple[Owner, datetime]] = {}

    async def claim(self, room_id: str, replica: str, address: str, lease_until: datetime, now: datetime) -> Owner:
        held = self.leases.get(room_id)
        if held is None or held[0].replica == replica or held[1] < now:
            self.leases[room_id] = (Owner(replica, address), lease_until)
        return self.leases[room_id][0]

    async def owner(self, room_id: str, now: datetime) -> Owner | None:
        held = self.leases.get(room_id)
        return held[0] if held is not None and held[1] >= now else None

    async def release(self, room_id: str, replica: str) -> None:
        if room_id in self.leases and self.leases[room_id][0].replica == replica:
            del self.leases[room_id]


class Janus(FakeSfu):
    """One SFU shared by both replicas: rooms exist until destroyed; destroying twice is fine."""

    def __init__(self, instance: str = "janus-test") -> None:
        super().__init__()
        self.instance = instance
        self.rooms: dict[int, str] = {}
        self.numbers = itertools.count(101)
        self.destroy_calls: list[int] = []

    async def create_room(self, room_id: str, max_publishers: int) -> int:
        number = next(self.numbers)
        self.rooms[number] = room_id
        return number

    async def destroy_room(self, sfu_room: int) -> None:
        self.destroy_calls.append(sfu_room)
        self.rooms.pop(sfu_room, None)

    async def list_rooms(self) -> list[SfuRoomInfo]:
        return [SfuRoomInfo(number, room_id) for number, room_id in self.rooms.items()]


class DeadOwners:
    """The owner's address answers nothing: it was killed."""

    async def end_room(self, address: str, room_id: str, credentials: str) -> None:
        raise OwnerUnreachable("connection refused")


@pytest.fixture
def cluster():
    clock = FakeClock(datetime(2026, 9, 1, 9, 0, tzinfo=UTC))
    rooms = LeasedRooms()
    janus = Janus()
    codec = HmacJoinTokenCodec(b"k" * 32)
    ids = (f"id-{n}" for n in itertools.count())
    replicas = {}
    for name in ("a", "b"):
        hub = SignalHub(
            rooms=rooms,
            tokens=codec,
            sfu=janus,
            clock=clock,
            new_id=lambda: next(ids),
            replica=name,
            address=name,
            lease_seconds=LEASE,
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
            owners=DeadOwners(),
            replica=name,
            sfu=janus,
        )
        replicas[name] = (hub, uc)
    return clock, rooms, janus, replicas


async def _lesson_publishing_on_a(replicas) -> Room:
    hub, uc = replicas["a"]
    room = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    host = await hub.join("teacher", (await uc.create_join_token(room.room_id, "teacher")).token)
    await hub.join("misha", (await uc.create_join_token(room.room_id, "misha")).token)
    await hub.handle(host, s.Sdp("offer", SDP))  # publishing opens the SFU room
    return room


def test_an_sfu_room_is_orphaned_once_the_room_ended_or_its_holder_is_gone() -> None:
    room = Room("r", "s", RoomKind.LESSON, "t", "teacher", datetime(2026, 9, 1, tzinfo=UTC), state=RoomState.LIVE)
    assert not room.sfu_room_orphaned(holder_alive=False)  # nothing recorded, nothing to destroy
    room.record_sfu_room(7, "janus-1")
    assert (room.sfu_room, room.sfu_instance, room.version) == (7, "janus-1", 2)
    assert not room.sfu_room_orphaned(holder_alive=True)  # its holder destroys it at the end
    assert room.sfu_room_orphaned(holder_alive=False)
    room.end(datetime(2026, 9, 1, 1, tzinfo=UTC))
    assert room.sfu_room_orphaned(holder_alive=True)
    room.forget_sfu_room()
    assert (room.sfu_room, room.sfu_instance) == (0, "") and not room.sfu_room_orphaned(holder_alive=False)


async def test_the_owner_records_its_sfu_room_in_the_room_document(cluster) -> None:
    _, rooms, janus, replicas = cluster
    room = await _lesson_publishing_on_a(replicas)
    stored = await rooms.get(room.room_id)
    assert stored.sfu_room in janus.rooms and stored.sfu_instance == "janus-test"
    # The owner's own end still destroys it, and the document keeps the number (harmless: gone).
    await replicas["a"][0].end_room(room.room_id, "ended_by_host")
    assert janus.rooms == {}


async def test_end_room_after_the_owner_died_destroys_its_sfu_room(cluster) -> None:
    _, rooms, janus, replicas = cluster
    room = await _lesson_publishing_on_a(replicas)
    [number] = janus.rooms  # the dead owner's memory held it; the store has it too

    # Replica A is gone (never called again); its lease is still live, the forward fails.
    ended = await replicas["b"][1].end_room(room.room_id, "teacher", credentials="Bearer teacher")
    assert ended.state is RoomState.ENDED
    assert number not in janus.rooms and janus.destroy_calls == [number]
    assert len([e for e in rooms.events if isinstance(e, events.RoomEnded)]) == 1
    # Ending again is a no-op and destroys nothing more.
    await replicas["b"][1].end_room(room.room_id, "teacher", credentials="Bearer teacher")
    assert janus.destroy_calls == [number]


async def test_a_replica_taking_over_an_expired_lease_destroys_the_dead_owners_sfu_room(cluster) -> None:
    clock, rooms, janus, replicas = cluster
    room = await _lesson_publishing_on_a(replicas)
    [old] = janus.rooms
    hub_b, uc_b = replicas["b"]

    with pytest.raises(FailedPrecondition):  # A's lease is live: pinned there, nothing destroyed
        await hub_b.join("petya", (await uc_b.create_join_token(room.room_id, "petya")).token)
    assert old in janus.rooms

    clock.advance(LEASE + 1)  # A died: no renewals
    host = await hub_b.join("teacher", (await uc_b.create_join_token(room.room_id, "teacher")).token)
    assert old not in janus.rooms and (await rooms.get(room.room_id)).sfu_room == 0
    await hub_b.handle(host, s.Sdp("offer", SDP))  # B opens (and records) its own
    [new] = janus.rooms
    assert new != old and (await rooms.get(room.room_id)).sfu_room == new


async def test_an_sfu_room_opened_as_the_room_ends_elsewhere_is_not_kept(cluster) -> None:
    _, rooms, janus, replicas = cluster
    hub, uc = replicas["a"]
    room = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    host = await hub.join("teacher", (await uc.create_join_token(room.room_id, "teacher")).token)
    # Ended in the store by another replica (owner unreachable) before the first publish.
    await replicas["b"][1].end_room(room.room_id, "teacher", credentials="Bearer teacher")
    with pytest.raises(Aborted):  # the version moved: the record cannot be written
        await hub.handle(host, s.Sdp("offer", SDP))
    await _settle()
    assert janus.rooms == {} and (await rooms.get(room.room_id)).sfu_room == 0


async def test_an_sfu_room_on_another_instance_is_left_to_that_instances_replicas() -> None:
    janus = Janus("janus-2")
    janus.rooms[5] = "r"
    room = Room("r", "s", RoomKind.LESSON, "t", "teacher", datetime(2026, 9, 1, tzinfo=UTC), state=RoomState.ENDED)
    room.record_sfu_room(5, "janus-1")
    assert await destroy_recorded_sfu_room(janus, room) is False and janus.destroy_calls == []


async def test_the_sweep_destroys_sfu_rooms_of_ended_or_unknown_rooms_only_and_is_bounded(cluster) -> None:
    _, rooms, janus, replicas = cluster
    live = await _lesson_publishing_on_a(replicas)
    [live_number] = janus.rooms
    ended = Room("gone", "s", RoomKind.LESSON, "t", "teacher", datetime(2026, 9, 1, tzinfo=UTC), state=RoomState.ENDED)
    rooms.rooms["gone"] = copy.deepcopy(ended)
    janus.rooms.update({201: "gone", 202: "never-existed", 203: "unknown-too"})

    sweeper = SfuRoomSweeper(sfu=janus, rooms=rooms, batch=2)
    first = await sweeper.sweep()  # the two lowest numbers: the live room's (kept) and 201
    assert first == 1 and live_number in janus.rooms and 201 not in janus.rooms
    assert await sweeper.sweep() == 2  # then on from there: 202, 203
    assert set(janus.rooms) == {live_number}
    assert await sweeper.sweep() == 0 and live.room_id == janus.rooms[live_number]


async def _settle() -> None:
    import asyncio

    for _ in range(3):
        await asyncio.sleep(0)
