"""Lessons and broadcasts through Janus (VideoRoom) with aiortc peers: a teacher publishes a
synthetic video track and three students receive decoded frames; broadcast stage rules; host
removal ends the removed participant's stream with a clear status."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from aiortc import RTCSessionDescription
from parta.media_signal.v1 import events_pb2 as ev
from parta.media_signal.v1 import media_signal_pb2 as pb

from tests.e2e.media_signal_support import FrameCounter, MediaStack, SignalClient, synthetic_video


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):
    async with MediaStack(mongo_uri, kafka_bootstrap, keepalive=5.0) as s:
        yield s


def _ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}-{uuid.uuid4().hex[:6]}" for i in range(n)]


async def publish(client: SignalClient, pcs: list) -> object:
    """Publishes a synthetic video track to the SFU; returns the peer connection."""
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    pcs.append(pc)
    pc.addTransceiver(synthetic_video(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    await client.send(pb.SignalRequest(request_id="pub", offer=pb.SessionDescription(sdp=pc.localDescription.sdp)))
    return pc


async def subscribe(client: SignalClient, pcs: list, counter: FrameCounter, timeout: float = 20) -> str:
    """Answers the SFU's offer for one publisher; returns the publisher's participant id."""
    from aiortc import RTCPeerConnection

    offer = (await client.expect("offer", timeout=timeout)).offer
    assert offer.subscription_id
    pc = RTCPeerConnection()
    pcs.append(pc)
    pc.on("track", counter.attach)
    await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    await client.send(
        pb.SignalRequest(
            answer=pb.SessionDescription(sdp=pc.localDescription.sdp, subscription_id=offer.subscription_id)
        )
    )
    return offer.participant_id


async def test_lesson_teacher_publishes_three_students_receive_frames(stack: MediaStack) -> None:
    teacher_id = "teacher-" + uuid.uuid4().hex[:6]
    students = _ids("student", 3)
    school = await stack.school(
        [(teacher_id, "teacher", "subject_teacher"), *[(s, "student", "student") for s in students]]
    )
    teacher = stack.user(teacher_id)
    room = await teacher.create_room(school, ev.ROOM_KIND_LESSON, title="Математика 5А")
    assert room.state == pb.ROOM_STATE_SCHEDULED and room.media_mode == pb.MEDIA_MODE_SFU
    room = (await teacher.rooms.StartRoom(pb.StartRoomRequest(room_id=room.room_id), metadata=teacher.metadata)).room
    assert room.state == pb.ROOM_STATE_LIVE

    st = await teacher.signal(room_id=room.room_id)
    await st.expect("joined")
    clients = []
    for sid in students:
        user = stack.user(sid)
        # Students are not hosts and cannot act as one.
        assert not (await user.join_token(room.room_id)).grants.is_host
        client = await user.signal(room_id=room.room_id)
        await client.expect("joined")
        clients.append(client)

    pcs: list = []
    counters = [FrameCounter() for _ in clients]
    try:
        pc = await publish(st, pcs)
        answer = (await st.expect("answer", timeout=20)).answer
        await pc.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
        publishers = await asyncio.gather(*(subscribe(c, pcs, k) for c, k in zip(clients, counters, strict=True)))
        assert set(publishers) == {st.participant_id}
        got = await asyncio.gather(*(k.wait_for("video", 10, 30) for k in counters))
        assert all(n >= 10 for n in got), got
    finally:
        for k in counters:
            k.stop()
        for pc in pcs:
            await pc.close()
    ended = await teacher.rooms.EndRoom(pb.EndRoomRequest(room_id=room.room_id), metadata=teacher.metadata)
    assert ended.room.state == pb.ROOM_STATE_ENDED
    for client in clients:
        await client.expect("room_ended")
        assert await client.wait_closed() is None


async def test_broadcast_stage_rules_and_host_removal(stack: MediaStack) -> None:
    host_id = "head-" + uuid.uuid4().hex[:6]
    parents = _ids("parent", 2)
    school = await stack.school([(host_id, "teacher", "class_head"), *[(p, "parent", "parent") for p in parents]])
    host = stack.user(host_id)
    room = await host.create_room(school, ev.ROOM_KIND_BROADCAST, title="Родительское собрание", start_now=True)
    sh = await host.signal(room_id=room.room_id)
    await sh.expect("joined")
    anna, boris = stack.user(parents[0]), stack.user(parents[1])
    grant = await anna.join_token(room.room_id)
    assert grant.grants.can_subscribe and not grant.grants.can_publish
    sa = await anna.signal(grant.token)
    await sa.expect("joined")
    sb = await boris.signal(room_id=room.room_id)
    await sb.expect("joined")

    pcs: list = []
    try:
        # A viewer's attempt to publish is refused; the stream stays usable.
        await publish(sa, pcs)
        error = (await sa.expect("error", timeout=10)).error
        assert error.code == grpc.StatusCode.PERMISSION_DENIED.value[0] and error.reason == "PUBLISH_NOT_ALLOWED"

        # Anna raises her hand; the host sees it and brings her on stage.
        await sa.send(pb.SignalRequest(raise_hand=pb.RaiseHandRequest(raised=True)))
        raised = await sh.expect("participant_updated", where=lambda r: r.participant_updated.participant.hand_raised)
        assert raised.participant_updated.participant.user_id == anna.user_id
        await sh.send(
            pb.SignalRequest(
                host_action=pb.HostActionRequest(action=pb.HOST_ACTION_TYPE_PROMOTE, participant_id=sa.participant_id)
            )
        )
        notice = (await sa.expect("host_action")).host_action
        assert notice.action == pb.HOST_ACTION_TYPE_PROMOTE
        counter = FrameCounter()
        pc = await publish(sa, pcs)
        answer = (await sa.expect("answer", timeout=20)).answer
        await pc.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
        # Boris (still a viewer) receives Anna's video through the SFU.
        assert await subscribe(sb, pcs, counter) == sa.participant_id
        assert await counter.wait_for("video", 5, 30) >= 5
        counter.stop()

        # Back to the audience: publishing is refused again.
        await sh.send(
            pb.SignalRequest(
                host_action=pb.HostActionRequest(action=pb.HOST_ACTION_TYPE_DEMOTE, participant_id=sa.participant_id)
            )
        )
        assert (await sa.expect("host_action")).host_action.action == pb.HOST_ACTION_TYPE_DEMOTE

        # The host removes Boris: his stream ends with PERMISSION_DENIED / REMOVED_BY_HOST.
        await sh.send(
            pb.SignalRequest(
                host_action=pb.HostActionRequest(action=pb.HOST_ACTION_TYPE_REMOVE, participant_id=sb.participant_id)
            )
        )
        assert (await sb.expect("host_action")).host_action.action == pb.HOST_ACTION_TYPE_REMOVE
        error = await sb.wait_closed()
        assert error is not None and error.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "removed" in error.details()
        left = await sh.expect("participant_left", where=lambda r: r.participant_left.user_id == boris.user_id)
        assert left.participant_left.reason == "removed"
        # ... and may not come back while the room is live.
        again = await boris.signal(room_id=room.room_id)
        error = await again.wait_closed()
        assert error is not None and error.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        for pc in pcs:
            await pc.close()
    await sh.close()
    await sa.close()
