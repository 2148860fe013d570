"""A room held live by this replica, in memory: its participants' signalling sessions, their media
state, and the room's locks. One asyncio.Lock per room orders every change to it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from media_signal.app import signals as s
from media_signal.domain.rooms import Grants, Room, ScreenShare
from media_signal.domain.screen_share import may_share


@dataclass(eq=False)
class Session:
    participant_id: str
    user_id: str
    room_id: str
    grants: Grants
    last_seen: float
    waiting: bool = False
    joined_at: datetime | None = None
    audio_muted: bool = False
    video_muted: bool = False
    hand_raised: bool = False
    # SFU: our publisher handle and feed, and our subscriptions
    # (id → handle, publisher participant, source "camera" | "screen").
    publisher_handle: str = ""
    feed_id: int = 0
    publisher_mids: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Tracks the host muted: enforced in the SFU, and the participant cannot unmute them alone.
    host_muted: set[str] = field(default_factory=set)
    subscriptions: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    # Screen sharing: the room's setting, the host's decision for this participant (None: none),
    # the screen's own SFU publisher (a second feed), or in P2P calls the flag set by its offers.
    screen_policy: ScreenShare = ScreenShare.ANYONE
    screen_decision: bool | None = None
    screen_handle: str = ""
    screen_feed_id: int = 0
    p2p_screen: bool = False
    queue: asyncio.Queue[s.Outbound] = field(default_factory=asyncio.Queue)
    gone: bool = False
    attached: bool = True

    def send(self, message: s.Outbound) -> None:
        if not self.gone:
            self.queue.put_nowait(message)

    def view(self, at: datetime) -> s.ParticipantView:
        return s.ParticipantView(
            participant_id=self.participant_id,
            user_id=self.user_id,
            grants=self.grants,
            waiting=self.waiting,
            audio_muted=self.audio_muted,
            video_muted=self.video_muted,
            hand_raised=self.hand_raised,
            publishing=bool(self.publisher_handle),
            joined_at=self.joined_at or at,
            sharing_screen=bool(self.screen_handle) or self.p2p_screen,
            may_share_screen=self.may_share_screen,
        )

    @property
    def may_share_screen(self) -> bool:
        return may_share(self.screen_policy, self.grants, self.screen_decision)

    def feed(self, source: str) -> int:
        return self.screen_feed_id if source == "screen" else self.feed_id


@dataclass(eq=False)
class LiveRoom:
    room: Room
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sessions: dict[str, Session] = field(default_factory=dict)
    removed_users: set[str] = field(default_factory=set)
    sfu_room: int = 0
    sfu_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    unloaded: bool = False

    def active(self) -> list[Session]:
        return [x for x in self.sessions.values() if not x.waiting and not x.gone]

    def broadcast(self, message: s.Outbound, *, exclude: Session | None = None, hosts_only: bool = False) -> None:
        for other in self.sessions.values():
            if other is exclude or other.gone or (other.waiting and not hosts_only):
                continue
            if hosts_only and not other.grants.is_host:
                continue
            other.send(message)


class Background:
    """Tasks the hub starts and does not wait for (SFU calls outside the room lock); cancelled on stop."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
