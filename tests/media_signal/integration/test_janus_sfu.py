"""The Janus adapter against the real local Janus: rooms, publishing, refused SDP, feeds not ready."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection
from media_signal.adapters.janus import JanusSfu
from media_signal.app.hub import SfuFeedNotReady
from parta_common.errors import InvalidArgument

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import media  # noqa: E402

from tests.e2e.media_signal_support import synthetic_video  # noqa: E402


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
