"""Listing a school's rooms: what a member sees is exactly what they could join.

The store returns the school's rooms in listing order; each one is shown only when `grants_for`
would let this person in (the same rule CreateJoinToken applies), so a list never reveals a call
one is not part of, or another class's lesson. Paging counts scanned rooms, so a page may hold
fewer rooms than asked for while more follow; the token says where the scan stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from parta_common.errors import DomainError, InvalidArgument, Violations

from media_signal.app.ports import MembershipDirectory
from media_signal.domain.rooms import Access, Room, RoomKind, RoomState, grants_for, id_ok, require_same_school

DEFAULT_STATES = (RoomState.SCHEDULED, RoomState.LIVE)
# Rooms read from the store per call at most, whatever the page size: bounds the work a caller
# with few visible rooms in a big school can cause.
SCAN_LIMIT = 500


@dataclass(frozen=True)
class RoomQuery:
    school_id: str
    class_id: str = ""
    states: tuple[RoomState, ...] = DEFAULT_STATES
    kinds: tuple[RoomKind, ...] = ()


class RoomCatalog(Protocol):
    async def scan(self, query: RoomQuery, *, offset: int, limit: int) -> list[Room]:
        """Rooms matching `query` in listing order (unscheduled first, then by scheduled time,
        then by creation and id), skipping the first `offset`."""
        ...


@dataclass(frozen=True)
class RoomPage:
    rooms: list[Room]
    next_offset: int | None


def visible_to(room: Room, access: Access) -> bool:
    try:
        grants_for(room, access)
    except DomainError:
        return False
    return True


class RoomListing:
    def __init__(self, *, catalog: RoomCatalog, directory: MembershipDirectory):
        self._catalog = catalog
        self._directory = directory

    async def list_rooms(self, query: RoomQuery, user_id: str, *, page_size: int, offset: int) -> RoomPage:
        v = Violations()
        if not id_ok(query.school_id):
            v.add("school_id", "required, up to 64 characters")
        if query.class_id and not id_ok(query.class_id):
            v.add("class_id", "up to 64 characters")
        v.raise_if_any()
        if offset < 0:
            raise InvalidArgument.field("page.page_token", "not a page token from this service")
        access = await self._directory.access(query.school_id, user_id)
        require_same_school(access)
        shown: list[Room] = []
        position, end = offset, offset + SCAN_LIMIT
        while position < end:
            wanted = min(100, end - position)
            batch = await self._catalog.scan(query, offset=position, limit=wanted)
            for room in batch:
                position += 1
                if visible_to(room, access):
                    shown.append(room)
                    if len(shown) == page_size:
                        return RoomPage(shown, position)
            if len(batch) < wanted:
                return RoomPage(shown, None)  # the store has no more
        return RoomPage(shown, position)


def states_or_default(states: Sequence[RoomState]) -> tuple[RoomState, ...]:
    return tuple(dict.fromkeys(states)) or DEFAULT_STATES
