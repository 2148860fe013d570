"""Group calls and screen sharing through the real Janus with aiortc peers (issue 15): an
8-person staff meeting where everyone publishes a small synthetic video (160x120, 5 fps) and every
participant decodes frames from at least two others; a screen shared beside the camera reaches a
viewer as its own stream marked screen; a fifth stream in a 4-person peer-to-peer call is refused
with CALL_FULL (the documented rule, docs/media-signal.md "Group calls")."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import grpc
import pytest
from parta.media_signal.v1 import events_pb2 as ev
from parta.media_signal.v1 import media_signal_pb2 as pb

from tests.e2e.media_signal_support import MediaStack, SfuPeer, error_reason


@pytest.fixture(scope="module")
async def stack(mongo_uri: str, kafka_bootstrap: str):
    # One media-signal process for the module (each test uses its own school and people).
    async with MediaStack(mongo_uri, kafka_bootstrap, keepalive=10.0) as s:
        yield s


def _ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}-{uuid.uuid4().hex[:6]}" for i in range(n)]


async def _joined(user: Any, room_id: str) -> Any:
    """A signalling stream for a room, once the user is in media-signal's projection."""
    return await user.signal((await user.join_token_when_member(room_id)).token)


async def _until(check: Any, timeout: float, what: Any) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what()
        await asyncio.sleep(0.1)


async def test_a_staff_meeting_of_eight_through_janus_every_one_decodes_two_others(stack: MediaStack) -> None:
    admin_id = "admin-" + uuid.uuid4().hex[:6]
    staff = _ids("teacher", 7)
    school = await stack.school([(admin_id, "admin", ""), *[(t, "teacher", "") for t in staff]])
    admin = stack.user(admin_id)
    room = await admin.create_room(school, ev.ROOM_KIND_CALL, title="Педсовет", invited_user_ids=staff, start_now=True)
    assert room.media_mode == pb.MEDIA_MODE_SFU and room.max_participants == 100

    peers: list[SfuPeer] = []
    try:
        for user_id in [admin_id, *staff]:
            client = await _joined(stack.user(user_id), room.room_id)
            joined = (await client.expect("joined")).joined
            assert joined.state.room.media_mode == pb.MEDIA_MODE_SFU
            peer = SfuPeer(client)
            peer.answer_offers()
            peers.append(peer)
        assert len(joined.state.participants) == 8
        await asyncio.gather(*(p.publish(fps=5) for p in peers))
        await _until(
            lambda: all(len(p.senders_with(3)) >= 2 for p in peers),
            90,
            lambda: [sorted(p.frames.values()) for p in peers],
        )
        for peer in peers:
            assert peer.client.participant_id not in peer.senders_with(1)  # nobody receives themselves
    finally:
        for peer in peers:
            await peer.close()
    await admin.rooms.EndRoom(pb.EndRoomRequest(room_id=room.room_id), metadata=admin.metadata)


async def test_a_screen_beside_the_camera_reaches_a_viewer_as_its_own_stream(stack: MediaStack) -> None:
    teacher_id, student_id = "teacher-" + uuid.uuid4().hex[:6], "student-" + uuid.uuid4().hex[:6]
    school = await stack.school([(teacher_id, "teacher", "subject_teacher"), (student_id, "student", "student")])
    teacher = stack.user(teacher_id)
    room = await teacher.create_room(school, ev.ROOM_KIND_LESSON, title="Геометрия", start_now=True)
    assert room.screen_share == pb.SCREEN_SHARE_POLICY_HOSTS  # lessons: the teacher shares
    host = SfuPeer(await _joined(teacher, room.room_id))
    await host.client.expect("joined")
    viewer = SfuPeer(await _joined(stack.user(student_id), room.room_id))
    me = (await viewer.client.expect("joined")).joined.state.self
    assert not me.may_share_screen
    viewer.answer_offers()
    try:
        # A dark camera and a bright screen, so the viewer can tell which stream carries which.
        await host.publish(pb.MEDIA_SOURCE_CAMERA, luma=20, fps=5)
        await host.publish(pb.MEDIA_SOURCE_SCREEN, luma=230, fps=5)
        sharing = await viewer.client.expect(
            "participant_updated", timeout=20, where=lambda r: r.participant_updated.participant.sharing_screen
        )
        assert sharing.participant_updated.participant.participant_id == host.client.participant_id
        camera = (host.client.participant_id, pb.MEDIA_SOURCE_CAMERA)
        screen = (host.client.participant_id, pb.MEDIA_SOURCE_SCREEN)
        await _until(
            lambda: viewer.frames.get(camera, 0) >= 3 and viewer.frames.get(screen, 0) >= 3,
            60,
            lambda: viewer.frames,
        )
        assert viewer.luma[screen] > 150 > 80 > viewer.luma[camera], viewer.luma
        # The student may not share in a lesson unless the teacher allows it.
        await viewer.client.send(
            pb.SignalRequest(request_id="s", offer=pb.SessionDescription(sdp=SDP, source=pb.MEDIA_SOURCE_SCREEN))
        )
        error = (await viewer.client.expect("error")).error
        assert error.code == grpc.StatusCode.PERMISSION_DENIED.value[0] and error.reason == "SCREEN_SHARE_NOT_ALLOWED"
        # The teacher stops sharing: the viewer is told.
        await host.client.send(pb.SignalRequest(stop_screen_share=pb.StopScreenShareRequest()))
        await viewer.client.expect(
            "participant_updated",
            timeout=10,
            where=lambda r: (
                not r.participant_updated.participant.sharing_screen
                and r.participant_updated.participant.participant_id == host.client.participant_id
            ),
        )
    finally:
        await viewer.close()
        await host.close()


SDP = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"


async def test_a_fifth_stream_in_a_four_person_call_is_refused_call_full(stack: MediaStack) -> None:
    host_id = "teacher-" + uuid.uuid4().hex[:6]
    others = _ids("colleague", 3)
    school = await stack.school([(host_id, "teacher", ""), *[(o, "teacher", "") for o in others]])
    host = stack.user(host_id)
    room = await host.create_room(school, ev.ROOM_KIND_CALL, title="Четверо", invited_user_ids=others, start_now=True)
    assert room.media_mode == pb.MEDIA_MODE_P2P and room.max_participants == 4
    clients = []
    try:
        for user_id in [host_id, *others]:
            client = await _joined(stack.user(user_id), room.room_id)
            await client.expect("joined")
            clients.append(client)
        # The people of a P2P call are fixed at create: a fifth stream is someone's second device.
        fifth = await _joined(stack.user(others[0]), room.room_id)
        clients.append(fifth)
        error = await fifth.wait_closed()
        assert error is not None and error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error_reason(error) == "CALL_FULL" and "group call" in error.details()
        # The four are undisturbed: a relayed offer still reaches its peer.
        await clients[0].send(
            pb.SignalRequest(offer=pb.SessionDescription(sdp=SDP, participant_id=clients[1].participant_id))
        )
        assert (await clients[1].expect("offer")).offer.participant_id == clients[0].participant_id
        # One more person makes it a group call through the SFU from the start.
        fifth_id = "colleague-" + uuid.uuid4().hex[:6]
        await stack.school([(fifth_id, "teacher", "")], school)
        group = await host.create_room(
            school, ev.ROOM_KIND_CALL, title="Пятеро", invited_user_ids=[*others, fifth_id], start_now=True
        )
        assert group.media_mode == pb.MEDIA_MODE_SFU
    finally:
        for client in clients:
            await client.close()
