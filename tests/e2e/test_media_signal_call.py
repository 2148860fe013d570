"""A two-person call end to end: two aiortc peers connect through our signalling (relayed SDP),
a data-channel message and audio/video frames arrive; malformed input leaves the room intact;
a dropped peer is removed after the keep-alive timeout and attendance records the leave."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from aiokafka import AIOKafkaConsumer
from aiortc import RTCSessionDescription
from parta.media_signal.v1 import events_pb2 as ev
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta.media_signal.v1 import media_signal_pb2_grpc
from parta_common.events.envelope import parse_envelope
from parta_common.events.topics import MEDIA_SIGNAL_ROOM

from tests.e2e.media_signal_support import FrameCounter, MediaStack, peer_connection, synthetic_audio, synthetic_video


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):
    async with MediaStack(mongo_uri, kafka_bootstrap, keepalive=2.0) as s:
        yield s


async def _call(stack: MediaStack):
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    # The communication policy: a teacher reaches a student of a class she teaches.
    school = await stack.school([(alice, "teacher", "class_head"), (bob, "student", "student")])
    a, b = stack.user(alice), stack.user(bob)
    # Bob must be in the projection before he can be invited; create_room retries until then.
    room = await a.create_room(school, ev.ROOM_KIND_CALL, title="Созвон", invited_user_ids=[bob], start_now=True)
    assert room.media_mode == pb.MEDIA_MODE_P2P and room.state == pb.ROOM_STATE_LIVE
    return school, a, b, room


async def test_two_person_call_exchanges_data_and_media(stack: MediaStack) -> None:
    _, a, b, room = await _call(stack)
    grant = await a.join_token(room.room_id)
    assert grant.grants.is_host and grant.ice_servers and grant.ice_servers[0].username.endswith(a.user_id)
    sa = await a.signal(grant.token)
    await sa.expect("joined")
    sb = await b.signal(room_id=room.room_id)
    joined_b = await sb.expect("joined")
    assert {p.user_id for p in joined_b.joined.state.participants} == {a.user_id, b.user_id}
    seen = await sa.expect("participant_joined")
    assert seen.participant_joined.participant.user_id == b.user_id

    frames_at_b = FrameCounter()
    received: asyncio.Queue[str] = asyncio.Queue()
    async with peer_connection() as pa, peer_connection() as pb_:
        pa.addTrack(synthetic_audio())
        pa.addTrack(synthetic_video())
        channel = pa.createDataChannel("chat")
        opened = asyncio.Event()
        channel.on("open", opened.set)
        pb_.on("track", frames_at_b.attach)

        @pb_.on("datachannel")
        def on_channel(ch):
            ch.on("message", lambda m: received.put_nowait(m))

        await pa.setLocalDescription(await pa.createOffer())
        await sa.send(
            pb.SignalRequest(offer=pb.SessionDescription(sdp=pa.localDescription.sdp, participant_id=sb.participant_id))
        )
        offer = (await sb.expect("offer")).offer
        assert offer.participant_id == sa.participant_id
        await pb_.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        await pb_.setLocalDescription(await pb_.createAnswer())
        await sb.send(
            pb.SignalRequest(
                answer=pb.SessionDescription(sdp=pb_.localDescription.sdp, participant_id=sa.participant_id)
            )
        )
        answer = (await sa.expect("answer")).answer
        await pa.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))

        await asyncio.wait_for(opened.wait(), 15)
        channel.send("привет из 5А")
        assert await asyncio.wait_for(received.get(), 10) == "привет из 5А"
        assert await frames_at_b.wait_for("video", 10, 20) >= 10
        assert await frames_at_b.wait_for("audio", 10, 10) >= 10
        frames_at_b.stop()

    await sa.send(pb.SignalRequest(leave=pb.LeaveRequest()))
    assert await sa.wait_closed() is None
    left = await sb.expect("participant_left")
    assert left.participant_left.reason == "left"
    await sb.close()


async def test_malformed_signals_are_refused_and_the_room_carries_on(stack: MediaStack) -> None:
    _, a, b, room = await _call(stack)
    sa = await a.signal(room_id=room.room_id)
    await sa.expect("joined")
    sb = await b.signal(room_id=room.room_id)
    await sb.expect("joined")

    bad = [
        (
            "sdp",
            pb.SignalRequest(
                request_id="r1", offer=pb.SessionDescription(sdp="hello", participant_id=sb.participant_id)
            ),
        ),
        (
            "big",
            pb.SignalRequest(
                request_id="r2",
                trickle=pb.IceCandidate(candidate="candidate:" + "x" * 5000, participant_id=sb.participant_id),
            ),
        ),
        (
            "junk",
            pb.SignalRequest(
                request_id="r3", trickle=pb.IceCandidate(candidate="garbage\x01", participant_id=sb.participant_id)
            ),
        ),
        (
            "who",
            pb.SignalRequest(
                request_id="r4", offer=pb.SessionDescription(sdp="v=0\r\nm=audio 9 UDP 0\r\n", participant_id="nobody")
            ),
        ),
        (
            "host",
            pb.SignalRequest(
                request_id="r5",
                host_action=pb.HostActionRequest(action=pb.HOST_ACTION_TYPE_REMOVE, participant_id=sa.participant_id),
            ),
        ),
        ("join", pb.SignalRequest(request_id="r6", join=pb.JoinRequest(token="again"))),
    ]
    expected = {
        "r1": "INVALID_ARGUMENT",
        "r2": "INVALID_ARGUMENT",
        "r3": "INVALID_ARGUMENT",
        "r4": "PARTICIPANT_NOT_FOUND",
        "r5": "NOT_HOST",
        "r6": "ALREADY_JOINED",
    }
    for _, request in bad:
        await sb.send(request)
    for _ in bad:
        error = (await sb.expect("error")).error
        assert error.reason == expected[error.request_id], error
        assert error.code != grpc.StatusCode.INTERNAL.value[0]
    # The room is unaffected: both still there, relaying still works.
    await sb.send(pb.SignalRequest(ping=pb.PingRequest(client_time_ms=7)))
    assert (await sb.expect("pong")).pong.client_time_ms == 7
    await sb.send(
        pb.SignalRequest(
            trickle=pb.IceCandidate(
                candidate="candidate:1 1 udp 2130706431 192.0.2.2 50000 typ host",
                sdp_mid="0",
                participant_id=sa.participant_id,
            )
        )
    )
    relayed = (await sa.expect("trickle")).trickle
    assert relayed.participant_id == sb.participant_id and relayed.sdp_mid == "0"
    await sa.close()
    await sb.close()


async def test_join_refusals_have_clear_statuses(stack: MediaStack) -> None:
    _, a, b, room = await _call(stack)
    stranger = stack.user("stranger-" + uuid.uuid4().hex[:6])

    async def first_status(user, request: pb.SignalRequest):
        stream = media_signal_pb2_grpc.SignalServiceStub(user.channel).Signal(metadata=user.metadata)
        await stream.write(request)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for _ in stream:
                pass
        return info.value

    before = await first_status(b, pb.SignalRequest(ping=pb.PingRequest()))
    assert before.code() == grpc.StatusCode.FAILED_PRECONDITION and "join" in before.details()
    forged = await first_status(b, pb.SignalRequest(join=pb.JoinRequest(token="eyJhbGciOiJIUzI1NiJ9.e30.forged")))
    assert forged.code() == grpc.StatusCode.UNAUTHENTICATED
    token_of_a = (await a.join_token(room.room_id)).token
    stolen = await first_status(b, pb.SignalRequest(join=pb.JoinRequest(token=token_of_a)))
    assert stolen.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stranger.join_token(room.room_id)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND  # another school's room does not exist for them
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await b.join_token("no-such-room")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_dropped_peer_is_removed_after_keepalive_and_attendance_records_it(stack: MediaStack) -> None:
    _, a, b, room = await _call(stack)
    sa = await a.signal(room_id=room.room_id)
    await sa.expect("joined")
    sb = await b.signal(room_id=room.room_id)
    await sb.expect("joined")
    await sb.close()  # the network drops: no leave is sent
    left = await sa.expect("participant_left", timeout=10)
    assert left.participant_left.user_id == b.user_id and left.participant_left.reason == "timeout"
    await sa.send(pb.SignalRequest(host_action=pb.HostActionRequest(action=pb.HOST_ACTION_TYPE_END_ROOM)))
    await sa.expect("room_ended")
    assert await sa.wait_closed() is None

    consumer = AIOKafkaConsumer(
        f"{stack.prefix}{MEDIA_SIGNAL_ROOM}", bootstrap_servers=stack.kafka, auto_offset_reset="earliest"
    )
    await consumer.start()
    seen: dict[str, list] = {}
    try:

        async def collect() -> None:
            while "parta.media_signal.v1.RoomEnded" not in seen:
                async for record in consumer:
                    envelope = parse_envelope(record.value)
                    if envelope.aggregate_id == room.room_id:
                        seen.setdefault(envelope.event_type, []).append(envelope)
                    if envelope.event_type.endswith("RoomEnded"):
                        return

        await asyncio.wait_for(collect(), 20)
    finally:
        await consumer.stop()
    left_events = []
    for envelope in seen.get("parta.media_signal.v1.ParticipantLeft", []):
        msg = ev.ParticipantLeft()
        envelope.payload.Unpack(msg)
        left_events.append((msg.user_id, msg.reason))
    assert (b.user_id, "timeout") in left_events
    ended = ev.RoomEnded()
    seen["parta.media_signal.v1.RoomEnded"][0].payload.Unpack(ended)
    attendance = {r.user_id: r for r in ended.attendance}
    assert set(attendance) == {a.user_id, b.user_id}
    assert attendance[b.user_id].last_left_at.seconds > 0
    assert "parta.media_signal.v1.RoomStarted" in seen and "parta.media_signal.v1.ParticipantJoined" in seen


async def test_second_replica_refuses_a_room_it_does_not_own(stack: MediaStack) -> None:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    _, a, b, room = await _call(stack)
    sa = await a.signal(room_id=room.room_id)
    await sa.expect("joined")
    other = await stack.start_replica("media_signal_2")
    b2 = stack.user(b.user_id, address=other)
    grant = await b2.join_token(room.room_id)  # any replica issues grants; they name the owner
    assert grant.signal_address == stack.address
    client = await b2.signal(grant.token)
    error = await client.wait_closed()
    assert error is not None and error.code() == grpc.StatusCode.FAILED_PRECONDITION
    status = rpc_status.from_call(error)
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    assert info.reason == "ROOM_PINNED_ELSEWHERE" and info.metadata["owner_address"] == stack.address
    # The owner still serves it.
    sb = await b.signal(grant.token)
    await sb.expect("joined")
    await sa.close()
    await sb.close()


async def test_draining_replica_tells_its_streams_and_hands_the_room_over(stack: MediaStack) -> None:
    import signal

    from tests.e2e.media_signal_support import error_reason

    _, a, b, room = await _call(stack)
    other = await stack.start_replica("media_signal_drain")
    a2, b2 = stack.user(a.user_id, address=other), stack.user(b.user_id, address=other)
    sa = await a2.signal(room_id=room.room_id)  # the first join pins the room to this replica
    await sa.expect("joined")
    sb = await b2.signal(room_id=room.room_id)
    await sb.expect("joined")

    process = stack.stack.services["media_signal_drain"].process
    process.send_signal(signal.SIGTERM)
    for client in (sa, sb):
        error = await client.wait_closed()
        assert error is not None and error.code() == grpc.StatusCode.UNAVAILABLE, error
        assert error_reason(error) == "REPLICA_DRAINING"
    # The drained replica released the room's lease: the reconnect lands on the other replica
    # at once (without the release it would be refused ROOM_PINNED_ELSEWHERE for 30 s).
    again = await a.signal(room_id=room.room_id)
    await again.expect("joined", timeout=5)
    await asyncio.to_thread(process.wait, 20)
    assert process.returncode == 0
    await again.close()
