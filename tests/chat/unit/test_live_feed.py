"""A subscription's resume on in-memory ports (app/live.py): history after the client's cursor,
the live marker, then live updates without duplicates; quiet hours hold a message from its peer."""

from __future__ import annotations

import asyncio

from chat.app.live import (
    ChatRemoved,
    ChatState,
    GapFill,
    LiveFeed,
    LiveHub,
    LiveMarker,
    LiveStatus,
    LiveUpdate,
    MessageState,
)
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


def test_every_chat_topic_event_becomes_the_live_update_the_hub_routes_by() -> None:
    """The Kafka reader's decoding (chat/pb.py): what the hub orders and routes by, per event type."""
    from datetime import UTC, datetime

    from chat.app.live import UpdateKind
    from chat.domain import events as ev
    from chat.domain.chats import Chat, ChatKind
    from chat.domain.messages import Message
    from chat.pb import event_payload, live_update

    held = Message("c", "m1", 4, 7, "s1", "pat", "hi", datetime(2026, 9, 1, tzinfo=UTC))
    held.held_for, held.held_until = ["tom"], datetime(2026, 9, 2, 8, tzinfo=UTC)
    cases = [
        (ev.MessagePosted(held), UpdateKind.MESSAGE, 7, ""),
        (ev.MessageDeleted(held, "tom"), UpdateKind.MESSAGE, 7, ""),
        (ev.ChatUpdated(Chat("c", "s1", ChatKind.CLASS, "5A", update_seq=9)), UpdateKind.CHAT, 9, ""),
        (ev.ReadUpdated("c", "ann", 3), UpdateKind.READ, 0, "ann"),
        (ev.MemberAdded("c", "bob"), UpdateKind.MEMBER_ADDED, 0, "bob"),
        (ev.MemberRemoved("c", "bob"), UpdateKind.MEMBER_REMOVED, 0, "bob"),
        (ev.PollVoted("c", 4, "m1", "tom", datetime(2026, 9, 1, tzinfo=UTC)), UpdateKind.POLL, 0, "tom"),
    ]
    for event, kind, seq, user in cases:
        _type, _id, _version, payload = event_payload(event)
        update = live_update(payload.DESCRIPTOR.full_name, payload.SerializeToString())
        assert update is not None and (update.kind, update.chat_id, update.update_seq, update.user_id) == (
            kind,
            "c",
            seq,
            user,
        ), event
    posted = live_update("parta.chat.v1.MessagePosted", event_payload(ev.MessagePosted(held))[3].SerializeToString())
    assert posted is not None and (posted.held_for, posted.held_until) == (("tom",), held.held_until)
    assert live_update("parta.school.v1.ClassCreated", b"") is None  # not a chat event: ignored


# ---- live delivery degraded while the reader cannot reach Kafka -----------------------------------


def test_the_hub_tells_every_subscriber_once_per_change_of_state() -> None:
    async def nothing(chat: str, low: int, high: int) -> list[LiveUpdate]:
        return []

    hub = LiveHub(nothing)
    ann, bob, bob_phone = hub.register("ann", 10), hub.register("bob", 10), hub.register("bob", 10)
    hub.set_degraded(False)  # already live: nothing to say
    hub.set_degraded(True)
    hub.set_degraded(True)  # the reader's watch repeats itself
    assert hub.degraded
    hub.set_degraded(False)
    for sub in (ann, bob, bob_phone):
        assert [sub.queue.get_nowait() for _ in range(sub.queue.qsize())] == [LiveStatus(True), LiveStatus(False)]
    assert not hub.degraded


async def test_degraded_then_live_again_then_what_was_missed_each_once_in_order(fakes: Fakes) -> None:  # noqa: F811
    before = (await fakes.app.messages.send_message("ann", CLASS, "c-0", "before")).message
    feed, hub = _feed(fakes)
    stream = feed.subscribe("bob", [(CLASS, before.update_seq)])
    assert await anext(stream) == LiveMarker()

    hub.set_degraded(True)  # Kafka lost: nothing reaches the hub, sends are still accepted
    assert await asyncio.wait_for(anext(stream), 1) == LiveStatus(True)
    missed = [(await fakes.app.messages.send_message("ann", CLASS, f"c-{i}", f"m{i}")).message for i in (1, 2, 3)]

    hub.set_degraded(False)
    assert await asyncio.wait_for(anext(stream), 1) == LiveStatus(False)
    encoder = PbLiveEncoder()
    # What the reader reads once the broker is back: out of order (two replicas' relays), one of
    # them twice (a relay retried), and one never at all (it is filled in from the store).
    for message in (missed[2], missed[0], missed[2]):
        hub.publish(encoder.message(message))
    got = [await asyncio.wait_for(anext(stream), 1) for _ in missed]
    assert [u.event.message.text for u in got] == ["m1", "m2", "m3"]
    after = (await fakes.app.messages.send_message("ann", CLASS, "c-9", "after")).message
    hub.publish(encoder.message(missed[1]))  # late duplicate: dropped by the cursor
    hub.publish(encoder.message(after))
    assert (await asyncio.wait_for(anext(stream), 1)).event.message.text == "after"
    await stream.aclose()


async def test_a_stream_opened_while_degraded_says_so_after_its_live_marker(fakes: Fakes) -> None:  # noqa: F811
    await fakes.app.messages.send_message("ann", CLASS, "c-1", "m1")
    feed, hub = _feed(fakes)
    hub.set_degraded(True)
    stream = feed.subscribe("bob", [(CLASS, 0)])
    assert isinstance(await anext(stream), MessageState)  # history comes from the store regardless
    assert await anext(stream) == LiveMarker()
    assert await anext(stream) == LiveStatus(True)
    hub.set_degraded(False)
    hub.set_degraded(True)
    assert [await asyncio.wait_for(anext(stream), 1) for _ in range(2)] == [LiveStatus(False), LiveStatus(True)]
    await stream.aclose()


def test_a_read_position_reaches_each_of_its_owners_streams_once_and_never_backwards() -> None:
    """Read updates carry no update_seq and the outbox relays at least once (two replicas may relay
    the same one): the hub drops repeats and stale positions per stream."""
    from chat.domain import events as ev
    from chat.pb import event_payload, live_update

    def read(user: str, seq: int) -> LiveUpdate:
        payload = event_payload(ev.ReadUpdated("c", user, seq))[3]
        update = live_update(payload.DESCRIPTOR.full_name, payload.SerializeToString())
        assert update is not None
        return update

    async def nothing(chat: str, low: int, high: int) -> list[LiveUpdate]:
        return []

    hub = LiveHub(nothing)
    bob, bob_phone, ann = hub.register("bob", 10), hub.register("bob", 10), hub.register("ann", 10)
    for sub in (bob, bob_phone, ann):
        hub.follow(sub, "c")
    for update in (read("bob", 3), read("bob", 3), read("bob", 2), read("bob", 5), read("bob", 5)):
        hub.publish(update)
    for sub in (bob, bob_phone):
        assert [sub.queue.get_nowait().read_seq for _ in range(sub.queue.qsize())] == [3, 5]  # type: ignore[union-attr]
    assert ann.queue.empty()  # someone else's position never reaches her
