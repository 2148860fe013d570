"""Screen sharing (issue 15): who may share (the room's setting and the host's decision), a screen
published beside the camera as its own SFU feed and offered to viewers marked `screen`, the host
stopping a share, and screens in peer-to-peer calls relayed with their source."""

from __future__ import annotations

import asyncio

import pytest
from media_signal.api import mappers
from media_signal.app import signals as s
from media_signal.domain.rooms import HOST_GRANTS, SPEAKER_GRANTS, VIEWER_GRANTS, RoomKind, ScreenShare
from media_signal.domain.screen_share import check_may_share, may_share
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta_common.errors import FailedPrecondition, InvalidArgument, PermissionDenied

from tests.media_signal.fakes import SDP, drain, new_room_cmd


def test_who_may_share() -> None:
    for policy in ScreenShare:
        assert may_share(policy, HOST_GRANTS, None)
        assert not may_share(policy, VIEWER_GRANTS, True)  # viewers never publish, a screen neither
    assert may_share(ScreenShare.ANYONE, SPEAKER_GRANTS, None)
    assert not may_share(ScreenShare.ANYONE, SPEAKER_GRANTS, False)  # stopped by the host
    assert not may_share(ScreenShare.HOSTS, SPEAKER_GRANTS, None)
    assert may_share(ScreenShare.HOSTS, SPEAKER_GRANTS, True)  # allowed by the host
    with pytest.raises(PermissionDenied) as info:
        check_may_share(ScreenShare.HOSTS, SPEAKER_GRANTS, None)
    assert info.value.reason == "SCREEN_SHARE_NOT_ALLOWED"
    with pytest.raises(PermissionDenied) as info:
        check_may_share(ScreenShare.ANYONE, VIEWER_GRANTS, None)
    assert info.value.reason == "PUBLISH_NOT_ALLOWED"


async def test_kind_defaults(world) -> None:
    _, _, uc, _, _ = world
    lesson = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    call = await uc.create_room(new_room_cmd(RoomKind.CALL, invited_user_ids=("misha",), request_id="r2"), "teacher")
    open_lesson = await uc.create_room(
        new_room_cmd(RoomKind.LESSON, screen_share=ScreenShare.ANYONE, request_id="r3"), "teacher"
    )
    assert (lesson.screen_share, call.screen_share, open_lesson.screen_share) == (
        ScreenShare.HOSTS,
        ScreenShare.ANYONE,
        ScreenShare.ANYONE,
    )


async def test_a_screen_beside_the_camera_reaches_viewers_as_its_own_stream(world) -> None:
    _, _, uc, hub, sfu = world
    room = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    teacher = await hub.join("teacher", (await uc.create_join_token(room.room_id, "teacher")).token)
    misha = await hub.join("misha", (await uc.create_join_token(room.room_id, "misha")).token)
    await hub.handle(teacher, s.Sdp("offer", SDP))
    await hub.handle(teacher, s.Sdp("offer", SDP, source="screen"))
    assert teacher.publisher_handle and teacher.screen_handle and teacher.feed_id != teacher.screen_feed_id
    answers = [m for m in drain(teacher) if isinstance(m, s.SdpOut) and m.type == "answer"]
    assert [m.source for m in answers] == ["camera", "screen"]
    await asyncio.sleep(0.01)  # subscriptions are set up in the background
    got = drain(misha)
    offers = {m.source: m for m in got if isinstance(m, s.SdpOut) and m.subscription_id}
    assert set(offers) == {"camera", "screen"} and offers["screen"].participant_id == teacher.participant_id
    assert offers["camera"].subscription_id != offers["screen"].subscription_id
    updates = [m.participant for m in got if isinstance(m, s.ParticipantUpdatedMsg)]
    assert updates[-1].sharing_screen and updates[-1].publishing
    # A late joiner gets both streams too.
    petya = await hub.join("petya", (await uc.create_join_token(room.room_id, "petya")).token)
    await asyncio.sleep(0.01)
    assert {m.source for m in drain(petya) if isinstance(m, s.SdpOut)} == {"camera", "screen"}
    # A second screen at once is refused; stopping ends the screen feed and everyone's subscription.
    with pytest.raises(FailedPrecondition) as info:
        await hub.handle(teacher, s.Sdp("offer", SDP, source="screen"))
    assert info.value.reason == "ALREADY_SHARING"
    screen_handle = teacher.screen_handle
    await hub.handle(teacher, s.StopScreenShare())
    await asyncio.sleep(0.01)
    assert not teacher.screen_handle and teacher.publisher_handle
    assert screen_handle in sfu.detached
    assert all(source != "screen" for _, _, source in misha.subscriptions.values())
    update = [m for m in drain(misha) if isinstance(m, s.ParticipantUpdatedMsg)][-1]
    assert not update.participant.sharing_screen


