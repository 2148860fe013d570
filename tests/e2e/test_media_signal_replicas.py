"""EndRoom across signalling replicas, two media-signal processes: a lesson pinned to replica A
(teacher publishing through Janus, a student connected), the host ends it on replica B; the
student's stream on A gets room_ended and closes cleanly, and the Janus room is destroyed. And
when A is SIGKILLed with the Janus room open, the host's EndRoom on B still destroys it (from the
number the room document recorded)."""

from __future__ import annotations

import time
import uuid
import zlib
from typing import Any

import aiohttp
import grpc
import pytest
from parta.media_signal.v1 import events_pb2 as ev
from parta.media_signal.v1 import media_signal_pb2 as pb

from tests.e2e.media_signal_support import MediaStack, error_reason, media


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):
    async with MediaStack(mongo_uri, kafka_bootstrap, keepalive=5.0) as s:
        yield s


async def janus_room_exists(number: int) -> bool:
    """Asks Janus's VideoRoom directly (its own session), independent of the service's adapter."""
    url = media.janus_url().rstrip("/")

    async def post(http: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with http.post(url + path, json={**body, "transaction": uuid.uuid4().hex}) as resp:
            reply: dict[str, Any] = await resp.json(content_type=None)
            return reply

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        session = (await post(http, "", {"janus": "create"}))["data"]["id"]
        try:
            attached = await post(http, f"/{session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"})
            handle = attached["data"]["id"]
            reply = await post(
                http, f"/{session}/{handle}", {"janus": "message", "body": {"request": "exists", "room": number}}
            )
            return bool(reply["plugindata"]["data"]["exists"])
        finally:
            await post(http, f"/{session}", {"janus": "destroy"})


async def test_end_room_on_another_replica_reaches_the_owners_streams_and_janus(stack: MediaStack) -> None:
    from aiortc import RTCPeerConnection

    from tests.e2e.media_signal_support import synthetic_video

    teacher_id, student_id = f"teacher-{uuid.uuid4().hex[:6]}", f"student-{uuid.uuid4().hex[:6]}"
    school = await stack.school([(teacher_id, "teacher", "subject_teacher"), (student_id, "student", "student")])
    other = await stack.start_replica("media_signal_b")
    teacher, student = stack.user(teacher_id), stack.user(student_id)
    room = await teacher.create_room(school, ev.ROOM_KIND_LESSON, title="История 5А", start_now=True)

    # Both connect to A (the first join pins the room there); the teacher publishes, which opens
    # the lesson's Janus room (its number is the CRC-32 of the room id, the adapter's first pick).
    st = await teacher.signal(room_id=room.room_id)
    await st.expect("joined")
    ss = await student.signal(room_id=room.room_id)
    await ss.expect("joined")
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver(synthetic_video(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        await st.send(pb.SignalRequest(request_id="pub", offer=pb.SessionDescription(sdp=pc.localDescription.sdp)))
        await st.expect("answer", timeout=20)
    finally:
        await pc.close()
    janus_room = zlib.crc32(room.room_id.encode()) or 1
    assert await janus_room_exists(janus_room)

    # The host ends it on B, which does not hold the room: B forwards the call to A.
    teacher_b = stack.user(teacher_id, address=other)
    student_b = stack.user(student_id, address=other)
    with pytest.raises(grpc.aio.AioRpcError) as refused:  # only the host, on any replica
        await student_b.rooms.EndRoom(pb.EndRoomRequest(room_id=room.room_id), metadata=student_b.metadata)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    started = time.monotonic()
    ended = await teacher_b.rooms.EndRoom(
        pb.EndRoomRequest(room_id=room.room_id), metadata=teacher_b.metadata, timeout=10
    )
    assert ended.room.state == pb.ROOM_STATE_ENDED
    for client in (ss, st):
        assert (await client.expect("room_ended", timeout=5)).room_ended.reason == "ended_by_host"
        assert await client.wait_closed(timeout=5) is None  # a clean end, not an error
    told_after = time.monotonic() - started
    assert told_after < 3, told_after  # the owner acted at once, not at its next lease renewal
    assert not await janus_room_exists(janus_room)

    # Ending an ended room is OK on either replica; joining it is refused.
    for user in (teacher_b, teacher):
        again = await user.rooms.EndRoom(pb.EndRoomRequest(room_id=room.room_id), metadata=user.metadata)
        assert again.room.state == pb.ROOM_STATE_ENDED
    with pytest.raises(grpc.aio.AioRpcError) as late:
        await student.join_token(room.room_id)
    assert late.value.code() == grpc.StatusCode.FAILED_PRECONDITION, error_reason(late.value)


async def test_janus_room_of_a_killed_owner_is_destroyed_when_the_host_ends_the_room_elsewhere(
    stack: MediaStack, mongo_uri: str
) -> None:
    """The owner replica is SIGKILLed while its lesson's Janus room is open: nobody ends it there.
    The host's EndRoom on the other replica cannot be forwarded (the owner is gone), ends the room
    in the store, and destroys the Janus room the room document recorded."""
    from aiortc import RTCPeerConnection
    from pymongo import AsyncMongoClient

    from tests.e2e.media_signal_support import synthetic_video

    teacher_id, student_id = f"teacher-{uuid.uuid4().hex[:6]}", f"student-{uuid.uuid4().hex[:6]}"
    school = await stack.school([(teacher_id, "teacher", "subject_teacher"), (student_id, "student", "student")])
    other = await stack.start_replica("media_signal_b")
    teacher = stack.user(teacher_id)
    room = await teacher.create_room(school, ev.ROOM_KIND_LESSON, title="Физика 5А", start_now=True)

    st = await teacher.signal(room_id=room.room_id)
    await st.expect("joined")
    ss = await stack.user(student_id).signal(room_id=room.room_id)
    await ss.expect("joined")
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver(synthetic_video(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        await st.send(pb.SignalRequest(request_id="pub", offer=pb.SessionDescription(sdp=pc.localDescription.sdp)))
        await st.expect("answer", timeout=20)
    finally:
        await pc.close()

    # The room document names the Janus room (and the Janus) — that is all another replica has.
    owner = stack.stack.services["media_signal"]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        doc = await client[owner.env["MEDIA_SIGNAL_MONGODB_DATABASE"]]["rooms"].find_one({"_id": room.room_id})
    finally:
        await client.close()
    assert doc is not None and doc["sfu"]["instance"] == media.janus_url().rstrip("/")
    janus_room = int(doc["sfu"]["room"])
    assert await janus_room_exists(janus_room)

    owner.process.kill()  # SIGKILL: no drain, no lease release, no Janus destroy
    owner.process.wait()
    for client_stream in (st, ss):
        await client_stream.close()
    assert await janus_room_exists(janus_room)  # lingering, as before this fix

    teacher_b = stack.user(teacher_id, address=other)
    started = time.monotonic()
    ended = await teacher_b.rooms.EndRoom(
        pb.EndRoomRequest(room_id=room.room_id), metadata=teacher_b.metadata, timeout=10
    )
    took = time.monotonic() - started
    assert ended.room.state == pb.ROOM_STATE_ENDED
    assert not await janus_room_exists(janus_room)
    assert took < 6, took  # the forward fails fast (connection refused), well inside its 5 s deadline
    print(f"EndRoom with the owner killed (store fallback + Janus destroy): {took * 1000:.0f} ms")
    # Nothing is checked after this: B's graceful stop would only wait ~5 s for its Kafka consumer
    # group to give up on the killed A, so B goes the same way (its own run's group and database).
    stack.stack.services["media_signal_b"].process.kill()
