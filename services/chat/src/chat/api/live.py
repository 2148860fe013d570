"""Live delivery: one Kafka reader per replica feeds a hub that orders each chat's updates and fans
them out to this replica's subscribers.

Why no consumer group: every replica needs every partition (its subscribers may be in any chat),
and manual assignment avoids the group-join delay. Reading starts at the end of each partition when
the replica starts; anything older is served from MongoDB by the subscriber's resume step.

Ordering: update_seq comes from a per-chat counter before the write, and two replicas' relays may
publish out of order. The hub keeps, per chat, the next update_seq it expects; a later one waits in a
small buffer while the hub looks the missing ones up in MongoDB (they are usually written already),
and after `gap_wait` declares them burned (a failed write: gaps are allowed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from parta.chat.v1 import chat_pb2, events_pb2
from parta_common.events.envelope import MalformedEvent, parse_envelope
from parta_common.events.revocations import start_assigned_reader

log = structlog.get_logger("chat.live")

GapFill = Callable[[str, int, int], Awaitable[list[chat_pb2.ChatEvent]]]


class SubscriberOverflow(Exception):
    pass


class Update:
    """One live update as every subscriber of this replica receives it: the hub makes one per event
    and the stream's serializer encodes it once, on first use, for all of them (a 1,000-member
    channel costs one SerializeToString, not 1,000)."""

    __slots__ = ("_data", "event")

    def __init__(self, event: chat_pb2.ChatEvent):
        self.event = event
        self._data: bytes | None = None

    def data(self) -> bytes:
        if self._data is None:
            self._data = self.event.SerializeToString()
        return self._data


def encode_stream_item(item: Update | chat_pb2.ChatEvent) -> bytes:
    """Subscribe's response serializer: live updates are shared, history events are the stream's own."""
    return item.data() if isinstance(item, Update) else item.SerializeToString()


@dataclass(eq=False)
class Subscriber:
    user_id: str
    limit: int
    queue: asyncio.Queue[Update] = field(init=False)
    overflowed: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    chats: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.limit)

    def offer(self, update: Update) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(update)
        except asyncio.QueueFull:
            # A slow client must not hold the hub (and every other subscriber) back: drop it and
            # let it resync from its cursor.
            self.overflowed = True
            self.wake.set()

    async def next(self) -> Update:
        if self.overflowed:
            raise SubscriberOverflow
        if not self.queue.empty():
            return self.queue.get_nowait()
        getter = asyncio.ensure_future(self.queue.get())
        waker = asyncio.ensure_future(self.wake.wait())
        try:
            await asyncio.wait({getter, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
        if getter.done():
            return getter.result()
        getter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await getter
        raise SubscriberOverflow


@dataclass
class _ChatOrder:
    expected: int = 0  # next update_seq to deliver; 0 = not known yet
    pending: dict[int, chat_pb2.ChatEvent] = field(default_factory=dict)
    resolving: bool = False


class LiveHub:
    def __init__(self, gap_fill: GapFill, *, gap_wait: float = 0.04):
        self._gap_fill = gap_fill
        self._gap_wait = gap_wait
        self._by_chat: dict[str, set[Subscriber]] = {}
        self._by_user: dict[str, set[Subscriber]] = {}
        self._order: dict[str, _ChatOrder] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._by_user.values())

    def register(self, user_id: str, limit: int) -> Subscriber:
        sub = Subscriber(user_id, limit)
        self._by_user.setdefault(user_id, set()).add(sub)
        return sub

    def follow(self, sub: Subscriber, chat_id: str, cursor: int | None = None) -> None:
        """`cursor`: the subscriber's position in the chat, when known. A chat the hub has not seen
        yet starts right after it, so earlier numbers published late are awaited, not skipped."""
        sub.chats.add(chat_id)
        self._by_chat.setdefault(chat_id, set()).add(sub)
        if cursor is not None:
            self.set_floor(chat_id, cursor)

    def set_floor(self, chat_id: str, cursor: int) -> None:
        order = self._order.get(chat_id)
        if order is None:
            self._order[chat_id] = _ChatOrder(expected=cursor + 1)
        elif order.expected == 0:
            order.expected = cursor + 1

    def unfollow(self, sub: Subscriber, chat_id: str) -> None:
        sub.chats.discard(chat_id)
        subs = self._by_chat.get(chat_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_chat[chat_id]

    def unregister(self, sub: Subscriber) -> None:
        for chat_id in list(sub.chats):
            self.unfollow(sub, chat_id)
        users = self._by_user.get(sub.user_id)
        if users is not None:
            users.discard(sub)
            if not users:
                del self._by_user[sub.user_id]

    def publish(self, event: chat_pb2.ChatEvent) -> None:
        kind = event.WhichOneof("event")
        if kind in ("member_added", "member_removed"):
            user_id = getattr(event, kind).user_id
            update = Update(event)
            for sub in list(self._by_user.get(user_id, ())):
                sub.offer(update)
            for sub in list(self._by_chat.get(event.chat_id, ())):
                if sub.user_id != user_id:
                    sub.offer(update)
            return
        if kind == "read":
            # A read position is its owner's (their other devices); authors see counts through
            # GetReadCount ("23 of 27 read"), never who read how far.
            update = Update(event)
            for sub in list(self._by_user.get(event.read.user_id, ())):
                if event.chat_id in sub.chats:
                    sub.offer(update)
            return
        if event.update_seq == 0:
            self._deliver(event)
            return
        order = self._order.setdefault(event.chat_id, _ChatOrder())
        seq = event.update_seq
        if order.expected == 0 or seq == order.expected:
            # Unknown chat (nobody here follows it with a cursor): start at the first number seen.
            self._deliver(event)
            order.expected = seq + 1
            self._flush(order)
        elif seq < order.expected:
            self._deliver(event)  # late (after a gap was declared): subscribers drop what they have
        else:
            order.pending[seq] = event
            if not order.resolving:
                order.resolving = True
                task = asyncio.create_task(self._resolve(event.chat_id, order))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _flush(self, order: _ChatOrder) -> None:
        while order.expected in order.pending:
            event = order.pending.pop(order.expected)
            self._deliver(event)
            order.expected += 1

    async def _resolve(self, chat_id: str, order: _ChatOrder) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._gap_wait
        try:
            progress = order.expected
            while order.pending and min(order.pending) > order.expected:
                if order.expected != progress:  # each new hole gets its own wait
                    progress, deadline = order.expected, loop.time() + self._gap_wait
                lowest = min(order.pending)
                try:
                    found = await self._gap_fill(chat_id, order.expected - 1, lowest)
                except Exception as exc:
                    log.warning("gap_fill_failed", chat_id=chat_id, error=type(exc).__name__)
                    found = []
                for event in found:
                    if event.update_seq >= order.expected:
                        order.pending.setdefault(event.update_seq, event)
                self._flush(order)
                if order.pending and min(order.pending) > order.expected:
                    if loop.time() >= deadline:
                        order.expected = min(order.pending)
                        self._flush(order)
                    else:
                        await asyncio.sleep(min(0.005, self._gap_wait))
        finally:
            order.resolving = False

    def _deliver(self, event: chat_pb2.ChatEvent) -> None:
        if event.WhichOneof("event") is None:
            return  # a burned sequence number: nothing to deliver
        subs = self._by_chat.get(event.chat_id)
        if not subs:
            return
        update = Update(event)
        for sub in list(subs):
            sub.offer(update)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()


def to_chat_event(envelope_type: str, payload: bytes) -> chat_pb2.ChatEvent | None:
    """A chat topic record → the update subscribers see (None for types this version ignores)."""
    name = envelope_type.rsplit(".", 1)[-1]
    if name in ("MessagePosted", "MessageEdited", "MessageDeleted", "MessageChanged"):
        msg = getattr(events_pb2, name).FromString(payload).message
        return chat_pb2.ChatEvent(chat_id=msg.chat_id, update_seq=msg.update_seq, message=msg)
    if name in ("ChatCreated", "ChatUpdated"):
        chat = getattr(events_pb2, name).FromString(payload).chat
        return chat_pb2.ChatEvent(chat_id=chat.chat_id, update_seq=chat.update_seq, chat=chat)
    if name == "ReadUpdated":
        read = events_pb2.ReadUpdated.FromString(payload)
        return chat_pb2.ChatEvent(chat_id=read.chat_id, read=read)
    if name == "MemberAdded":
        added = events_pb2.MemberAdded.FromString(payload)
        return chat_pb2.ChatEvent(chat_id=added.chat_id, member_added=added)
    if name == "MemberRemoved":
        removed = events_pb2.MemberRemoved.FromString(payload)
        return chat_pb2.ChatEvent(chat_id=removed.chat_id, member_removed=removed)
    return None


class LiveReader:
    """Reads every partition of the chat topic from its end and publishes to the hub (a Worker)."""

    def __init__(self, bootstrap: str, topic: str, hub: LiveHub, *, partitions: int = 3, client_id: str = "chat-live"):
        self._bootstrap = bootstrap
        self._topic = topic
        self._hub = hub
        self._partitions = partitions
        self._client_id = client_id
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def _ensure_topic(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        await admin.start()
        try:
            existing = await admin.list_topics()
            if self._topic not in existing:
                with contextlib.suppress(Exception):  # created meanwhile by another replica or the relay
                    await admin.create_topics([NewTopic(self._topic, self._partitions, 1)])
        finally:
            await admin.close()

    async def start(self) -> None:
        # Position at the end of every partition before the server takes calls, so nothing published
        # after start-up is skipped. If Kafka is down, start anyway and keep trying in the background
        # (subscribers then get history from MongoDB and live updates once Kafka is back).
        try:
            await asyncio.wait_for(self._connect(), timeout=15)
        except Exception as exc:
            log.warning("live_reader_start_deferred", error=type(exc).__name__)
        self._task = asyncio.create_task(self._run(), name="chat-live-reader")

    async def _connect(self) -> None:
        await self._ensure_topic()
        consumer, tps = await start_assigned_reader(self._bootstrap, self._topic, self._client_id)
        try:
            await consumer.seek_to_end(*tps)
            for tp in tps:
                await consumer.position(tp)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer

    async def _run(self) -> None:
        backoff = 0.5
        while self._consumer is None and not self._stopping:
            try:
                await self._connect()
            except Exception as exc:
                log.warning("live_reader_connect_failed", error=type(exc).__name__, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        assert self._consumer is not None
        while not self._stopping:
            try:
                batch = await self._consumer.getmany(timeout_ms=200, max_records=500)
            except Exception as exc:
                log.warning("live_fetch_failed", error=type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            for records in batch.values():
                for record in records:
                    try:
                        envelope = parse_envelope(record.value)
                        event = to_chat_event(envelope.event_type, envelope.payload.value)
                    except (MalformedEvent, ValueError) as exc:
                        log.warning("live_record_skipped", error=type(exc).__name__, offset=record.offset)
                        continue
                    if event is not None:
                        self._hub.publish(event)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
        await self._hub.close()
