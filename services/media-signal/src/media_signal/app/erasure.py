"""Erasure of a deleted account in media-signal (issue 17), run on identity's AccountDeleted.

Attendance is anonymised, not removed: a lesson keeps how many attended and for how long (the
school's record of the lesson), but the erased person's entry no longer carries their user id — it
carries a token minted once for this person's erasure ("erased-<16 hex>", the ledger's), the same
in every room, so no one can tie it back to the account. Invitations to and presenter rights in
rooms lose the id. Rooms keep their host id (a room is the host's record; a host's name was never
stored here). The counts go out as media-signal's erasure report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from parta_common.clock import Clock
from parta_common.erasure import ErasureLedger

SERVICE = "media-signal"


class RoomErasure(Protocol):
    async def anonymise(self, user_id: str, token: str) -> tuple[int, int]:
        """Replaces `user_id` by `token` in every room's attendance and drops it from invitations
        and presenters; (attendance entries anonymised, rooms changed). Idempotent."""


@dataclass
class Erasure:
    ledger: ErasureLedger
    rooms: RoomErasure
    clock: Clock

    async def erase(self, user_id: str, requested_by: str) -> dict[str, int] | None:
        run = await self.ledger.start(user_id, requested_by, self.clock.now())
        if run is None:
            return None
        entries, rooms = await self.rooms.anonymise(user_id, run.token)
        await self.ledger.add(user_id, "attendance_anonymised", entries)
        await self.ledger.add(user_id, "rooms", rooms)
        return await self.ledger.finish(user_id, self.clock.now())
