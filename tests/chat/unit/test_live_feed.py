"""A subscription's resume on in-memory ports (app/live.py): history after the client's cursor,
the live marker, then live updates without duplicates; quiet hours hold a message from its peer."""

from __future__ import annotations

import asyncio

from chat.app.live import ChatRemoved, ChatState, GapFill, LiveFeed, LiveHub, LiveMarker, MessageState
from chat.pb import PbLiveEncoder

from tests.chat.unit.fakes import Fakes
from tests.chat.unit.test_messages import CLASS, fakes  # noqa: F401 (fixture)


def _feed(f: Fakes) -> tuple[LiveFeed, LiveHub]:
    encoder = PbLiveEncoder()
    hub = LiveHub(GapFill(f.chats, f.messages, encoder), gap_wait=0.01)
    return LiveFeed(hub, f.members, f.chats, f.messages, f.clock, queue_limit=100), hub


async def test_resume_sends_what_was_missed_then_live_without_duplicates(fakes: Fakes) -> None:  # noqa: F811
    sent = [(await fakes.app.messages.send_message("ann", CLASS, f"c-{i}", f"m{i}")).message for i in range(3)]
    feed, hub = _feed(fakes)
    stream = feed.subscribe("bob", [(CLASS, 1), ("cls-gone", 4)])
    first = [await anext(stream) for _ in range(4)]
    assert first == [ChatRemoved("cls-gone"), MessageState(sent[1]), MessageState(sent[2]), LiveMarker()]
    encoder = PbLiveEncoder()
    hub.publish(encoder.message(sent[2]))  # a duplicate of what history sent
    later = (await fakes.app.messages.send_message("ann", CLASS, "c-9", "live")).message
    hub.publish(encoder.message(later))
    update = await asyncio.wait_for(anext(stream), 1)
    assert (update.update_seq, update.event.message.text) == (later.update_seq, "live")
    await stream.aclose()
    assert hub.subscriber_count == 0


async def test_a_chat_the_client_does_not_know_starts_with_its_snapshot(fakes: Fakes) -> None:  # noqa: F811
    await fakes.app.messages.send_message("ann", CLASS, "c-1", "m1")
    feed, _hub = _feed(fakes)
    stream = feed.subscribe("bob", [])
    snapshot = await anext(stream)
    assert isinstance(snapshot, ChatState) and (snapshot.chat.chat_id, snapshot.update_seq) == (CLASS, 1)
    assert await anext(stream) == LiveMarker()
    await stream.aclose()
