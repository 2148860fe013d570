"""SFU rooms that must not outlive their Parta room: destroying the one a room document records
when its creator is gone, and sweeping the SFU for rooms of ended (or unknown) rooms.

The replica that holds a room live destroys its own SFU room when the room ends or empties. These
are the paths without it: the EndRoom store fallback (owner unreachable or dead), a replica taking
over a room whose lease ran out, and a periodic sweep for what slipped between (a replica that
died after creating an SFU room but before recording it, or an SFU that was down when asked).
"""

from __future__ import annotations

import structlog
from parta_common.workers import PeriodicWorker

from media_signal.app.ports import RoomRepository, Sfu
from media_signal.domain.rooms import Room, RoomState

log = structlog.get_logger("media_signal.sfu_rooms")


async def destroy_recorded_sfu_room(sfu: Sfu, room: Room) -> bool:
    """Destroys the SFU room recorded in the room; True when it is gone (or there was none).

    False when this replica cannot do it — the room is on another SFU instance than ours, or the
    SFU refused or did not answer — so the record stays and the sweep tries again later.
    """
    if not room.sfu_room:
        return True
    if room.sfu_instance and room.sfu_instance != sfu.instance:
        # A replica only reaches its own SFU; that SFU's replicas (or its own restart) clear it.
        log.warning("sfu_room_on_other_instance", room_id=room.room_id, sfu_room=room.sfu_room)
        return False
    try:
        await sfu.destroy_room(room.sfu_room)
    except Exception as exc:
        log.warning("sfu_room_destroy_failed", room_id=room.room_id, sfu_room=room.sfu_room, error=type(exc).__name__)
        return False
    log.info("sfu_room_destroyed_without_owner", room_id=room.room_id, sfu_room=room.sfu_room)
    return True


class SfuRoomSweeper:
    """Destroys SFU rooms this deployment created whose room has ended or does not exist.

    Runs once shortly after start (a replica that died leaves rooms behind; its restart is the
    first to look) and every `interval` seconds. Bounded: at most `batch` rooms are looked up per
    sweep, continuing after the last number checked, so a busy SFU is covered over several sweeps
    without one sweep reading the whole store. Live rooms are never touched: their holder, or the
    replica that takes them over, owns their SFU room.
    """

    def __init__(
        self, *, sfu: Sfu, rooms: RoomRepository, interval: float = 300.0, first_after: float = 5.0, batch: int = 200
    ):
        self._sfu = sfu
        self._rooms = rooms
        self._batch = batch
        self._after = 0
        self._worker = PeriodicWorker("sfu-sweeper", self.sweep, interval, first_delay=first_after)

    async def start(self) -> None:
        await self._worker.start()

    async def stop(self) -> None:
        await self._worker.stop()

    async def sweep(self) -> int:
        """One pass; returns how many SFU rooms it destroyed."""
        listed = sorted(await self._sfu.list_rooms(), key=lambda info: info.number)
        batch = [info for info in listed if info.number > self._after][: self._batch]
        if len(batch) < self._batch:
            # Wrapped around: start from the lowest numbers again next time.
            batch += [info for info in listed if info.number <= self._after][: self._batch - len(batch)]
            self._after = 0
        else:
            self._after = batch[-1].number
        destroyed = 0
        for info in batch:
            room = await self._rooms.get(info.room_id)
            if room is not None and room.state is not RoomState.ENDED:
                continue
            try:
                await self._sfu.destroy_room(info.number)
            except Exception as exc:
                log.warning(
                    "sfu_sweep_destroy_failed", room_id=info.room_id, sfu_room=info.number, error=type(exc).__name__
                )
                continue
            destroyed += 1
            log.info(
                "sfu_room_swept", room_id=info.room_id, sfu_room=info.number, room_state=room.state if room else "none"
            )
        if destroyed:
            log.info("sfu_sweep_done", listed=len(listed), checked=len(batch), destroyed=destroyed)
        return destroyed
