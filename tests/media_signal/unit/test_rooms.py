"""Room rules, grants, host rules and the signalling hub, with in-memory fakes (no infrastructure)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from media_signal.adapters.tokens import HmacJoinTokenCodec
from media_signal.app import signals as s
from media_signal.app.hub import SignalHub
from media_signal.app.ports import JoinClaims, Owner, Published, Subscribed
from media_signal.app.rooms import RoomUseCases
from media_signal.domain import events
from media_signal.domain.rooms import (
    HOST_GRANTS,
    SPEAKER_GRANTS,
    VIEWER_GRANTS,
    Access,
    AttendanceEntry,
    Membership,
    NewRoom,
    Room,
    RoomKind,
    RoomState,
    grants_for,
)
from parta_common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from parta_common.testing.fakes import FakeClock

SCHOOL, CLASS = "school-1", "class-5a"


class FakeRooms:
    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self.events: list[object] = []
        self.owner_of: dict[str, Owner] = {}

    async def create(self, room: Room, evts: list[object]) -> Room:
        if room.room_id in self.rooms:
            return self.rooms[room.room_id]
        self.rooms[room.room_id] = room
        self.events += evts
        return room

    async def get(self, room_id: str) -> Room | None:
        return self.rooms.get(room_id)

    async def save(self, room: Room, evts: list[object], *, expected_version: int) -> None:
        self.rooms[room.room_id] = room
        self.events += evts

    async def claim(self, room_id: str, replica: str, address: str, lease_until: datetime, now: datetime) -> Owner:
        return self.owner_of.setdefault(room_id, Owner(replica, address))

    async def owner(self, room_id: str, now: datetime) -> Owner | None:
        return self.owner_of.get(room_id)

    async def release(self, room_id: str, replica: str) -> None:
        if self.owner_of.get(room_id, Owner("", "")).replica == replica:
            del self.owner_of[room_id]


class FakeDirectory:
    def __init__(self, memberships: list[Membership]):
        self.memberships = memberships

    async def access(self, school_id: str, user_id: str) -> Access:
        return Access(
            user_id,
            school_id,
            tuple(m for m in self.memberships if m.school_id == school_id and m.user_id == user_id),
            has_profile=True,
        )

    async def class_exists(self, school_id: str, class_id: str) -> bool:
        return any(m.class_id == class_id and m.school_id == school_id for m in self.memberships)


class FakeSfu:
    instance = "janus-test"

    def __init__(self) -> None:
        self.feeds = itertools.count(1)
        self.detached: list[str] = []
        self.moderated: list[tuple[int, list[str], bool]] = []

    async def create_room(self, room_id: str, max_publishers: int) -> int:
        return 1

    async def destroy_room(self, sfu_room: int) -> None:
        return None

    async def list_rooms(self) -> list:
        return []

    async def publish(self, sfu_room: int, display: str, offer_sdp: str) -> Published:
        feed = next(self.feeds)
        return Published(f"pub-{feed}", feed, "v=0\r\nm=video answer\r\n", {"audio": ("0",), "video": ("1",)})

    async def subscribe(self, sfu_room: int, feed_id: int) -> Subscribed:
        return Subscribed(f"sub-{feed_id}", "v=0\r\nm=video offer\r\n")

    async def start(self, handle: str, answer_sdp: str) -> None:
        return None

    async def trickle(self, handle: str, candidate: str, sdp_mid: str, sdp_mline_index: int) -> None:
        return None

    async def detach(self, handle: str) -> None:
        self.detached.append(handle)

    async def moderate(self, sfu_room: int, feed_id: int, mids, mute: bool) -> None:
        self.moderated.append((feed_id, list(mids), mute))


class NoIce:
    def ice_servers(self, user_id: str, now: datetime) -> list:
        return []


MEMBERS = [
    Membership("teacher", SCHOOL, "teacher", CLASS, "subject_teacher", verified=True),
    Membership("misha", SCHOOL, "student", CLASS, "student"),
    Membership("petya", SCHOOL, "student", CLASS, "student"),
    Membership("anna", SCHOOL, "parent", CLASS, "parent", child_user_id="misha"),
    Membership("oleg", SCHOOL, "parent", CLASS, "parent", child_user_id="petya"),
    Membership("irina", SCHOOL, "admin"),
    Membership("stranger", "school-2", "teacher"),
]
SDP = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"


def new_room_cmd(kind: RoomKind, **kw: object) -> NewRoom:
    base = dict(
        request_id="req-1",
        school_id=SCHOOL,
        class_id=CLASS if kind is not RoomKind.CALL else "",
        kind=kind,
        title="Урок",
        scheduled_for=None,
        max_participants=0,
        waiting_room=False,
        invited_user_ids=(),
        presenter_user_ids=(),
        start_now=True,
    )
    base.update(kw)
    return NewRoom(**base)  # type: ignore[arg-type]


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


def drain(session) -> list:
    out = []
    while not session.queue.empty():
        out.append(session.queue.get_nowait())
    return out


# ------------------------------------------------------------------ domain


def test_grants_follow_memberships_per_kind() -> None:
    lesson = Room("r", SCHOOL, RoomKind.LESSON, "t", "teacher", datetime.now(UTC), class_id=CLASS)

    def access(uid: str) -> Access:
        return Access(
            uid, SCHOOL, tuple(m for m in MEMBERS if m.user_id == uid and m.school_id == SCHOOL), has_profile=True
        )

    assert grants_for(lesson, access("teacher")) == HOST_GRANTS
    assert grants_for(lesson, access("misha")) == SPEAKER_GRANTS
    assert grants_for(lesson, access("irina")) == VIEWER_GRANTS
    with pytest.raises(PermissionDenied):
        grants_for(lesson, access("anna"))  # parents do not attend lessons
    with pytest.raises(NotFound):
        grants_for(lesson, access("stranger"))  # another school: the room does not exist
    broadcast = Room("b", SCHOOL, RoomKind.BROADCAST, "t", "teacher", datetime.now(UTC), class_id=CLASS)
    assert grants_for(broadcast, access("anna")) == VIEWER_GRANTS
    call = Room("c", SCHOOL, RoomKind.CALL, "t", "teacher", datetime.now(UTC), invited_user_ids=("misha",))
    assert grants_for(call, access("misha")) == SPEAKER_GRANTS
    with pytest.raises(PermissionDenied):
        grants_for(call, access("petya"))


def test_attendance_sums_time_across_rejoins_and_parallel_streams() -> None:
    t0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    e = AttendanceEntry(first_joined_at=t0).joined(t0)
    e = e.joined(t0 + timedelta(seconds=10))  # a second device
    e = e.left(t0 + timedelta(seconds=20))
    e = e.left(t0 + timedelta(seconds=60))
    e = e.joined(t0 + timedelta(seconds=100)).left(t0 + timedelta(seconds=130))
    assert e.total_seconds == 90 and e.open_streams == 0 and e.last_left_at == t0 + timedelta(seconds=130)


async def test_create_room_validates_and_is_idempotent(world) -> None:
    _, rooms, uc, _, _ = world
    with pytest.raises(InvalidArgument) as info:
        await uc.create_room(
            new_room_cmd(RoomKind.LESSON, title="\x07", class_id="", max_participants=10_000), "teacher"
        )
    assert {v.field for v in info.value.violations} >= {"title", "class_id", "max_participants"}
    with pytest.raises(InvalidArgument):
        await uc.create_room(
            new_room_cmd(RoomKind.LESSON, scheduled_for=datetime(2030, 1, 1, tzinfo=UTC), start_now=False), "teacher"
        )
    first = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    again = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    assert first is again and first.state is RoomState.LIVE
    assert [type(e) for e in rooms.events] == [events.RoomScheduled, events.RoomStarted]
    with pytest.raises(PermissionDenied):
        await uc.create_room(new_room_cmd(RoomKind.LESSON, request_id="x"), "misha")  # students hold no lessons
    with pytest.raises(InvalidArgument):
        await uc.create_room(new_room_cmd(RoomKind.CALL, invited_user_ids=("stranger",)), "teacher")


async def test_join_tokens_expire_and_reject_forgeries(world) -> None:
    clock, _, uc, hub, _ = world
    room = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    grant = await uc.create_join_token(room.room_id, "misha")
    assert grant.grants == SPEAKER_GRANTS
    with pytest.raises(PermissionDenied):
        await hub.join("petya", grant.token)  # someone else's grant
    other = HmacJoinTokenCodec(b"x" * 32).issue(
        JoinClaims("misha", room.room_id, SCHOOL, HOST_GRANTS, clock.now() + timedelta(minutes=1)), clock.now()
    )
    with pytest.raises(Unauthenticated) as info:
        await hub.join("misha", other)
    assert info.value.reason == "JOIN_TOKEN_INVALID"
    clock.advance(121)
    with pytest.raises(Unauthenticated) as info:
        await hub.join("misha", grant.token)
    assert info.value.reason == "JOIN_TOKEN_EXPIRED"


async def test_waiting_room_admit_and_host_rules(world) -> None:
    _, rooms, uc, hub, _ = world
    room = await uc.create_room(new_room_cmd(RoomKind.LESSON, waiting_room=True, max_participants=3), "teacher")
    host = await hub.join("teacher", (await uc.create_join_token(room.room_id, "teacher")).token)
    assert isinstance(drain(host)[0], s.Joined)
    misha = await hub.join("misha", (await uc.create_join_token(room.room_id, "misha")).token)
    assert isinstance(drain(misha)[0], s.Waiting)
    seen = drain(host)
    assert isinstance(seen[0], s.ParticipantJoinedMsg) and seen[0].participant.waiting
    with pytest.raises(FailedPrecondition):
        await hub.handle(misha, s.Sdp("offer", SDP))  # nothing but pings until admitted
    with pytest.raises(FailedPrecondition):
        await hub.handle(misha, s.HostAction("admit", misha.participant_id))
    await hub.handle(host, s.HostAction("admit", misha.participant_id))
    assert any(isinstance(m, s.Joined) for m in drain(misha))
    petya = await hub.join("petya", (await uc.create_join_token(room.room_id, "petya")).token)
    await hub.handle(host, s.HostAction("admit", petya.participant_id))
    # max_participants counts active participants; the host always gets in.
    drain(host)
    await hub.handle(host, s.HostAction("mute", misha.participant_id, "audio"))
    notices = drain(misha)
    assert any(isinstance(m, s.HostNotice) and m.action == "mute" for m in notices)
    await hub.handle(host, s.HostAction("remove", misha.participant_id))
    closing = drain(misha)[-1]
    assert isinstance(closing, s.Close) and closing.error is not None and closing.error.reason == "REMOVED_BY_HOST"
    with pytest.raises(PermissionDenied):
        await hub.join("misha", (await uc.create_join_token(room.room_id, "misha")).token)
    assert [e.reason for e in rooms.events if isinstance(e, events.ParticipantLeft)] == ["removed"]


async def test_room_full_and_viewer_cannot_publish(world) -> None:
    _, _, uc, hub, sfu = world
    room = await uc.create_room(new_room_cmd(RoomKind.BROADCAST, max_participants=2), "teacher")
    host = await hub.join("teacher", (await uc.create_join_token(room.room_id, "teacher")).token)
    anna = await hub.join("anna", (await uc.create_join_token(room.room_id, "anna")).token)
    with pytest.raises(ResourceExhausted):
        await hub.join("oleg", (await uc.create_join_token(room.room_id, "oleg")).token)
    with pytest.raises(PermissionDenied) as info:
        await hub.handle(anna, s.Sdp("offer", SDP))
    assert info.value.reason == "PUBLISH_NOT_ALLOWED"
    await hub.handle(host, s.HostAction("promote", anna.participant_id))
    await hub.handle(anna, s.Sdp("offer", SDP))
    assert anna.publisher_handle
    await asyncio.sleep(0.01)  # the host's subscription is set up in the background
    assert any(isinstance(m, s.SdpOut) and m.subscription_id for m in drain(host))
    await hub.handle(host, s.HostAction("demote", anna.participant_id))
    await asyncio.sleep(0.01)
    assert not anna.publisher_handle and sfu.detached


async def test_keepalive_timeout_removes_and_end_records_attendance(world) -> None:
    clock, rooms, uc, hub, _ = world
    room = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    host = await hub.join("teacher", (await uc.create_join_token(room.room_id, "teacher")).token)
    misha = await hub.join("misha", (await uc.create_join_token(room.room_id, "misha")).token)
    hub.detach(misha)
    clock.advance(3)
    await hub.handle(host, s.Ping(1))
    clock.advance(3)
    await hub._reap()
    assert misha.gone and not host.gone
    ended = await uc.end_room(room.room_id, "teacher")
    assert ended.state is RoomState.ENDED
    final = next(e for e in rooms.events if isinstance(e, events.RoomEnded))
    assert final.attendance["misha"].total_seconds == 6 and final.attendance["teacher"].total_seconds == 6
    reasons = [e.reason for e in rooms.events if isinstance(e, events.ParticipantLeft)]
    assert reasons == ["timeout", "room_ended"]
    assert isinstance(drain(host)[-1], s.Close)


def test_malformed_signals_are_invalid_argument() -> None:
    for bad in (s.Sdp("offer", "hello"), s.Sdp("offer", "v=0\r\n"), s.Sdp("offer", "v=0\r\nm=x\x00")):
        with pytest.raises(InvalidArgument):
            s.validate_sdp(bad)
    for bad_c in (
        s.Candidate("candidate:" + "1 " * 600),
        s.Candidate("junk"),
        s.Candidate("candidate:1 1 udp", sdp_mline_index=99),
    ):
        with pytest.raises(InvalidArgument):
            s.validate_candidate(bad_c)
    s.validate_candidate(s.Candidate("candidate:1 1 udp 2130706431 192.0.2.2 50000 typ host"))
    s.validate_candidate(s.Candidate(""))  # end of candidates


async def test_host_mute_is_enforced_in_the_sfu_and_only_the_host_lifts_it(world) -> None:
    _, _, uc, hub, sfu = world
    room = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    host = await hub.join("teacher", (await uc.create_join_token(room.room_id, "teacher")).token)
    misha = await hub.join("misha", (await uc.create_join_token(room.room_id, "misha")).token)
    await hub.handle(misha, s.Sdp("offer", SDP))
    feed = misha.feed_id
    await hub.handle(host, s.HostAction("mute", misha.participant_id, "audio"))
    assert sfu.moderated == [(feed, ["0"], True)] and misha.audio_muted
    # The participant cannot lift a host mute alone; muting video himself is fine.
    with pytest.raises(PermissionDenied) as info:
        await hub.handle(misha, s.Mute("audio", False))
    assert info.value.reason == "MUTED_BY_HOST"
    await hub.handle(misha, s.Mute("video", True))
    await hub.handle(host, s.HostAction("unmute", misha.participant_id, "audio"))
    assert sfu.moderated[-1] == (feed, ["0"], False) and not misha.audio_muted
    await hub.handle(misha, s.Mute("audio", True))
    await hub.handle(misha, s.Mute("audio", False))
    # Muted before publishing (e.g. a republish): the new feed starts muted in the SFU.
    await hub.handle(host, s.HostAction("mute", misha.participant_id, None))
    await hub.handle(host, s.HostAction("demote", misha.participant_id))
    await hub.handle(host, s.HostAction("promote", misha.participant_id))
    await hub.handle(misha, s.Sdp("offer", SDP))
    await asyncio.sleep(0.01)
    assert sfu.moderated[-1] == (misha.feed_id, ["0", "1"], True) and misha.feed_id != feed
    drain(host)


async def test_draining_ends_streams_with_replica_draining_and_refuses_joins(world) -> None:
    _, rooms, uc, hub, _ = world
    room = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    host = await hub.join("teacher", (await uc.create_join_token(room.room_id, "teacher")).token)
    token = (await uc.create_join_token(room.room_id, "misha")).token
    await hub.drain()
    closing = drain(host)[-1]
    assert isinstance(closing, s.Close) and closing.error is not None
    assert closing.error.reason == "REPLICA_DRAINING" and hub.live_rooms() == 0
    assert room.room_id not in rooms.owner_of  # the lease is released for another replica
    with pytest.raises(Unavailable) as info:
        await hub.join("misha", token)
    assert info.value.reason == "REPLICA_DRAINING"


async def test_an_end_by_the_host_is_saved_even_when_the_hosts_own_stream_closes_first(world) -> None:
    # Ending closes the host's own stream, and the servicer then cancels that stream's reader, which
    # is the task running the host action. Under load the cancel landed while the end was being saved:
    # the host saw room_ended, but the room stayed LIVE in the store and RoomEnded never went out
    # (e2e test_dropped_peer_is_removed_after_keepalive_and_attendance_records_it, make test-stress).
    _, rooms, uc, hub, _ = world
    room = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    host = await hub.join("teacher", (await uc.create_join_token(room.room_id, "teacher")).token)
    saving, release = asyncio.Event(), asyncio.Event()
    plain_save = rooms.save

    async def slow_save(r: Room, evts: list[object], *, expected_version: int) -> None:
        saving.set()
        await release.wait()  # a loaded store
        await plain_save(r, evts, expected_version=expected_version)

    rooms.save = slow_save  # type: ignore[method-assign]
    reader = asyncio.create_task(hub.handle(host, s.HostAction("end_room", "")))
    await asyncio.wait_for(saving.wait(), 5)
    assert not any(isinstance(m, s.Close) for m in drain(host)), "the stream closed before the end was saved"
    reader.cancel()  # the host's stream goes away mid-save
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await reader

    async def saved() -> bool:
        return any(isinstance(e, events.RoomEnded) for e in rooms.events)

    for _ in range(100):
        if await saved():
            break
        await asyncio.sleep(0.01)
    assert await saved(), "RoomEnded was never saved"
    assert isinstance(drain(host)[-1], s.Close)