async def test_the_host_allows_and_stops_a_students_share(world) -> None:
    _, _, uc, hub, sfu = world
    room = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    teacher = await hub.join("teacher", (await uc.create_join_token(room.room_id, "teacher")).token)
    misha = await hub.join("misha", (await uc.create_join_token(room.room_id, "misha")).token)
    joined = drain(misha)[0]
    assert isinstance(joined, s.Joined) and not joined.self_view.may_share_screen
    with pytest.raises(PermissionDenied) as info:
        await hub.handle(misha, s.Sdp("offer", SDP, source="screen"))
    assert info.value.reason == "SCREEN_SHARE_NOT_ALLOWED"
    with pytest.raises(PermissionDenied) as info:
        await hub.handle(misha, s.HostAction("allow_screen_share", misha.participant_id))
    assert info.value.reason == "NOT_HOST"
    with pytest.raises(InvalidArgument):
        await hub.handle(teacher, s.HostAction("stop_screen_share", teacher.participant_id))
    await hub.handle(teacher, s.HostAction("allow_screen_share", misha.participant_id))
    seen = drain(misha)
    assert any(isinstance(m, s.HostNotice) and m.action == "allow_screen_share" for m in seen)
    assert [m for m in seen if isinstance(m, s.ParticipantUpdatedMsg)][-1].participant.may_share_screen
    await hub.handle(misha, s.Sdp("offer", SDP, source="screen"))
    assert misha.screen_handle
    handle = misha.screen_handle
    await hub.handle(teacher, s.HostAction("stop_screen_share", misha.participant_id))
    await asyncio.sleep(0.01)
    assert not misha.screen_handle and handle in sfu.detached
    update = [m for m in drain(teacher) if isinstance(m, s.ParticipantUpdatedMsg)][-1].participant
    assert not update.sharing_screen and not update.may_share_screen
    with pytest.raises(PermissionDenied):
        await hub.handle(misha, s.Sdp("offer", SDP, source="screen"))


async def test_a_screen_in_a_p2p_call_is_relayed_marked_screen(world) -> None:
    _, _, uc, hub, _ = world
    call = await uc.create_room(new_room_cmd(RoomKind.CALL, invited_user_ids=("misha",)), "teacher")
    teacher = await hub.join("teacher", (await uc.create_join_token(call.room_id, "teacher")).token)
    misha = await hub.join("misha", (await uc.create_join_token(call.room_id, "misha")).token)
    drain(teacher), drain(misha)
    await hub.handle(misha, s.Sdp("offer", SDP, participant_id=teacher.participant_id, source="screen"))
    await hub.handle(misha, s.Candidate("", "0", 0, participant_id=teacher.participant_id, source="screen"))
    got = drain(teacher)
    assert [m.source for m in got if isinstance(m, (s.SdpOut, s.CandidateOut))] == ["screen", "screen"]
    assert [m for m in got if isinstance(m, s.ParticipantUpdatedMsg)][-1].participant.sharing_screen
    await hub.handle(teacher, s.HostAction("stop_screen_share", misha.participant_id))
    assert not misha.p2p_screen
    with pytest.raises(PermissionDenied):
        await hub.handle(misha, s.Sdp("offer", SDP, participant_id=teacher.participant_id, source="screen"))


def test_the_source_is_mapped_both_ways() -> None:
    request = pb.SignalRequest(offer=pb.SessionDescription(sdp=SDP, source=pb.MEDIA_SOURCE_SCREEN))
    assert mappers.command(request) == s.Sdp("offer", SDP, source="screen")
    assert mappers.command(pb.SignalRequest(offer=pb.SessionDescription(sdp=SDP))).source == "camera"
    with pytest.raises(InvalidArgument):
        mappers.command(pb.SignalRequest(offer=pb.SessionDescription(sdp=SDP, source=42)))
    assert isinstance(
        mappers.command(pb.SignalRequest(stop_screen_share=pb.StopScreenShareRequest())), s.StopScreenShare
    )
    out = mappers.outbound(s.SdpOut("offer", SDP, "p", "sub", "screen"))
    assert out.offer.source == pb.MEDIA_SOURCE_SCREEN and out.offer.subscription_id == "sub"
    action = pb.HostActionRequest(action=pb.HOST_ACTION_TYPE_ALLOW_SCREEN_SHARE, participant_id="p")
    assert mappers.command(pb.SignalRequest(host_action=action)) == s.HostAction("allow_screen_share", "p")
    with pytest.raises(InvalidArgument):
        mappers.new_room(pb.CreateRoomRequest(screen_share=9))
