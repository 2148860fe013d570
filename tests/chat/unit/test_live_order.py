"""The live hub orders each chat's updates (sequence numbers may be published out of order by
different replicas), fills holes from the store, skips burned sequence numbers, and drops a slow
subscriber instead of blocking the others."""

from __future__ import annotations

import asyncio

import pytest
from chat.app.live import LiveHub as AppHub
from chat.app.live import SubscriberOverflow
from chat.pb import Update, encode_stream_item
from parta.chat.v1 import chat_pb2, events_pb2


class LiveHub(AppHub):
    """app/live.py's hub fed as the Kafka reader and the gap fill feed it: each protobuf event
    wrapped in the transport's live update (chat/pb.py)."""

    def __init__(self, gap_fill, **kw):  # type: ignore[no-untyped-def]
        async def fill(chat: str, low: int, high: int) -> list[Update]:
            return [Update(e) for e in await gap_fill(chat, low, high)]

        super().__init__(fill, **kw)

    def publish(self, event) -> None:  # type: ignore[no-untyped-def, override]
        super().publish(event if isinstance(event, Update) else Update(event))


def msg(chat: str, seq: int) -> chat_pb2.ChatEvent:
    return chat_pb2.ChatEvent(chat_id=chat, update_seq=seq, message=events_pb2.MessageSnapshot(chat_id=chat, seq=seq))


def drain(sub) -> list[int]:  # type: ignore[no-untyped-def]
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait().event.update_seq)
    return out


async def test_out_of_order_is_reordered_when_the_missing_one_arrives() -> None:
    async def nothing(chat: str, low: int, high: int) -> list[chat_pb2.ChatEvent]:
        return []

    hub = LiveHub(nothing, gap_wait=1.0)
    sub = hub.register("u", 100)
    hub.follow(sub, "c")
    for seq in (1, 3, 4, 2, 5):
        hub.publish(msg("c", seq))
    assert drain(sub) == [1, 2, 3, 4, 5]


async def test_holes_are_filled_from_the_store() -> None:
    store = {2: msg("c", 2)}
    asked = []

    async def fill(chat: str, low: int, high: int) -> list[chat_pb2.ChatEvent]:
        asked.append((low, high))
        return [e for s, e in store.items() if low < s < high]

    hub = LiveHub(fill, gap_wait=0.5)
    sub = hub.register("u", 100)
    hub.follow(sub, "c")
    hub.publish(msg("c", 1))
    hub.publish(msg("c", 3))
    await asyncio.sleep(0.05)
    assert drain(sub) == [1, 2, 3] and asked == [(1, 3)]


async def test_burned_sequence_numbers_are_skipped_after_the_wait() -> None:
    async def nothing(chat: str, low: int, high: int) -> list[chat_pb2.ChatEvent]:
        return []

    hub = LiveHub(nothing, gap_wait=0.05)
    sub = hub.register("u", 100)
    hub.follow(sub, "c")
    hub.publish(msg("c", 1))
    hub.publish(msg("c", 3))
    assert drain(sub) == [1]
    await asyncio.sleep(0.15)
    hub.publish(msg("c", 4))
    assert drain(sub) == [3, 4]


async def test_other_chats_are_not_held_back_by_a_hole() -> None:
    async def slow(chat: str, low: int, high: int) -> list[chat_pb2.ChatEvent]:
        await asyncio.sleep(10)
        return []

    hub = LiveHub(slow, gap_wait=5)
    sub = hub.register("u", 100)
    hub.follow(sub, "a")
    hub.follow(sub, "b")
    hub.publish(msg("a", 1))
    hub.publish(msg("a", 3))
    hub.publish(msg("b", 7))
    hub.publish(msg("b", 8))
    assert drain(sub) == [1, 7, 8]
    await hub.close()


async def test_a_slow_subscriber_overflows_alone() -> None:
    async def nothing(chat: str, low: int, high: int) -> list[chat_pb2.ChatEvent]:
        return []

    hub = LiveHub(nothing)
    slow, fast = hub.register("slow", 3), hub.register("fast", 100)
    for sub in (slow, fast):
        hub.follow(sub, "c")
    for seq in range(1, 11):
        hub.publish(msg("c", seq))
        if not fast.queue.empty():
            fast.queue.get_nowait()
    assert slow.overflowed and not fast.overflowed
    with pytest.raises(SubscriberOverflow):
        await slow.next()
    hub.unregister(slow)
    assert hub.subscriber_count == 1


async def test_a_read_position_goes_only_to_its_owners_streams() -> None:
    async def nothing(chat: str, low: int, high: int) -> list[chat_pb2.ChatEvent]:
        return []

    hub = LiveHub(nothing)
    ann_phone, ann_laptop, bob, ann_elsewhere = (
        hub.register("ann", 10),
        hub.register("ann", 10),
        hub.register("bob", 10),
        hub.register("ann", 10),
    )
    for sub in (ann_phone, ann_laptop, bob):
        hub.follow(sub, "c")
    hub.follow(ann_elsewhere, "other")
    hub.publish(
        chat_pb2.ChatEvent(chat_id="c", read=events_pb2.ReadUpdated(chat_id="c", user_id="ann", last_read_seq=7))
    )
    assert [s.queue.qsize() for s in (ann_phone, ann_laptop, bob, ann_elsewhere)] == [1, 1, 0, 0]
    assert ann_phone.queue.get_nowait().event.read.last_read_seq == 7


async def test_a_poll_vote_signal_goes_only_to_the_polls_authors_streams_of_that_chat() -> None:
    async def nothing(chat: str, low: int, high: int) -> list[chat_pb2.ChatEvent]:
        return []

    hub = LiveHub(nothing)
    tom_phone, tom_laptop, ann, tom_elsewhere = (
        hub.register("tom", 10),
        hub.register("tom", 10),
        hub.register("ann", 10),
        hub.register("tom", 10),
    )
    for sub in (tom_phone, tom_laptop, ann):
        hub.follow(sub, "c")
    hub.follow(tom_elsewhere, "other")
    progress = events_pb2.PollProgress(chat_id="c", poll_id="m1", seq=4, author_user_id="tom")
    hub.publish(chat_pb2.ChatEvent(chat_id="c", poll_progress=progress))
    assert [s.queue.qsize() for s in (tom_phone, tom_laptop, ann, tom_elsewhere)] == [1, 1, 0, 0]
    assert tom_laptop.queue.get_nowait().event.poll_progress.seq == 4


async def test_a_channel_update_is_encoded_once_for_all_its_subscribers() -> None:
    async def never(chat: str, low: int, high: int) -> list[chat_pb2.ChatEvent]:
        raise AssertionError("an in-order update needs no store lookup")

    hub = LiveHub(never)
    subs = [hub.register(f"u{i}", 10) for i in range(1000)]
    for sub in subs:
        hub.follow(sub, "sch", cursor=0)
    hub.publish(msg("sch", 1))
    updates = [sub.queue.get_nowait() for sub in subs]
    assert len({id(u) for u in updates}) == 1  # one shared update, not 1,000 copies
    encoded = {id(encode_stream_item(u)) for u in updates}
    assert len(encoded) == 1  # and one SerializeToString for the replica
    assert chat_pb2.ChatEvent.FromString(encode_stream_item(updates[0])) == msg("sch", 1)
    # History events are the stream's own and are encoded as they are.
    assert encode_stream_item(msg("sch", 2)) == msg("sch", 2).SerializeToString()
