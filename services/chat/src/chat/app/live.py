"""Live delivery: the hub orders each chat's updates and fans them out to this replica's
subscribers; a subscription resumes from the client's cursors and switches to live without a gap.

Updates come from a LiveSource adapter (the Kafka reader: every replica reads every partition of
the chat topic from its end). update_seq comes from a per-chat counter before the write, and two
replicas' relays may publish out of order: the hub keeps, per chat, the next update_seq it
expects; a later one waits in a small buffer while GapFill looks the missing ones up in the store
(they are usually written already), and after `gap_wait` declares them burned (a failed write:
gaps are allowed).

An update is opaque here beyond the few fields ordering and routing read: the transport encodes
it once for every subscriber of the replica (api's Subscribe serializer).

While the source cannot reach Kafka (the adapter decides: no broker round trip within a bound),
the hub is *degraded*: every open subscription gets a LiveStatus(degraded=True), and a new one gets
it right after its live marker; when the source hears Kafka again, LiveStatus(degraded=False), and
the updates published meanwhile follow through the normal path (ordered, holes filled from the
store, each once: subscriptions drop what their cursor already covers). There is no same-replica
shortcut from the send path: see docs/chat.md ("Live delivery while Kafka is down").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Protocol

import structlog
from parta_common.clock import Clock
from parta_common.errors import Aborted, Violations

from chat.app.ports import ChatRepository, MemberRepository, MessageRepository
from chat.domain import rules
from chat.domain.chats import Chat
from chat.domain.messages import Message, held_from

log = structlog.get_logger("chat.live")

MAX_CURSORS = 2000
HISTORY_BATCH = 500


class UpdateKind(IntEnum):
    BURNED = 0  # an update_seq that carries nothing (a failed write): skipped, never delivered
    MESSAGE = 1
    CHAT = 2
    READ = 3
    MEMBER_ADDED = 4
    MEMBER_REMOVED = 5
    ANNOUNCEMENT = 6  # an announcement's confirmation count, to its author only
    POLL = 7  # someone voted in a poll, to its author only


class LiveUpdate(Protocol):
    """One update as the replica's subscribers receive it."""

    @property
    def chat_id(self) -> str: ...
    @property
    def update_seq(self) -> int: ...
    @property
    def kind(self) -> UpdateKind: ...
    @property
    def user_id(self) -> str:
        """Whose membership or read position (MEMBER_*, READ)."""

    @property
    def read_seq(self) -> int:
        """The read position a READ update moves to (0 for other kinds)."""

    @property
    def held_until(self) -> datetime | None: ...
    @property
    def held_for(self) -> Sequence[str]: ...


class LiveEncoder(Protocol):
    """Makes updates out of stored state (gap fill): the transport's encoding of them."""

    def message(self, message: Message) -> LiveUpdate: ...
    def chat(self, chat: Chat) -> LiveUpdate: ...
    def burned(self, chat_id: str, seq: int) -> LiveUpdate: ...


@dataclass(frozen=True, slots=True)
class LiveStatus:
    """Live delivery on this replica stopped (degraded) or resumed (not degraded)."""

    degraded: bool


class LiveSink(Protocol):
    """Where a LiveSource adapter hands the updates it reads (the hub)."""

    def publish(self, update: LiveUpdate) -> None: ...
    def set_degraded(self, degraded: bool) -> None:
        """The source lost Kafka (True) or hears it again (False)."""

    async def close(self) -> None: ...


GapFillFn = Callable[[str, int, int], Awaitable[list[LiveUpdate]]]


class SubscriberOverflow(Exception):
    pass


@dataclass(eq=False)
class Subscriber:
    user_id: str
    limit: int
    queue: asyncio.Queue[LiveUpdate | LiveStatus] = field(init=False)
    overflowed: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    chats: set[str] = field(default_factory=set)
    # The highest read position of each chat sent to this stream: read updates carry no update_seq,
    # and the outbox delivers at least once (two replicas may relay one), so repeats and stale
    # positions are dropped here instead of reaching the client.
    reads: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.limit)

    def read_moves(self, chat_id: str, seq: int) -> bool:
        if seq <= self.reads.get(chat_id, 0):
            return False
        self.reads[chat_id] = seq
        return True

    def offer(self, update: LiveUpdate | LiveStatus) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(update)
        except asyncio.QueueFull:
            # A slow client must not hold the hub (and every other subscriber) back: drop it and
            # let it resync from its cursor.
            self.overflowed = True
            self.wake.set()

    async def next(self) -> LiveUpdate | LiveStatus:
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
    pending: dict[int, LiveUpdate] = field(default_factory=dict)
    resolving: bool = False


