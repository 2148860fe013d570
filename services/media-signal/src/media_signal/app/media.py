"""The SFU (Janus) wiring of live rooms: the SFU room of a room, publishers and their feeds,
subscriptions, trickled candidates, host mutes enforced in the SFU, and handles released.

A participant publishes up to two feeds: the camera (with the microphone) and a shared screen
(`source="screen"`, a second Janus publisher). Subscriptions carry the source they are for, so
a viewer receives the screen as its own stream, marked in the offer.

Slow SFU calls run outside the room lock (one publisher never stalls a join storm); what they
change in the live room is applied under it afterwards, undone when the session left meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from parta_common.clock import Clock
from parta_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Unavailable

from media_signal.app import signals as s
from media_signal.app.live_rooms import Background, LiveRoom, Session
from media_signal.app.ports import RoomRepository, Sfu, SfuFeedNotReady
from media_signal.domain.rooms import RoomState
from media_signal.domain.screen_share import SOURCES, check_may_share

log = structlog.get_logger("media_signal.hub")
# Janus publisher slots beyond one per participant: screens shared at the same time.
SCREEN_SLOTS = 10


class SfuMedia:
    def __init__(
        self, *, sfu: Sfu, rooms: RoomRepository, clock: Clock, new_id: Callable[[], str], background: Background
    ):
        self._sfu = sfu
        self._rooms = rooms
        self._clock = clock
        self._new_id = new_id
        self._background = background

    def release(self, live: LiveRoom, session: Session) -> None:
        handles = [h for h, _, _ in session.subscriptions.values()]
        session.subscriptions.clear()
        for handle in handles:
            self._background.spawn(self.detach_quietly(handle), "sfu-detach")
        self.unpublish(live, session)

    def unpublish(self, live: LiveRoom, session: Session, sources: tuple[str, ...] = SOURCES) -> bool:
        """Ends the session's feeds of these sources and everyone's subscriptions to them; whether
        there was one."""
        handles: list[str] = []
        for source in sources:
            if source == "screen" and session.screen_handle:
                handles.append(session.screen_handle)
                session.screen_handle, session.screen_feed_id = "", 0
            elif source == "camera" and session.publisher_handle:
                handles.append(session.publisher_handle)
                session.publisher_handle, session.feed_id, session.publisher_mids = "", 0, {}
            else:
                continue
            for other in live.sessions.values():
                for sub_id, (handle, publisher, of) in list(other.subscriptions.items()):
                    if publisher == session.participant_id and of == source:
                        handles.append(handle)
                        del other.subscriptions[sub_id]
        for handle in handles:
            self._background.spawn(self.detach_quietly(handle), "sfu-detach")
        return bool(handles)

    async def detach_quietly(self, handle: str) -> None:
        with contextlib.suppress(Exception):
            await self._sfu.detach(handle)

    async def publish(self, live: LiveRoom, session: Session, sdp: s.Sdp) -> None:
        if sdp.participant_id or sdp.subscription_id:
            raise InvalidArgument.field("participant_id", "offers in SFU rooms go to the server: leave it empty")
        if sdp.source == "screen":
            await self._publish_screen(live, session, sdp)
            return
        if not session.grants.can_publish:
            raise PermissionDenied("you are not on stage: publishing is not allowed", reason="PUBLISH_NOT_ALLOWED")
        if session.publisher_handle:
            raise FailedPrecondition("already publishing", reason="ALREADY_PUBLISHING")
        sfu_room = await self.sfu_room(live)
        published = await self._sfu.publish(sfu_room, session.participant_id, sdp.sdp)
        async with live.lock:
            if session.gone or not session.grants.can_publish or session.publisher_handle:
                # Left or was demoted while the SFU answered (or a twin offer won): undo quietly.
                self._background.spawn(self.detach_quietly(published.handle), "sfu-detach")
                return
            session.publisher_handle, session.feed_id = published.handle, published.feed_id
            session.publisher_mids = dict(published.mids)
            session.send(s.SdpOut("answer", published.answer_sdp))
            if session.host_muted:
                # Muted by the host before publishing (or republishing): the new feed starts muted.
                self._background.spawn(self.moderate(live, session, session.host_muted, True), "sfu-moderate")
            live.broadcast(s.ParticipantUpdatedMsg(session.view(self._clock.now())))
            for other in live.active():
                if other is not session and other.grants.can_subscribe:
                    self._background.spawn(self.subscribe(live, other, session), "sfu-subscribe")

    async def _publish_screen(self, live: LiveRoom, session: Session, sdp: s.Sdp) -> None:
        """A second feed beside the camera: the shared screen, offered to every viewer as its own
        subscription marked `screen`."""
        check_may_share(session.screen_policy, session.grants, session.screen_decision)
        if session.screen_handle:
            raise FailedPrecondition("already sharing a screen", reason="ALREADY_SHARING")
        sfu_room = await self.sfu_room(live)
        published = await self._sfu.publish(sfu_room, f"{session.participant_id}/screen", sdp.sdp)
        async with live.lock:
            if session.gone or not session.may_share_screen or session.screen_handle:
                # Left, demoted or stopped by the host while the SFU answered: undo quietly.
                self._background.spawn(self.detach_quietly(published.handle), "sfu-detach")
                return
            session.screen_handle, session.screen_feed_id = published.handle, published.feed_id
            session.send(s.SdpOut("answer", published.answer_sdp, source="screen"))
            live.broadcast(s.ParticipantUpdatedMsg(session.view(self._clock.now())))
            for other in live.active():
                if other is not session and other.grants.can_subscribe:
                    self._background.spawn(self.subscribe(live, other, session, "screen"), "sfu-subscribe")

    async def sfu_room(self, live: LiveRoom) -> int:
        async with live.sfu_lock:
            if not live.sfu_room:
                publishers = max(4, min(live.room.max_participants, 100)) + SCREEN_SLOTS
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
                self._background.spawn(self.destroy_quietly(number), "sfu-destroy")
                raise

    async def destroy_quietly(self, sfu_room: int) -> None:
        try:
            await self._sfu.destroy_room(sfu_room)
        except Exception as exc:
            # The sweep (app/sfu_rooms.py) finds it once the room has ended.
            log.warning("sfu_room_destroy_failed", sfu_room=sfu_room, error=type(exc).__name__)

    async def subscribe(self, live: LiveRoom, subscriber: Session, publisher: Session, source: str = "camera") -> None:
        feed = publisher.feed(source)
        delay = 0.1
        busy = 0
        for _attempt in range(40):
            if subscriber.gone or publisher.gone or publisher.feed(source) != feed:
                return
            try:
                sub = await self._sfu.subscribe(live.sfu_room, feed)
                break
            except SfuFeedNotReady:
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 0.5)
            except Unavailable as exc:
                # A busy or briefly unreachable SFU (a join storm): try again a few times rather
                # than leave this subscriber without the feed for the rest of the call.
                busy += 1
                if busy > 3:
                    log.warning("sfu_subscribe_failed", reason=exc.reason)
                    return
                await asyncio.sleep(delay * 2)
            except Exception:
                log.exception("sfu_subscribe_failed")
                return
        else:
            log.warning("sfu_feed_never_ready")
            return
        if subscriber.gone or publisher.gone or publisher.feed(source) != feed:
            await self.detach_quietly(sub.handle)
            return
        sub_id = self._new_id()
        subscriber.subscriptions[sub_id] = (sub.handle, publisher.participant_id, source)
        subscriber.send(s.SdpOut("offer", sub.offer_sdp, publisher.participant_id, sub_id, source))

    async def answer(self, session: Session, sdp: s.Sdp) -> None:
        """A subscriber's answer to the offer of one subscription."""
        entry = session.subscriptions.get(sdp.subscription_id)
        if entry is None:
            raise NotFound("no such subscription", reason="SUBSCRIPTION_NOT_FOUND")
        await self._sfu.start(entry[0], sdp.sdp)

    async def trickle(self, session: Session, c: s.Candidate) -> None:
        if c.subscription_id:
            entry = session.subscriptions.get(c.subscription_id)
            if entry is None:
                raise NotFound("no such subscription", reason="SUBSCRIPTION_NOT_FOUND")
            handle = entry[0]
        elif c.source == "screen":
            if not session.screen_handle:
                raise FailedPrecondition("send the screen's offer before its candidates", reason="NOT_SHARING")
            handle = session.screen_handle
        elif session.publisher_handle:
            handle = session.publisher_handle
        else:
            raise FailedPrecondition("send the offer before its candidates", reason="NOT_PUBLISHING")
        await self._sfu.trickle(handle, c.candidate, c.sdp_mid, c.sdp_mline_index)

    async def moderate(self, live: LiveRoom, target: Session, tracks: set[str], mute: bool) -> None:
        """Host mute in the SFU. Peer-to-peer calls have no server in the media path: there the
        mute is a notice the other clients honour (documented in docs/media-signal.md)."""
        mids = [mid for kind in sorted(tracks) for mid in target.publisher_mids.get(kind, ())]
        if not mids or not target.feed_id:
            return
        try:
            await self._sfu.moderate(live.sfu_room, target.feed_id, mids, mute)
        except Exception:
            log.exception("sfu_moderate_failed", participant_id=target.participant_id)
