"""Room leasing: which live rooms this replica holds. A room is pinned to one replica by a lease in
its document, claimed on first join, renewed while it is held and released when it empties, so
this process is the only writer of the rooms it holds."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from parta_common.clock import Clock
from parta_common.errors import Aborted, FailedPrecondition, NotFound

from media_signal.app.live_rooms import LiveRoom
from media_signal.app.media import SfuMedia
from media_signal.app.ports import RoomRepository, Sfu
from media_signal.app.sfu_rooms import destroy_recorded_sfu_room
from media_signal.domain.rooms import Room, RoomState


class RoomLeases:
    def __init__(
        self,
        *,
        rooms: RoomRepository,
        sfu: Sfu,
        media: SfuMedia,
        clock: Clock,
        replica: str,
        address: str,
        lease_seconds: float,
    ):
        self._rooms = rooms
        self._sfu = sfu
        self._media = media
        self._clock = clock
        self.replica = replica
        self._address = address
        self.lease_seconds = lease_seconds
        self.live: dict[str, LiveRoom] = {}
        self._load_lock = asyncio.Lock()

    async def renew(self) -> list[tuple[LiveRoom, Room]]:
        """Renews every lease this replica holds; returns the held rooms the store says have ended."""
        ended: list[tuple[LiveRoom, Room]] = []
        now = self._clock.now()
        for room_id in list(self.live):
            await self._rooms.claim(
                room_id, self.replica, self._address, now + timedelta(seconds=self.lease_seconds), now
            )
            stored = await self._rooms.get(room_id)
            live = self.live.get(room_id)
            if stored is not None and stored.state is RoomState.ENDED and live is not None:
                ended.append((live, stored))
        return ended

    async def load(self, room_id: str) -> LiveRoom:
        async with self._load_lock:
            live = self.live.get(room_id)
            if live is not None:
                return live
            room = await self._rooms.get(room_id)
            if room is None:
                raise NotFound("room not found", reason="ROOM_NOT_FOUND")
            room.require_live()
            now = self._clock.now()
            owner = await self._rooms.claim(
                room_id, self.replica, self._address, now + timedelta(seconds=self.lease_seconds), now
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
            self.live[room_id] = live
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

    async def unload_if_empty(self, live: LiveRoom) -> None:
        async with self._load_lock:
            if live.sessions or live.unloaded:
                return
            live.unloaded = True
            self.live.pop(live.room.room_id, None)
        if live.sfu_room:
            # Before the release: once the lease is free another replica may open a room under the
            # same number. The document keeps the number: whoever loads the room next destroys it
            # again, which the SFU answers with "no such room" (done); forgetting it here would
            # need a second write racing that next holder's claim.
            await self._media.destroy_quietly(live.sfu_room)
        await self._rooms.release(live.room.room_id, self.replica)
