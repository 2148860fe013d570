"""Group calls (issue 15): the switch point between peer-to-peer and the SFU, a fifth person in a
peer-to-peer call (CALL_FULL with a hint), group calls up to 100 through the SFU, and the safety
rule book deciding for every invitee of a group call."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

import pytest
from media_signal.adapters.mongo import room_from_doc, room_to_doc
from media_signal.adapters.tokens import HmacJoinTokenCodec
from media_signal.app import signals as s
from media_signal.app.hub import SignalHub
from media_signal.app.rooms import RoomUseCases
from media_signal.domain.rooms import (
    MAX_GROUP_CALL,
    MediaMode,
    Membership,
    RoomKind,
    ScreenShare,
    is_group_call,
    new_room,
)
from parta_common.errors import InvalidArgument, PermissionDenied, ResourceExhausted, Unavailable
from parta_common.testing.fakes import FakeClock

from tests.media_signal.fakes import (
    CLASS,
    MEMBERS,
    SCHOOL,
    SDP,
    FakeDirectory,
    FakeRooms,
    FakeSfu,
    NoIce,
    drain,
    new_room_cmd,
)

STAFF = [f"t{i}" for i in range(1, 8)]
STUDENTS = [f"s{i}" for i in range(1, 6)]
EXTRA = [
    *[Membership(t, SCHOOL, "teacher", verified=True) for t in STAFF],
    *[Membership(x, SCHOOL, "student", CLASS, "student") for x in STUDENTS],
    Membership("many", SCHOOL, "teacher", verified=True),
]


@pytest.fixture
def group_world():
    clock = FakeClock(datetime(2026, 9, 1, 9, 0, tzinfo=UTC))
    rooms = FakeRooms()
    codec = HmacJoinTokenCodec(b"k" * 32)
    ids = (f"id-{n}" for n in itertools.count())
    sfu = FakeSfu()
    hub = SignalHub(
        rooms=rooms, tokens=codec, sfu=sfu, clock=clock, new_id=lambda: next(ids), replica="r1", address="a:1"
    )
    uc = RoomUseCases(
        rooms=rooms,
        directory=FakeDirectory(MEMBERS + EXTRA),
        tokens=codec,
        ice=NoIce(),
        clock=clock,
        room_ids=lambda scope, actor, req: f"room-{actor}-{req}",
        live=hub,
    )
    return uc, hub, sfu


async def join(uc: RoomUseCases, hub: SignalHub, room_id: str, user_id: str):
    return await hub.join(user_id, (await uc.create_join_token(room_id, user_id)).token)


def test_the_switch_point_is_more_than_four_people_or_seats() -> None:
    assert not is_group_call(2, 0)
    assert not is_group_call(4, 0)
    assert not is_group_call(4, 4)
    assert is_group_call(5, 0)  # the host and 4 invitees
    assert is_group_call(2, 5)  # a small call asking for more seats


async def test_a_call_of_four_is_p2p_and_of_five_a_group_call_through_the_sfu(group_world) -> None:
    uc, _, _ = group_world
    small = await uc.create_room(new_room_cmd(RoomKind.CALL, invited_user_ids=tuple(STAFF[:3])), "irina")
    assert small.media_mode is MediaMode.P2P and small.max_participants == 4 and not small.group_call
    group = await uc.create_room(
        new_room_cmd(RoomKind.CALL, invited_user_ids=tuple(STAFF[:4]), request_id="r-2"), "irina"
    )
    assert group.media_mode is MediaMode.SFU and group.group_call and group.max_participants == MAX_GROUP_CALL
    asked = await uc.create_room(
        new_room_cmd(RoomKind.CALL, invited_user_ids=(STAFF[0],), max_participants=10, request_id="r-3"), "irina"
    )
    assert asked.media_mode is MediaMode.SFU and asked.max_participants == 10
    with pytest.raises(InvalidArgument) as info:
        await uc.create_room(new_room_cmd(RoomKind.CALL, max_participants=101, request_id="r-4"), "irina")
    assert {v.field for v in info.value.violations} == {"max_participants"}
    # 99 invitees fit a call of 100; a 100th invitee does not.
    with pytest.raises(InvalidArgument) as info:
        invited = tuple(f"u{i}" for i in range(MAX_GROUP_CALL))
        await uc.create_room(new_room_cmd(RoomKind.CALL, invited_user_ids=invited, request_id="r-5"), "irina")
    assert {v.field for v in info.value.violations} == {"invited_user_ids"}


async def test_a_fifth_stream_in_a_p2p_call_is_refused_call_full_with_a_hint(group_world) -> None:
    uc, hub, _ = group_world
    call = await uc.create_room(new_room_cmd(RoomKind.CALL, invited_user_ids=tuple(STAFF[:3])), "irina")
    for user in ["irina", *STAFF[:3]]:
        await join(uc, hub, call.room_id, user)
    # The people of a P2P call are fixed at create: the fifth can only be a second device, the host's too.
    for user in (STAFF[0], "irina"):
        with pytest.raises(ResourceExhausted) as info:
            await join(uc, hub, call.room_id, user)
        assert info.value.reason == "CALL_FULL" and "group call" in info.value.message
    assert hub.participants() == 4


async def test_a_staff_meeting_of_eight_runs_through_the_sfu(group_world) -> None:
    uc, hub, _ = group_world
    call = await uc.create_room(new_room_cmd(RoomKind.CALL, invited_user_ids=tuple(STAFF), title="Педсовет"), "irina")
    assert call.media_mode is MediaMode.SFU
    sessions = [await join(uc, hub, call.room_id, u) for u in ["irina", *STAFF]]
    joined = drain(sessions[-1])[0]
    assert isinstance(joined, s.Joined) and joined.room.media_mode is MediaMode.SFU and len(joined.participants) == 8
    for session in sessions:
        # In a group call a client publishes to the server (no participant id), as in a lesson.
        await s_publish(hub, session)
    await asyncio.sleep(0.05)  # subscriptions are set up in the background
    for session in sessions:
        offers = [m for m in drain(session) if isinstance(m, s.SdpOut) and m.subscription_id]
        assert len({m.participant_id for m in offers}) == 7 and all(m.source == "camera" for m in offers)
    # P2P relaying is not how a group call works.
    with pytest.raises(InvalidArgument):
        await hub.handle(sessions[0], s.Sdp("offer", SDP, participant_id=sessions[1].participant_id))


async def s_publish(hub: SignalHub, session) -> None:
    await hub.handle(session, s.Sdp("offer", SDP))
    assert session.publisher_handle


async def test_every_invitee_of_a_group_call_is_checked_by_the_rule_book(group_world) -> None:
    uc, hub, _ = group_world
    # A class call: the teacher and five of the class's students.
    klass = await uc.create_room(new_room_cmd(RoomKind.CALL, invited_user_ids=tuple(STUDENTS)), "teacher")
    assert klass.media_mode is MediaMode.SFU
    await join(uc, hub, klass.room_id, STUDENTS[0])
    # Another child's parent may not be in a call with misha, however big the call.
    with pytest.raises(PermissionDenied) as info:
        await uc.create_room(
            new_room_cmd(RoomKind.CALL, invited_user_ids=(*STUDENTS, "misha", "oleg"), request_id="r-2"), "teacher"
        )
    assert info.value.reason == "CONTACT_NOT_ALLOWED"
    # A student may not bring an adult who is not their teacher or guardian into a group call.
    with pytest.raises(PermissionDenied) as info:
        await uc.create_room(
            new_room_cmd(RoomKind.CALL, invited_user_ids=(*STUDENTS[1:], "t1"), request_id="r-3"), STUDENTS[0]
        )
    assert info.value.reason in ("CONTACT_NOT_ALLOWED", "STAFF_NOT_VERIFIED")


async def test_a_join_token_reads_the_whole_call_in_one_batch() -> None:
    """The rule book pairs the caller with everyone else in the call: their seats are one read for
    all of them (MembershipDirectory.accesses), not one per invitee (the store-command guard:
    tests/media_signal/integration/test_join_token_store_commands.py)."""
    clock = FakeClock(datetime(2026, 9, 1, 9, 0, tzinfo=UTC))
    directory = FakeDirectory(MEMBERS + EXTRA)
    uc = RoomUseCases(
        rooms=FakeRooms(),
        directory=directory,
        tokens=HmacJoinTokenCodec(b"k" * 32),
        ice=NoIce(),
        clock=clock,
        room_ids=lambda scope, actor, req: f"room-{actor}-{req}",
    )
    call = await uc.create_room(new_room_cmd(RoomKind.CALL, invited_user_ids=tuple(STAFF)), "irina")
    assert directory.batches == [STAFF]  # the invitees, checked at creation in one read too
    directory.batches.clear()
    await uc.create_join_token(call.room_id, STAFF[2])
    assert directory.batches == [["irina", *STAFF[:2], *STAFF[3:]]]


def test_group_call_and_screen_share_settings_are_stored() -> None:
    cmd = new_room_cmd(RoomKind.CALL, invited_user_ids=tuple(STAFF), screen_share=ScreenShare.HOSTS)
    room = new_room(cmd, room_id="r", host_user_id="irina", now=datetime(2026, 9, 1, tzinfo=UTC))
    back = room_from_doc(room_to_doc(room))
    assert back.group_call and back.screen_share is ScreenShare.HOSTS and back.media_mode is MediaMode.SFU
    old = room_to_doc(room)
    del old["group_call"], old["screen_share"]
    legacy = room_from_doc(old)  # stored before issue 15: a P2P call where anyone shares
    assert not legacy.group_call and legacy.screen_share is ScreenShare.ANYONE and legacy.media_mode is MediaMode.P2P


async def test_a_subscription_survives_a_busy_sfu(group_world) -> None:
    """In a join storm Janus may time out a subscribe: the hub tries again instead of leaving the
    subscriber without that feed for the rest of the call."""
    uc, hub, sfu = group_world
    real, failures = sfu.subscribe, [Unavailable("the media server did not answer", reason="SFU_TIMEOUT")]

    async def flaky(sfu_room: int, feed_id: int):
        if failures:
            raise failures.pop()
        return await real(sfu_room, feed_id)

    sfu.subscribe = flaky
    call = await uc.create_room(new_room_cmd(RoomKind.CALL, invited_user_ids=tuple(STAFF[:4])), "irina")
    host, viewer = await join(uc, hub, call.room_id, "irina"), await join(uc, hub, call.room_id, STAFF[0])
    await s_publish(hub, host)
    deadline = asyncio.get_running_loop().time() + 5
    while not viewer.subscriptions:
        assert asyncio.get_running_loop().time() < deadline, "no subscription after the SFU recovered"
        await asyncio.sleep(0.02)
    assert not failures and any(isinstance(m, s.SdpOut) and m.subscription_id for m in drain(viewer))