class LiveHub:
    def __init__(self, gap_fill: GapFillFn, *, gap_wait: float = 0.04):
        self._gap_fill = gap_fill
        self._gap_wait = gap_wait
        self._by_chat: dict[str, set[Subscriber]] = {}
        self._by_user: dict[str, set[Subscriber]] = {}
        self._order: dict[str, _ChatOrder] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.degraded = False

    def set_degraded(self, degraded: bool) -> None:
        if degraded == self.degraded:
            return
        self.degraded = degraded
        log.warning(
            "live_delivery_degraded" if degraded else "live_delivery_resumed", subscribers=self.subscriber_count
        )
        status = LiveStatus(degraded)
        for subs in list(self._by_user.values()):
            for sub in list(subs):
                sub.offer(status)

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

    def publish(self, update: LiveUpdate) -> None:
        kind = update.kind
        if kind is UpdateKind.MEMBER_ADDED or kind is UpdateKind.MEMBER_REMOVED:
            user_id = update.user_id
            for sub in list(self._by_user.get(user_id, ())):
                sub.offer(update)
            for sub in list(self._by_chat.get(update.chat_id, ())):
                if sub.user_id != user_id:
                    sub.offer(update)
            return
        if kind is UpdateKind.READ:
            # A read position is its owner's (their other devices); authors see counts through
            # GetReadCount ("23 of 27 read"), never who read how far.
            for sub in list(self._by_user.get(update.user_id, ())):
                if update.chat_id in sub.chats and sub.read_moves(update.chat_id, update.read_seq):
                    sub.offer(update)
            return
        if kind is UpdateKind.ANNOUNCEMENT or kind is UpdateKind.POLL:
            # Who confirmed is for the author's eyes (their devices that follow the chat); so is
            # the signal that a poll has a new vote (results for others follow GetPoll's rules).
            for sub in list(self._by_user.get(update.user_id, ())):
                if update.chat_id in sub.chats:
                    sub.offer(update)
            return
        if update.update_seq == 0:
            self._deliver(update)
            return
        order = self._order.setdefault(update.chat_id, _ChatOrder())
        seq = update.update_seq
        if order.expected == 0 or seq == order.expected:
            # Unknown chat (nobody here follows it with a cursor): start at the first number seen.
            self._deliver(update)
            order.expected = seq + 1
            self._flush(order)
        elif seq < order.expected:
            self._deliver(update)  # late (after a gap was declared): subscribers drop what they have
        else:
            order.pending[seq] = update
            if not order.resolving:
                order.resolving = True
                task = asyncio.create_task(self._resolve(update.chat_id, order))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _flush(self, order: _ChatOrder) -> None:
        while order.expected in order.pending:
            update = order.pending.pop(order.expected)
            self._deliver(update)
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
                for update in found:
                    if update.update_seq >= order.expected:
                        order.pending.setdefault(update.update_seq, update)
                self._flush(order)
                if order.pending and min(order.pending) > order.expected:
                    if loop.time() >= deadline:
                        order.expected = min(order.pending)
                        self._flush(order)
                    else:
                        await asyncio.sleep(min(0.005, self._gap_wait))
        finally:
            order.resolving = False

    def _deliver(self, update: LiveUpdate) -> None:
        if update.kind is UpdateKind.BURNED:
            return  # a burned sequence number: nothing to deliver
        subs = self._by_chat.get(update.chat_id)
        if not subs:
            return
        for sub in list(subs):
            sub.offer(update)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()


@dataclass
class GapFill:
    """The updates of a chat between two update_seqs, from the store: messages, the chat's own
    update, and burned numbers (delivered as nothing, so the hub stops waiting for them)."""

    chats: ChatRepository
    messages: MessageRepository
    encode: LiveEncoder

    async def __call__(self, chat_id: str, low: int, high: int) -> list[LiveUpdate]:
        found = [self.encode.message(m) for m in await self.messages.in_update_range(chat_id, low, high)]
        chat = await self.chats.get(chat_id)
        if chat is not None and low < chat.update_seq < high:
            found.append(self.encode.chat(chat))
        found += [self.encode.burned(chat_id, s) for s in await self.messages.burned_in_range(chat_id, low, high)]
        return sorted(found, key=lambda u: u.update_seq)


# ---- a subscription's stream: history items, then live updates -----------------------------------


@dataclass(frozen=True)
class ChatState:
    chat: Chat
    update_seq: int


@dataclass(frozen=True)
class MessageState:
    message: Message


@dataclass(frozen=True)
class ChatRemoved:
    chat_id: str


@dataclass(frozen=True)
class LiveMarker:
    """Everything missed has been sent; what follows is live."""


FeedItem = ChatState | MessageState | ChatRemoved | LiveMarker | LiveStatus | LiveUpdate


