"""The signalling hub: joining, leaving, ending and the messages of joined participants in the
live rooms this replica holds.

Rooms are pinned to one replica by room id (a lease in the room document: app/leases.py), so this
process is the only writer of a live room: per-room state lives in memory behind one asyncio.Lock
per room (app/live_rooms.py), and attendance plus its events are written to the room document in
one update per change. Media goes through the SFU wiring (app/media.py), whose slow Janus calls run
outside the room lock so one publisher never stalls a join storm.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from parta_common.clock import Clock
from parta_common.errors import (
    Aborted,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)

from media_signal.app import signals as s
from media_signal.app.leases import RoomLeases
from media_signal.app.live_rooms import Background, LiveRoom, Session
from media_signal.app.media import SfuMedia
from media_signal.app.ports import JoinTokenCodec, RoomRepository, Sfu
from media_signal.domain import events, host_actions, screen_share
from media_signal.domain.group_calls import check_capacity
from media_signal.domain.rooms import MediaMode, Room, RoomState

log = structlog.get_logger("media_signal.hub")


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
        self._clock = clock
        self._new_id = new_id
        self.replica = replica
        self.keepalive_timeout = keepalive_timeout
        self._background = Background()
        self._media = SfuMedia(sfu=sfu, rooms=rooms, clock=clock, new_id=new_id, background=self._background)
        self._leases = RoomLeases(
            rooms=rooms,
            sfu=sfu,
            media=self._media,
            clock=clock,
            replica=replica,
            address=address,
            lease_seconds=lease_seconds,
        )
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
        self._background.cancel_all()

    async def drain(self) -> None:
        """Shutting down: refuse new joins and end every stream with UNAVAILABLE `REPLICA_DRAINING`.

        Runs before the gRPC server stops (bootstrap.serve): signalling streams live as long as
        the call, so waiting for them within the grace period would only end them with a bare
        CANCELLED at its end. Each leave releases the room's lease when the room empties, so the
        clients' reconnect lands on another replica at once instead of after the lease runs out.
        """
        self._draining = True
        for live in list(self._leases.live.values()):
            for session in list(live.sessions.values()):
                # Clients reconnect elsewhere; the reason tells them this is not their fault.
                await self.leave(
                    session, "left", Unavailable("signalling replica shutting down", reason="REPLICA_DRAINING")
                )

    def live_rooms(self) -> int:
        return len(self._leases.live)

    def participants(self) -> int:
        return sum(len(live.sessions) for live in self._leases.live.values())

    async def _housekeeping(self) -> None:
        last_lease = self._clock.monotonic()
        while not self._stopping:
            await asyncio.sleep(min(0.5, self.keepalive_timeout / 4))
            try:
                await self._reap()
                if self._clock.monotonic() - last_lease >= self._leases.lease_seconds / 3:
                    last_lease = self._clock.monotonic()
                    await self._renew_leases()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub_housekeeping_failed")

    async def _reap(self) -> None:
        now = self._clock.monotonic()
        for live in list(self._leases.live.values()):
            for session in list(live.sessions.values()):
                if now - session.last_seen > self.keepalive_timeout:
                    await self.leave(session, "timeout", Unavailable("keep-alive timeout", reason="KEEPALIVE_TIMEOUT"))

    async def _renew_leases(self) -> None:
        for live, stored in await self._leases.renew():
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
        await self._leases.unload_if_empty(live)

    def _close_all(self, live: LiveRoom, reason: str) -> None:
        for session in list(live.sessions.values()):
            session.send(s.RoomEndedMsg(reason))
            session.send(s.Close(None))
            session.gone = True
            self._media.release(live, session)
        live.sessions.clear()

    # ------------------------------------------------------------ loading rooms

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
            live = await self._leases.load(claims.room_id)
            async with live.lock:
                if live.unloaded:
                    continue  # emptied and unloaded while we waited: load it afresh
                live.room.require_live()
                live.room.require_open(user_id, is_host=claims.grants.is_host)
                if user_id in live.removed_users:
                    raise PermissionDenied("removed from this room by the host", reason="REMOVED_BY_HOST")
                # CALL_FULL for a fifth in a peer-to-peer call, ROOM_FULL otherwise (domain/group_calls.py).
                check_capacity(live.room, active=len(live.active()), is_host=claims.grants.is_host)
                session = Session(
                    participant_id=self._new_id(),
                    user_id=user_id,
                    room_id=live.room.room_id,
                    grants=claims.grants,
                    last_seen=self._clock.monotonic(),
                    screen_policy=live.room.screen_share,
                )
                live.sessions[session.participant_id] = session
                if live.room.waiting_room and not claims.grants.is_host:
                    session.waiting = True
                    now = self._clock.now()
                    session.send(s.Waiting(live.room, session.view(now)))
                    live.broadcast(s.ParticipantJoinedMsg(session.view(now)), hosts_only=True)
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
        live.broadcast(s.ParticipantJoinedMsg(session.view(now)), exclude=session)
        if live.room.media_mode is MediaMode.SFU and session.grants.can_subscribe:
            for other in live.active():
                if other is session:
                    continue
                if other.feed_id:
                    self._background.spawn(self._media.subscribe(live, session, other), "sfu-subscribe")
                if other.screen_feed_id:
                    self._background.spawn(self._media.subscribe(live, session, other, "screen"), "sfu-subscribe")

    def _views(self, live: LiveRoom, *, for_host: bool) -> list[s.ParticipantView]:
        now = self._clock.now()
        return [x.view(now) for x in live.sessions.values() if not x.gone and (for_host or not x.waiting)]

    # ------------------------------------------------------------ leaving

    def detach(self, session: Session) -> None:
        """The stream dropped without a leave: the participant stays until the keep-alive timeout."""
        session.attached = False

    async def leave(self, session: Session, reason: str, error: DomainError | None = None) -> None:
        live = self._leases.live.get(session.room_id)
        if live is None or session.gone:
            session.gone = True
            return
        async with live.lock:
            if session.gone:
                return
            await self._remove(live, session, reason, error)
        await self._leases.unload_if_empty(live)

    async def _remove(self, live: LiveRoom, session: Session, reason: str, error: DomainError | None) -> None:
        log.info("participant_left", room_id=live.room.room_id, participant_id=session.participant_id, reason=reason)
        now = self._clock.now()
        # Close goes out last: the closing stream cancels its own reader, which may be running this.
        live.sessions.pop(session.participant_id, None)
        self._media.release(live, session)
        if session.waiting:
            live.broadcast(s.ParticipantLeftMsg(session.participant_id, session.user_id, reason), hosts_only=True)
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
        live.broadcast(s.ParticipantLeftMsg(session.participant_id, session.user_id, reason))
        session.send(s.Close(error))
        session.gone = True

    async def end_room(self, room_id: str, reason: str) -> Room | None:
        live = self._leases.live.get(room_id)
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
            await self._leases.unload_if_empty(live)
        return live.room

    def _stop_screen(self, live: LiveRoom, session: Session, *, announce: bool = True) -> None:
        """The session's screen share ends (SFU: its feed and every subscription to it; P2P: the
        flag, the peers close the screen connections on the update). Under the room lock."""
        stopped = self._media.unpublish(live, session, ("screen",)) or session.p2p_screen
        session.p2p_screen = False
        if stopped and announce:
            live.broadcast(s.ParticipantUpdatedMsg(session.view(self._clock.now())))

    # ------------------------------------------------------------ messages from a joined participant

    async def handle(self, session: Session, command: s.Command) -> None:
        session.last_seen = self._clock.monotonic()
        if session.gone:
            raise FailedPrecondition("not in the room any more", reason="NOT_JOINED")
        live = self._leases.live.get(session.room_id)
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
                tracks = host_actions.tracks_of(command.track)
                host_actions.check_self_unmute(muted=command.muted, tracks=tracks, host_muted=session.host_muted)
                if command.track in (None, "audio"):
                    session.audio_muted = command.muted
                if command.track in (None, "video"):
                    session.video_muted = command.muted
                live.broadcast(s.ParticipantUpdatedMsg(session.view(self._clock.now())))
        elif isinstance(command, s.RaiseHand):
            async with live.lock:
                session.hand_raised = command.raised
                live.broadcast(s.ParticipantUpdatedMsg(session.view(self._clock.now())))
        elif isinstance(command, s.HostAction):
            await self._on_host_action(live, session, command)
        elif isinstance(command, s.StopScreenShare):
            async with live.lock:
                self._stop_screen(live, session)

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
            if sdp.type == "offer" and sdp.source == "screen":
                # A screen is a second peer connection per peer, offered by the sharer.
                screen_share.check_may_share(session.screen_policy, session.grants, session.screen_decision)
                if not session.p2p_screen:
                    async with live.lock:
                        session.p2p_screen = True
                        live.broadcast(s.ParticipantUpdatedMsg(session.view(self._clock.now())))
            peer.send(s.SdpOut(sdp.type, sdp.sdp, participant_id=session.participant_id, source=sdp.source))
            return
        if sdp.type == "answer":
            await self._media.answer(session, sdp)
            return
        await self._media.publish(live, session, sdp)

    async def _on_candidate(self, live: LiveRoom, session: Session, c: s.Candidate) -> None:
        s.validate_candidate(c)
        if live.room.media_mode is MediaMode.P2P:
            peer = self._peer(live, c.participant_id)
            peer.send(
                s.CandidateOut(
                    c.candidate, c.sdp_mid, c.sdp_mline_index, participant_id=session.participant_id, source=c.source
                )
            )
            return
        await self._media.trickle(session, c)

    async def _lock(self, live: LiveRoom, session: Session, *, locked: bool) -> None:
        """Saved on the room (a replica that takes the room over keeps it locked); everyone in the
        room, the host included, gets the notice."""
        async with live.lock:
            expected = live.room.version
            if live.room.set_locked(locked):
                await self._rooms.save(live.room, [], expected_version=expected)
            live.broadcast(s.HostNotice("lock" if locked else "unlock", session.participant_id))

    async def _on_host_action(self, live: LiveRoom, session: Session, action: s.HostAction) -> None:
        host_actions.check_host(is_host=session.grants.is_host)
        if action.action == "end_room":
            # Shielded, as a leave is: ending closes this very stream, and its reader (running this)
            # is cancelled then; the end and its RoomEnded must be saved all the same.
            await asyncio.shield(self.end_room(live.room.room_id, "ended_by_host"))
            return
        if action.action in ("lock", "unlock"):
            await self._lock(live, session, locked=action.action == "lock")
            return
        unload = False
        moderation: tuple[Session, set[str], bool] | None = None
        async with live.lock:
            target = live.sessions.get(action.participant_id)
            if target is None or target.gone:
                raise NotFound("no such participant in this room", reason="PARTICIPANT_NOT_FOUND")
            host_actions.check_target(action.action, on_self=target is session, target_waiting=target.waiting)
            notice = s.HostNotice(action.action, session.participant_id, action.track)
            if action.action == "admit":
                target.send(notice)
                await self._activate(live, target)
                return
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
                    tracks = host_actions.tracks_of(action.track)
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
                    target.grants = host_actions.promoted(target.grants)
                    target.hand_raised = False
                elif action.action == "demote":
                    target.grants = host_actions.demoted(target.grants)
                    self._media.unpublish(live, target)
                    target.p2p_screen = False
                elif action.action in ("allow_screen_share", "stop_screen_share"):
                    screen_share.check_share_target(action.action, target_is_host=target.grants.is_host)
                    target.screen_decision = action.action == "allow_screen_share"
                    if not target.screen_decision:
                        self._stop_screen(live, target, announce=False)
                target.send(notice)
                live.broadcast(s.ParticipantUpdatedMsg(target.view(self._clock.now())))
        if moderation is not None:
            # Outside the room lock: one slow SFU call must not stall the room.
            await self._media.moderate(live, *moderation)
        if unload:
            await self._leases.unload_if_empty(live)
