"""The signalling hub: live rooms held by this replica, their participants, and the SFU wiring.

Rooms are pinned to one replica by room id (a lease in the room document), so this process is the
only writer of a live room: per-room state lives in memory behind one asyncio.Lock per room, and
attendance plus its events are written to the room document in one update per change. Slow SFU
calls (Janus) run outside the room lock so one publisher never stalls a join storm.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from parta_common.clock import Clock
from parta_common.errors import (
    Aborted,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)

from media_signal.app import signals as s
from media_signal.app.ports import JoinTokenCodec, RoomRepository, Sfu
from media_signal.app.sfu_rooms import destroy_recorded_sfu_room
from media_signal.domain import events
from media_signal.domain.rooms import Grants, MediaMode, Room, RoomState

log = structlog.get_logger("media_signal.hub")


class SfuFeedNotReady(Exception):
    """The publisher's media is not up yet in the SFU; subscribing again shortly will work."""


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
    # SFU: our publisher handle and feed, and our subscriptions (id → handle, publisher participant).
    publisher_handle: str = ""
    feed_id: int = 0
    publisher_mids: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Tracks the host muted: enforced in the SFU, and the participant cannot unmute them alone.
    host_muted: set[str] = field(default_factory=set)
    subscriptions: dict[str, tuple[str, str]] = field(default_factory=dict)
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
        )


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


