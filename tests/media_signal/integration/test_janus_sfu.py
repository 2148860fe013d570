"""The Janus adapter against the real local Janus: rooms, publishing, refused SDP, feeds not ready."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from media_signal.adapters.janus import JanusSfu
from media_signal.app.ports import SfuFeedNotReady
from parta_common.errors import InvalidArgument

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import media  # noqa: E402

from tests.e2e.media_signal_support import FrameCounter, synthetic_audio, synthetic_video  # noqa: E402


@pytest.fixture
async def sfu():
    media.COMPONENTS["janus"].up()
    adapter = JanusSfu(media.janus_url())
    try:
        yield adapter
    finally:
        await adapter.close()


async def test_publish_answers_and_feed_waits_for_media(sfu: JanusSfu) -> None:
    assert await sfu.ready()
    room = await sfu.create_room(str(uuid.uuid4()), 4)
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver(synthetic_video(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        published = await sfu.publish(room, "teacher", pc.localDescription.sdp)
        assert published.answer_sdp.startswith("v=0") and published.feed_id > 0
        # Until the publisher's PeerConnection is up, Janus has no feed to subscribe to.
        with pytest.raises(SfuFeedNotReady):
            await sfu.subscribe(room, published.feed_id)
        await sfu.detach(published.handle)
    finally:
        await pc.close()
        await sfu.destroy_room(room)


async def test_garbage_sdp_is_invalid_argument(sfu: JanusSfu) -> None:
    room = await sfu.create_room(str(uuid.uuid4()), 4)
    try:
        with pytest.raises(InvalidArgument):
            await sfu.publish(room, "x", "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\ngarbage\r\n")
    finally:
        await sfu.destroy_room(room)


async def _frames_after(counter: FrameCounter, kind: str, seconds: float) -> int:
    before = counter.frames[kind]
    await asyncio.sleep(seconds)
    return counter.frames[kind] - before


async def test_host_mute_is_enforced_in_janus(sfu: JanusSfu) -> None:
    """VideoRoom "moderate": the publisher keeps sending, Janus stops relaying its audio."""
    room = await sfu.create_room(str(uuid.uuid4()), 4)
    publisher, subscriber = RTCPeerConnection(), RTCPeerConnection()
    counter = FrameCounter()
    try:
        publisher.addTransceiver(synthetic_audio(), direction="sendonly")
        publisher.addTransceiver(synthetic_video(), direction="sendonly")
        await publisher.setLocalDescription(await publisher.createOffer())
        published = await sfu.publish(room, "student", publisher.localDescription.sdp)
        assert published.mids.get("audio") and published.mids.get("video")
        await publisher.setRemoteDescription(RTCSessionDescription(published.answer_sdp, "answer"))
        for _ in range(100):  # the feed exists once the publisher's PeerConnection is up
            try:
                sub = await sfu.subscribe(room, published.feed_id)
                break
            except SfuFeedNotReady:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("the publisher's feed never came up")
        subscriber.on("track", counter.attach)
        await subscriber.setRemoteDescription(RTCSessionDescription(sub.offer_sdp, "offer"))
        await subscriber.setLocalDescription(await subscriber.createAnswer())
        await sfu.start(sub.handle, subscriber.localDescription.sdp)
        assert await counter.wait_for("audio", 20, 20) >= 20

        await sfu.moderate(room, published.feed_id, published.mids["audio"], True)
        await asyncio.sleep(0.5)  # packets already in flight and the jitter buffer drain
        assert await _frames_after(counter, "audio", 1.5) == 0
        assert await _frames_after(counter, "video", 1.5) > 0  # only the audio was muted

        await sfu.moderate(room, published.feed_id, published.mids["audio"], False)
        assert await counter.wait_for("audio", counter.frames["audio"] + 10, 10) > 0
        assert await _frames_after(counter, "audio", 1.0) > 0
    finally:
        counter.stop()
        await publisher.close()
        await subscriber.close()
        await sfu.destroy_room(room)