@dataclass
class LiveFeed:
    hub: LiveHub
    members: MemberRepository
    chats: ChatRepository
    messages: MessageRepository
    clock: Clock
    queue_limit: int

    async def subscribe(self, user: str, cursors_in: Sequence[tuple[str, int]]) -> AsyncIterator[FeedItem]:
        v = Violations()
        if len(cursors_in) > MAX_CURSORS:
            v.add("cursors", f"at most {MAX_CURSORS}")
        for i, (chat_id, seq) in enumerate(cursors_in[:MAX_CURSORS]):
            rules.check_id(v, f"cursors[{i}].chat_id", chat_id)
            rules.check_seq(v, f"cursors[{i}].update_seq", seq, required=False)
        v.raise_if_any()
        cursors = dict(cursors_in)
        # Register before reading history: whatever is published meanwhile waits in the queue and
        # is deduplicated against the history by update_seq, so the switch to live has no gap.
        sub = self.hub.register(user, self.queue_limit)
        try:
            mine = {m.chat_id for m in await self.members.of_user(user)}
            for chat_id in mine:
                self.hub.follow(sub, chat_id, cursors.get(chat_id))
            for chat_id in sorted(set(cursors) - mine):
                cursors.pop(chat_id)
                yield ChatRemoved(chat_id)
            for chat in await self.chats.get_many(sorted(mine)):
                async for item in self._catch_up(chat, cursors, user):
                    yield item
            yield LiveMarker()
            # Statuses are queued from registration on; the one shown is the hub's state at the
            # marker, then each change of it (a status equal to what was shown is dropped).
            degraded = self.hub.degraded
            if degraded:
                yield LiveStatus(True)
            while True:
                update = await sub.next()
                if isinstance(update, LiveStatus):
                    if update.degraded != degraded:
                        degraded = update.degraded
                        yield update
                    continue
                if update.kind is UpdateKind.MEMBER_ADDED and update.user_id == user:
                    async for item in self._joined(update.chat_id, cursors, sub):
                        yield item
                    continue
                out = self._route(update, cursors, sub)  # no generator per update: the hot path
                if out is not None:
                    yield out
        except SubscriberOverflow:
            raise Aborted(
                "this subscription fell behind; subscribe again with your cursors", reason="RESYNC_REQUIRED"
            ) from None
        finally:
            self.hub.unregister(sub)

    async def _catch_up(self, chat: Chat, cursors: dict[str, int], user: str) -> AsyncIterator[FeedItem]:
        chat_id = chat.chat_id
        if chat_id not in cursors:
            # A chat the client does not know yet: its snapshot, then live from the current position
            # (older messages are history, paged with ListMessages).
            last = await self.messages.last_seq(chat_id)
            cursors[chat_id] = last
            self.hub.set_floor(chat_id, last)
            yield ChatState(chat, last)
            return
        cursor = cursors[chat_id]
        chat_pending = chat.update_seq > cursor
        while True:
            batch = await self.messages.after(chat_id, cursor, HISTORY_BATCH)
            for message in batch:
                if chat_pending and chat.update_seq < message.update_seq:
                    chat_pending = False
                    yield ChatState(chat, chat.update_seq)
                cursor = message.update_seq
                if not message.held_from(user, self.clock.now()):
                    yield MessageState(message)
            if len(batch) < HISTORY_BATCH:
                break
        if chat_pending:
            yield ChatState(chat, chat.update_seq)
            cursor = max(cursor, chat.update_seq)
        cursors[chat_id] = cursor

    async def _joined(self, chat_id: str, cursors: dict[str, int], sub: Subscriber) -> AsyncIterator[FeedItem]:
        """I was added to a chat: follow it and catch up from the store."""
        if chat_id in cursors:
            return
        self.hub.follow(sub, chat_id)
        chat = await self.chats.get(chat_id)
        if chat is not None:
            async for item in self._catch_up(chat, cursors, sub.user_id):
                yield item

    def _route(self, update: LiveUpdate, cursors: dict[str, int], sub: Subscriber) -> FeedItem | None:
        """What a live update becomes in this subscription: itself, a removal, or nothing."""
        kind = update.kind
        chat_id = update.chat_id
        if kind is UpdateKind.MEMBER_REMOVED and update.user_id == sub.user_id:
            self.hub.unfollow(sub, chat_id)
            return ChatRemoved(chat_id) if cursors.pop(chat_id, None) is not None else None
        cursor = cursors.get(chat_id)
        if cursor is None:
            return None
        if update.update_seq == 0:
            return update
        if update.update_seq <= cursor:
            return None  # already sent (history, gap fill, or a duplicate from Kafka)
        cursors[chat_id] = update.update_seq
        if kind is UpdateKind.MESSAGE and held_from(update.held_until, update.held_for, sub.user_id, self.clock.now()):
            return None  # quiet hours: released later with a new update_seq
        return update  # the replica's one encoding of it, shared by every subscriber
