"""The signalling hub on fakes: the waiting room and host rules applied, a full room, keep-alive, malformed
signals, host mutes in the SFU, draining."""

from __future__ import annotations

import asyncio

import pytest
from media_signal.app import signals as s
from media_signal.domain import events
from media_signal.domain.rooms import (
    Room,
    RoomKind,
    RoomState,
)
from parta_common.errors import (
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)

from tests.media_signal.fakes import SDP, drain, new_room_cmd


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