class SignalHub:
    def __init__(
        self,
        *,
        rooms: RoomRepository,
        tokens: JoinTokenCodec,
        sfu: Sfu,
        clock: Clock,
        new_id: Callable[[], str],
        replica: str,
        address: str,
        keepalive_timeout: float = 15.0,
        lease_seconds: float = 30.0,
        correlation: Callable[[], str] = lambda: "",
    ):
        self._rooms = rooms
        self._tokens = tokens
        self._sfu = sfu
        self._clock = clock
        self._new_id = new_id
        self.replica = replica
        self._address = address
        self.keepalive_timeout = keepalive_timeout
        self._lease = lease_seconds
        self._live: dict[str, LiveRoom] = {}
        self._load_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._draining = False

    # ------------------------------------------------------------ lifecycle (a kit Worker)

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._housekeeping(), name="signal-hub")

    async def stop(self) -> None:
        self._stopping = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        await self.drain()
        for task in list(self._tasks):
            task.cancel()

    async def drain(self) -> None:
        """Shutting down: refuse new joins and end every stream with UNAVAILABLE `REPLICA_DRAINING`.

        Runs before the gRPC server stops (bootstrap.serve): signalling streams live as long as
        the call, so waiting for them within the grace period would only end them with a bare
        CANCELLED at its end. Each leave releases the room's lease when the room empties, so the
        clients' reconnect lands on another replica at once instead of after the lease runs out.
        """
        self._draining = True
        for live in list(self._live.values()):
            for session in list(live.sessions.values()):
                # Clients reconnect elsewhere; the reason tells them this is not their fault.
                await self.leave(
                    session, "left", Unavailable("signalling replica shutting down", reason="REPLICA_DRAINING")
                )

    def live_rooms(self) -> int:
        return len(self._live)

    def participants(self) -> int:
        return sum(len(live.sessions) for live in self._live.values())

    async def _housekeeping(self) -> None:
        last_lease = self._clock.monotonic()
        while not self._stopping:
            await asyncio.sleep(min(0.5, self.keepalive_timeout / 4))
            try:
                await self._reap()
                if self._clock.monotonic() - last_lease >= self._lease / 3:
                    last_lease = self._clock.monotonic()
                    await self._renew_leases()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub_housekeeping_failed")

    async def _reap(self) -> None:
        now = self._clock.monotonic()
        for live in list(self._live.values()):
            for session in list(live.sessions.values()):
                if now - session.last_seen > self.keepalive_timeout:
                    await self.leave(session, "timeout", Unavailable("keep-alive timeout", reason="KEEPALIVE_TIMEOUT"))

    async def _renew_leases(self) -> None:
        now = self._clock.now()
        for room_id in list(self._live):
            await self._rooms.claim(room_id, self.replica, self._address, now + timedelta(seconds=self._lease), now)
            stored = await self._rooms.get(room_id)
            live = self._live.get(room_id)
            if stored is not None and stored.state is RoomState.ENDED and live is not None:
                # Ended in the store by another replica that could not reach us (EndRoom forwards
                # to the owner; this is the backstop when that call failed): close our streams.
                await self._close_ended(live, stored)

    async def _close_ended(self, live: LiveRoom, stored: Room) -> None:
        """The room was ended elsewhere (the store says so): tell our streams, free the SFU room.
        Attendance and RoomEnded were written by whoever ended it; nothing more is persisted."""
        async with live.lock:
            if live.room.state is RoomState.ENDED:
                return
            log.info("room_ended_elsewhere", room_id=live.room.room_id)
            self._close_all(live, "ended_by_host")
            live.room = stored
        await self._unload_if_empty(live)

    def _close_all(self, live: LiveRoom, reason: str) -> None:
        for session in list(live.sessions.values()):
            session.send(s.RoomEndedMsg(reason))
            session.send(s.Close(None))
            session.gone = True
            self._release_media(live, session)
        live.sessions.clear()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ loading rooms

    async def _load(self, room_id: str) -> LiveRoom:
        async with self._load_lock:
            live = self._live.get(room_id)
            if live is not None:
                return live
            room = await self._rooms.get(room_id)
            if room is None:
                raise NotFound("room not found", reason="ROOM_NOT_FOUND")
            room.require_live()
            now = self._clock.now()
            owner = await self._rooms.claim(
                room_id, self.replica, self._address, now + timedelta(seconds=self._lease), now
            )
            if owner.replica != self.replica:
                raise FailedPrecondition(
                    "this room is served by another signalling replica",
                    reason="ROOM_PINNED_ELSEWHERE",
                    metadata={"owner_replica": owner.replica, "owner_address": owner.address},
                )
            if room.sfu_room:
                room = await self._take_over_sfu_room(room_id)
            live = LiveRoom(room)
            self._live[room_id] = live
            return live

    async def _take_over_sfu_room(self, room_id: str) -> Room:
        """We hold the room now, yet it records an SFU room: its holder is gone (died with the room
        open, or emptied it and let go). Nobody else will destroy that SFU room, and this replica
        will open its own, so destroy it and forget it. Read afresh: the lease is ours only now."""
        room = await self._rooms.get(room_id)
        if room is None:
            raise NotFound("room not found", reason="ROOM_NOT_FOUND")
        if room.sfu_room_orphaned(holder_alive=False) and await destroy_recorded_sfu_room(self._sfu, room):
            expected = room.version
            room.forget_sfu_room()
            try:
                await self._rooms.save(room, [], expected_version=expected)
            except Aborted:
                # Changed since the read (ended elsewhere): the stored room is the one to serve.
                fresh = await self._rooms.get(room_id)
                if fresh is None:
                    raise NotFound("room not found", reason="ROOM_NOT_FOUND") from None
                room = fresh
        return room

    async def _unload_if_empty(self, live: LiveRoom) -> None:
        async with self._load_lock:
            if live.sessions or live.unloaded:
                return
            live.unloaded = True
            self._live.pop(live.room.room_id, None)
        if live.sfu_room:
            # Before the release: once the lease is free another replica may open a room under the
            # same number. The document keeps the number: whoever loads the room next destroys it
            # again, which the SFU answers with "no such room" (done); forgetting it here would
            # need a second write racing that next holder's claim.
            await self._destroy_quietly(live.sfu_room)
        await self._rooms.release(live.room.room_id, self.replica)

    async def _persist(self, live: LiveRoom, evts: list[object]) -> None:
        room = live.room
        expected = room.version
        room.version += 1
        await self._rooms.save(room, evts, expected_version=expected)

    # ------------------------------------------------------------ joining

    async def join(self, user_id: str, token: str) -> Session:
        if self._draining:
            raise Unavailable("signalling replica shutting down; reconnect", reason="REPLICA_DRAINING")
        claims = self._tokens.verify(token, self._clock.now())
        if claims.user_id != user_id:
            raise PermissionDenied("this join token belongs to someone else", reason="JOIN_TOKEN_NOT_YOURS")
        for _ in range(3):
            live = await self._load(claims.room_id)
            async with live.lock:
                if live.unloaded:
                    continue  # emptied and unloaded while we waited: load it afresh
                live.room.require_live()
                if user_id in live.removed_users:
                    raise PermissionDenied("removed from this room by the host", reason="REMOVED_BY_HOST")
                if not claims.grants.is_host and len(live.active()) >= live.room.max_participants:
                    raise ResourceExhausted("the room is full", reason="ROOM_FULL")
                session = Session(
                    participant_id=self._new_id(),
                    user_id=user_id,
                    room_id=live.room.room_id,
                    grants=claims.grants,
                    last_seen=self._clock.monotonic(),
                )
                live.sessions[session.participant_id] = session
                if live.room.waiting_room and not claims.grants.is_host:
                    session.waiting = True
                    now = self._clock.now()
                    session.send(s.Waiting(live.room, session.view(now)))
                    self._broadcast(live, s.ParticipantJoinedMsg(session.view(now)), hosts_only=True)
                else:
                    await self._activate(live, session)
                return session
        raise Unavailable("room is being reloaded; retry", reason="ROOM_RELOADING")

    async def _activate(self, live: LiveRoom, session: Session) -> None:
        now = self._clock.now()
        try:
            live.room.record_join(session.user_id, now)
            await self._persist(
                live, [events.ParticipantJoined(live.room.room_id, live.room.school_id, session.user_id, now)]
            )
        except BaseException:
            live.sessions.pop(session.participant_id, None)
            raise
        session.waiting = False
        session.joined_at = now
        session.send(
            s.Joined(
                room=live.room,
                participants=self._views(live, for_host=session.grants.is_host),
                self_view=session.view(now),
                keepalive_timeout_seconds=int(self.keepalive_timeout),
            )
        )
        self._broadcast(live, s.ParticipantJoinedMsg(session.view(now)), exclude=session)
        if live.room.media_mode is MediaMode.SFU and session.grants.can_subscribe:
            for other in live.active():
                if other is not session and other.feed_id:
                    self._spawn(self._subscribe(live, session, other), "sfu-subscribe")

    def _views(self, live: LiveRoom, *, for_host: bool) -> list[s.ParticipantView]:
        now = self._clock.now()
        return [x.view(now) for x in live.sessions.values() if not x.gone and (for_host or not x.waiting)]

    def _broadcast(
        self, live: LiveRoom, message: s.Outbound, *, exclude: Session | None = None, hosts_only: bool = False
    ) -> None:
        for other in live.sessions.values():
            if other is exclude or other.gone or (other.waiting and not hosts_only):
                continue
            if hosts_only and not other.grants.is_host:
                continue
            other.send(message)

    # ------------------------------------------------------------ leaving

    def detach(self, session: Session) -> None:
        """The stream dropped without a leave: the participant stays until the keep-alive timeout."""
        session.attached = False

    async def leave(self, session: Session, reason: str, error: DomainError | None = None) -> None:
        live = self._live.get(session.room_id)
        if live is None or session.gone:
            session.gone = True
            return
        async with live.lock:
            if session.gone:
                return
            await self._remove(live, session, reason, error)
        await self._unload_if_empty(live)

    async def _remove(self, live: LiveRoom, session: Session, reason: str, error: DomainError | None) -> None:
        log.info("participant_left", room_id=live.room.room_id, participant_id=session.participant_id, reason=reason)
        now = self._clock.now()
        # Close goes out last: the closing stream cancels its own reader, which may be running this.
        live.sessions.pop(session.participant_id, None)
        self._release_media(live, session)
        if session.waiting:
            self._broadcast(
                live, s.ParticipantLeftMsg(session.participant_id, session.user_id, reason), hosts_only=True
            )
            session.send(s.Close(error))
            session.gone = True
            return
        live.room.record_leave(session.user_id, now)
        try:
            await self._persist(
                live, [events.ParticipantLeft(live.room.room_id, live.room.school_id, session.user_id, now, reason)]
            )
        except Exception:
            # The participant is gone either way; attendance closes at RoomEnded from memory.
            log.exception("persist_leave_failed")
        self._broadcast(live, s.ParticipantLeftMsg(session.participant_id, session.user_id, reason))
        session.send(s.Close(error))
        session.gone = True

    def _release_media(self, live: LiveRoom, session: Session) -> None:
        handles = [h for h, _ in session.subscriptions.values()]
        session.subscriptions.clear()
        for handle in handles:
            self._spawn(self._detach_quietly(handle), "sfu-detach")
        self._unpublish(live, session)

    def _unpublish(self, live: LiveRoom, session: Session) -> None:
        handles: list[str] = []
        if session.publisher_handle:
            handles.append(session.publisher_handle)
            session.publisher_handle, session.feed_id, session.publisher_mids = "", 0, {}
            for other in live.sessions.values():
                for sub_id, (handle, publisher) in list(other.subscriptions.items()):
                    if publisher == session.participant_id:
                        handles.append(handle)
                        del other.subscriptions[sub_id]
        for handle in handles:
            self._spawn(self._detach_quietly(handle), "sfu-detach")

    async def _detach_quietly(self, handle: str) -> None:
        with contextlib.suppress(Exception):
            await self._sfu.detach(handle)

    async def end_room(self, room_id: str, reason: str) -> Room | None:
        live = self._live.get(room_id)
        if live is None:
            return None
        try:
            async with live.lock:
                if live.room.state is RoomState.ENDED:
                    return live.room
                now = self._clock.now()
                active = live.active()
                live.room.end(now)
                left = [
                    events.ParticipantLeft(room_id, live.room.school_id, x.user_id, now, "room_ended") for x in active
                ]
                # end() bumped the version already; save against the stored one.
                expected = live.room.version - 1
                try:
                    await self._rooms.save(
                        live.room,
                        [*left, events.RoomEnded(live.room, now, dict(live.room.attendance))],
                        expected_version=expected,
                    )
                except Aborted:
                    # Another replica that could not reach us ended it in the store meanwhile:
                    # that is the outcome asked for. Anything else is a real conflict.
                    stored = await self._rooms.get(room_id)
                    if stored is None or stored.state is not RoomState.ENDED:
                        raise
                    live.room = stored
                finally:
                    # The streams close after the end is saved (as a leave's Close goes out last):
                    # closing the host's own stream cancels its reader, which may be running this.
                    self._close_all(live, reason)
        finally:
            # The streams are closed either way: never keep (and keep renewing) an empty room.
            await self._unload_if_empty(live)
        return live.room

    # ------------------------------------------------------------ messages from a joined participant

    async def handle(self, session: Session, command: s.Command) -> None:
        session.last_seen = self._clock.monotonic()
        if session.gone:
            raise FailedPrecondition("not in the room any more", reason="NOT_JOINED")
        live = self._live.get(session.room_id)
        if live is None:
            raise FailedPrecondition("not in the room any more", reason="NOT_JOINED")
        if isinstance(command, s.Ping):
            session.send(s.Pong(command.client_time_ms, int(self._clock.now().timestamp() * 1000)))
            return
        if isinstance(command, s.Leave):
            # Shielded: the stream closing as a result must not cut the leave (and its event) short.
            await asyncio.shield(self.leave(session, "left"))
            return
        if session.waiting:
            raise FailedPrecondition("waiting for the host to admit you", reason="IN_WAITING_ROOM")
        if isinstance(command, s.Sdp):
            await self._on_sdp(live, session, command)
        elif isinstance(command, s.Candidate):
            await self._on_candidate(live, session, command)
        elif isinstance(command, s.Mute):
            async with live.lock:
                tracks = {"audio", "video"} if command.track is None else {command.track}
                if not command.muted and tracks & session.host_muted:
                    raise PermissionDenied("the host muted you; ask the host to unmute", reason="MUTED_BY_HOST")
                if command.track in (None, "audio"):
                    session.audio_muted = command.muted
                if command.track in (None, "video"):
                    session.video_muted = command.muted
                self._broadcast(live, s.ParticipantUpdatedMsg(session.view(self._clock.now())))
        elif isinstance(command, s.RaiseHand):
            async with live.lock:
                session.hand_raised = command.raised
                self._broadcast(live, s.ParticipantUpdatedMsg(session.view(self._clock.now())))
        elif isinstance(command, s.HostAction):
            await self._on_host_action(live, session, command)

    def _peer(self, live: LiveRoom, participant_id: str) -> Session:
        peer = live.sessions.get(participant_id)
        if peer is None or peer.gone or peer.waiting:
            raise NotFound("no such participant in this room", reason="PARTICIPANT_NOT_FOUND")
        return peer

    async def _on_sdp(self, live: LiveRoom, session: Session, sdp: s.Sdp) -> None:
        s.validate_sdp(sdp)
        if live.room.media_mode is MediaMode.P2P:
            if not sdp.participant_id:
                raise InvalidArgument.field("participant_id", "peer-to-peer rooms need the other participant")
            peer = self._peer(live, sdp.participant_id)
            if peer is session:
                raise InvalidArgument.field("participant_id", "cannot signal yourself")
            if sdp.type == "offer" and not (session.grants.can_publish or session.grants.can_subscribe):
                raise PermissionDenied("this grant cannot exchange media", reason="PUBLISH_NOT_ALLOWED")
            peer.send(s.SdpOut(sdp.type, sdp.sdp, participant_id=session.participant_id))
            return
        if sdp.type == "answer":
            await self._on_subscriber_answer(session, sdp)
            return
        await self._publish(live, session, sdp)

    async def _publish(self, live: LiveRoom, session: Session, sdp: s.Sdp) -> None:
        if sdp.participant_id or sdp.subscription_id:
            raise InvalidArgument.field("participant_id", "offers in SFU rooms go to the server: leave it empty")
        if not session.grants.can_publish:
            raise PermissionDenied("you are not on stage: publishing is not allowed", reason="PUBLISH_NOT_ALLOWED")
        if session.publisher_handle:
            raise FailedPrecondition("already publishing", reason="ALREADY_PUBLISHING")
        sfu_room = await self._sfu_room(live)
        published = await self._sfu.publish(sfu_room, session.participant_id, sdp.sdp)
        async with live.lock:
            if session.gone or not session.grants.can_publish:
                # Left or was demoted while the SFU answered: undo quietly.
                self._spawn(self._detach_quietly(published.handle), "sfu-detach")
                return
            session.publisher_handle, session.feed_id = published.handle, published.feed_id
            session.publisher_mids = dict(published.mids)
            session.send(s.SdpOut("answer", published.answer_sdp))
            if session.host_muted:
                # Muted by the host before publishing (or republishing): the new feed starts muted.
                self._spawn(self._moderate(live, session, session.host_muted, True), "sfu-moderate")
            self._broadcast(live, s.ParticipantUpdatedMsg(session.view(self._clock.now())))
            for other in live.active():
                if other is not session and other.grants.can_subscribe:
                    self._spawn(self._subscribe(live, other, session), "sfu-subscribe")

    async def _sfu_room(self, live: LiveRoom) -> int:
        async with live.sfu_lock:
            if not live.sfu_room:
                publishers = max(4, min(live.room.max_participants, 100))
                number = await self._sfu.create_room(live.room.room_id, publishers)
                await self._record_sfu_room(live, number)
                live.sfu_room = number
            return live.sfu_room

    async def _record_sfu_room(self, live: LiveRoom, number: int) -> None:
        """Writes the new SFU room into the room document (versioned, like every room save), so
        another replica can destroy it if this one dies with the room open. Unrecorded, it must
        not stay: destroyed at once when the write fails or the room ended meanwhile."""
        async with live.lock:
            room = live.room
            before = (room.sfu_room, room.sfu_instance, room.version)
            try:
                if live.unloaded or room.state is not RoomState.LIVE:
                    raise FailedPrecondition("the room has ended", reason="ROOM_ENDED")
                expected = room.version
                room.record_sfu_room(number, self._sfu.instance)
                await self._rooms.save(room, [], expected_version=expected)
            except BaseException:
                room.sfu_room, room.sfu_instance, room.version = before
                self._spawn(self._destroy_quietly(number), "sfu-destroy")
                raise

    async def _destroy_quietly(self, sfu_room: int) -> None:
        try:
            await self._sfu.destroy_room(sfu_room)
        except Exception as exc:
            # The sweep (app/sfu_rooms.py) finds it once the room has ended.
            log.warning("sfu_room_destroy_failed", sfu_room=sfu_room, error=type(exc).__name__)

    async def _subscribe(self, live: LiveRoom, subscriber: Session, publisher: Session) -> None:
        feed = publisher.feed_id
        delay = 0.1
        for _attempt in range(40):
            if subscriber.gone or publisher.gone or publisher.feed_id != feed:
                return
            try:
                sub = await self._sfu.subscribe(live.sfu_room, feed)
                break
            except SfuFeedNotReady:
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 0.5)
            except Exception:
                log.exception("sfu_subscribe_failed")
                return
        else:
            log.warning("sfu_feed_never_ready")
            return
        if subscriber.gone or publisher.gone:
            await self._detach_quietly(sub.handle)
            return
        sub_id = self._new_id()
        subscriber.subscriptions[sub_id] = (sub.handle, publisher.participant_id)
        subscriber.send(s.SdpOut("offer", sub.offer_sdp, publisher.participant_id, sub_id))

    async def _on_subscriber_answer(self, session: Session, sdp: s.Sdp) -> None:
        entry = session.subscriptions.get(sdp.subscription_id)
        if entry is None:
            raise NotFound("no such subscription", reason="SUBSCRIPTION_NOT_FOUND")
        await self._sfu.start(entry[0], sdp.sdp)

    async def _on_candidate(self, live: LiveRoom, session: Session, c: s.Candidate) -> None:
        s.validate_candidate(c)
        if live.room.media_mode is MediaMode.P2P:
            peer = self._peer(live, c.participant_id)
            peer.send(s.CandidateOut(c.candidate, c.sdp_mid, c.sdp_mline_index, participant_id=session.participant_id))
            return
        if c.subscription_id:
            entry = session.subscriptions.get(c.subscription_id)
            if entry is None:
                raise NotFound("no such subscription", reason="SUBSCRIPTION_NOT_FOUND")
            handle = entry[0]
        elif session.publisher_handle:
            handle = session.publisher_handle
        else:
            raise FailedPrecondition("send the offer before its candidates", reason="NOT_PUBLISHING")
        await self._sfu.trickle(handle, c.candidate, c.sdp_mid, c.sdp_mline_index)

    async def _on_host_action(self, live: LiveRoom, session: Session, action: s.HostAction) -> None:
        if not session.grants.is_host:
            raise PermissionDenied("only the host may do this", reason="NOT_HOST")
        if action.action == "end_room":
            # Shielded, as a leave is: ending closes this very stream, and its reader (running this)
            # is cancelled then; the end and its RoomEnded must be saved all the same.
            await asyncio.shield(self.end_room(live.room.room_id, "ended_by_host"))
            return
        unload = False
        moderation: tuple[Session, set[str], bool] | None = None
        async with live.lock:
            target = live.sessions.get(action.participant_id)
            if target is None or target.gone:
                raise NotFound("no such participant in this room", reason="PARTICIPANT_NOT_FOUND")
            if target is session and action.action in ("remove", "demote"):
                raise InvalidArgument.field("participant_id", "the host cannot do this to themselves")
            notice = s.HostNotice(action.action, session.participant_id, action.track)
            if action.action == "admit":
                if not target.waiting:
                    raise FailedPrecondition("not in the waiting room", reason="NOT_WAITING")
                target.send(notice)
                await self._activate(live, target)
                return
            if target.waiting and action.action != "remove":
                raise FailedPrecondition("admit the participant first", reason="IN_WAITING_ROOM")
            if action.action == "remove":
                live.removed_users.add(target.user_id)
                target.send(notice)
                await self._remove(
                    live,
                    target,
                    "removed",
                    PermissionDenied("removed from the room by the host", reason="REMOVED_BY_HOST"),
                )
                unload = not live.sessions
            else:
                if action.action in ("mute", "unmute"):
                    muted = action.action == "mute"
                    tracks = {"audio", "video"} if action.track is None else {action.track}
                    if "audio" in tracks:
                        target.audio_muted = muted
                    if "video" in tracks:
                        target.video_muted = muted
                    if muted:
                        target.host_muted |= tracks
                    else:
                        target.host_muted -= tracks
                    if live.room.media_mode is MediaMode.SFU and target.feed_id:
                        moderation = (target, tracks, muted)
                elif action.action == "promote":
                    if not target.grants.stage_allowed:
                        # A child awaiting a guardian's consent may watch, never speak.
                        raise PermissionDenied(
                            "this participant may only watch until a guardian confirms", reason="AWAITING_GUARDIAN"
                        )
                    target.grants = replace(target.grants, can_publish=True, can_publish_data=True)
                    target.hand_raised = False
                elif action.action == "demote":
                    if target.grants.is_host:
                        raise FailedPrecondition("the host stays on stage", reason="HOST_ON_STAGE")
                    target.grants = replace(target.grants, can_publish=False, can_publish_data=False)
                    self._unpublish(live, target)
                target.send(notice)
                self._broadcast(live, s.ParticipantUpdatedMsg(target.view(self._clock.now())))
        if moderation is not None:
            # Outside the room lock: one slow SFU call must not stall the room.
            await self._moderate(live, *moderation)
        if unload:
            await self._unload_if_empty(live)

    async def _moderate(self, live: LiveRoom, target: Session, tracks: set[str], mute: bool) -> None:
        """Host mute in the SFU. Peer-to-peer calls have no server in the media path: there the
        mute is a notice the other clients honour (documented in docs/media-signal.md)."""
        mids = [mid for kind in sorted(tracks) for mid in target.publisher_mids.get(kind, ())]
        if not mids or not target.feed_id:
            return
        try:
            await self._sfu.moderate(live.sfu_room, target.feed_id, mids, mute)
        except Exception:
            log.exception("sfu_moderate_failed", participant_id=target.participant_id)
