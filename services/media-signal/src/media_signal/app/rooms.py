"""Room use cases: create, get, start, end, and issuing join grants."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from parta_common.clock import Clock
from parta_common.errors import InvalidArgument, NotFound
from parta_common.safety import PolicyBook

from media_signal.app.ports import (
    IceServer,
    IceServerProvider,
    JoinClaims,
    JoinTokenCodec,
    MembershipDirectory,
    OwnerReplicas,
    OwnerUnreachable,
    Policies,
    RoomRepository,
    Sfu,
)
from media_signal.app.sfu_rooms import destroy_recorded_sfu_room
from media_signal.domain import events
from media_signal.domain.policy import check_call_contacts, check_call_group
from media_signal.domain.rooms import (
    Access,
    Grants,
    NewRoom,
    Room,
    RoomKind,
    RoomState,
    check_can_create,
    check_can_host,
    grants_for,
    id_ok,
    new_room,
    require_host,
    require_same_school,
    validate_new_room,
)

log = structlog.get_logger("media_signal.rooms")


class LiveRooms(Protocol):
    """The signalling hub, seen from the room use cases: ends rooms it holds live."""

    async def end_room(self, room_id: str, reason: str) -> Room | None: ...


class IdFactory(Protocol):
    def __call__(self, scope: str, actor: str, request_id: str) -> str: ...


@dataclass(frozen=True)
class JoinGrant:
    token: str
    expires_at: datetime
    grants: Grants
    ice_servers: list[IceServer]
    signal_address: str


class RoomUseCases:
    def __init__(
        self,
        *,
        rooms: RoomRepository,
        directory: MembershipDirectory,
        tokens: JoinTokenCodec,
        ice: IceServerProvider,
        clock: Clock,
        room_ids: IdFactory,
        live: LiveRooms | None = None,
        join_token_ttl: timedelta = timedelta(minutes=2),
        signal_address: str = "",
        owners: OwnerReplicas | None = None,
        replica: str = "",
        sfu: Sfu | None = None,
        policies: Policies | None = None,
    ):
        self._policies: Policies = policies if policies is not None else PolicyBook()
        self._rooms = rooms
        self._directory = directory
        self._tokens = tokens
        self._ice = ice
        self._clock = clock
        self._room_ids = room_ids
        self.live = live
        self._ttl = join_token_ttl
        self._signal_address = signal_address
        self._owners = owners
        self._replica = replica
        self._sfu = sfu

    async def create_room(self, cmd: NewRoom, user_id: str) -> Room:
        now = self._clock.now()
        validate_new_room(cmd, now)
        access = await self._directory.access(cmd.school_id, user_id)
        known_class = bool(cmd.class_id) and await self._directory.class_exists(cmd.school_id, cmd.class_id)
        assert cmd.kind is not None
        check_can_create(cmd.kind, cmd.class_id, access, known_class)
        people: dict[str, list[Access]] = {}
        for field, users in (
            ("invited_user_ids", cmd.invited_user_ids),
            ("presenter_user_ids", cmd.presenter_user_ids),
        ):
            if not users:
                continue
            people[field] = await self._directory.accesses(cmd.school_id, list(users))
            if not all(other.is_member for other in people[field]):
                # Same answer for "no such user" and "user of another school": the closed contour.
                raise InvalidArgument.field(field, "not a member of this school")
        room = new_room(cmd, room_id=self._room_ids("room", user_id, cmd.request_id), host_user_id=user_id, now=now)
        if room.kind is RoomKind.CALL:
            # Safety for minors: everyone in the call (host and invitees) must be allowed to meet.
            check_call_group([access, *people.get("invited_user_ids", [])], self._policies.get(cmd.school_id))
        elif room.kind is RoomKind.BROADCAST and room.class_id:
            # On a class broadcast the stage is for its audience (parents, teachers, admins) only.
            audience = replace(room, presenter_user_ids=())
            for presenter in people.get("presenter_user_ids", []):
                if presenter.user_id != user_id:
                    grants_for(audience, presenter)
        created: list[object] = [events.RoomScheduled(room)]
        if room.state is RoomState.LIVE:
            created.append(events.RoomStarted(room, now))
        return await self._rooms.create(room, created)

    async def _visible_room(self, room_id: str, user_id: str) -> Room:
        return (await self._room_and_access(room_id, user_id))[0]

    async def _room_and_access(self, room_id: str, user_id: str) -> tuple[Room, Access]:
        if not id_ok(room_id):
            raise InvalidArgument.field("room_id", "required, up to 64 characters")
        room = await self._rooms.get(room_id)
        if room is None:
            raise NotFound("room not found", reason="ROOM_NOT_FOUND")
        access = await self._directory.access(room.school_id, user_id)
        require_same_school(access)
        return room, access

    async def get_room(self, room_id: str, user_id: str) -> Room:
        """Reading a room follows the same rules as joining it (grants and, for calls, every pair),
        whatever its state: who may not join a call does not learn who is in it."""
        room, access = await self._room_and_access(room_id, user_id)
        grants_for(room, access)
        if room.kind is RoomKind.CALL:
            await self._check_contacts(room, access)
        return room

    async def start_room(self, room_id: str, user_id: str) -> Room:
        room, host = await self._room_and_access(room_id, user_id)
        require_host(room, user_id)
        if room.state is RoomState.SCHEDULED:
            # Re-checked at start: a scheduled room may be weeks old and memberships change.
            await self._check_host_and_contacts(room, host)
        version = room.version
        now = self._clock.now()
        if room.start(now):
            await self._rooms.save(room, [events.RoomStarted(room, now)], expected_version=version)
        return room

    async def end_room(self, room_id: str, user_id: str, *, credentials: str = "", forwarded: bool = False) -> Room:
        """Ends the room wherever its participants are connected.

        The replica holding the room live ends it itself (closes every stream with room_ended,
        destroys the SFU room, writes attendance). Any other replica forwards the call to that
        owner as the caller (`credentials`), and only when the owner cannot be reached writes
        ENDED to the store itself; the owner then notices at its next lease renewal. A forwarded
        call (`forwarded`) is never forwarded again: if its receiver no longer holds the room,
        nobody does, and the store write is the whole job.
        """
        room = await self._visible_room(room_id, user_id)
        require_host(room, user_id)
        if room.state is RoomState.ENDED:
            return room
        if self.live is not None:
            ended = await self.live.end_room(room_id, "ended_by_host")
            if ended is not None:
                return ended
        if not forwarded:
            ended = await self._end_on_owner(room_id, credentials)
            if ended is not None:
                return ended
        version = room.version
        now = self._clock.now()
        if room.end(now):
            await self._rooms.save(room, [events.RoomEnded(room, now, dict(room.attendance))], expected_version=version)
            if self._sfu is not None and room.sfu_room_orphaned(holder_alive=False):
                # Ended without its holder (dead, unreachable, or gone): its SFU room would
                # otherwise linger on Janus. A live holder that missed the call finds it gone
                # ("no such room" counts as destroyed) when it closes at its next lease renewal.
                await destroy_recorded_sfu_room(self._sfu, room)
        return room

    async def _end_on_owner(self, room_id: str, credentials: str) -> Room | None:
        """Forwards EndRoom to the replica holding the room live; the ended room, or None when no
        other replica holds it or the owner cannot be reached."""
        if self._owners is None or not credentials:
            return None
        owner = await self._rooms.owner(room_id, self._clock.now())
        if owner is None or not owner.address or owner.replica == self._replica:
            return None
        try:
            await self._owners.end_room(owner.address, room_id, credentials)
        except OwnerUnreachable:
            # Ending must not depend on one replica being up: the store write below makes the
            # room ENDED for everyone, and a live owner closes its streams at the next renewal.
            log.warning("end_room_owner_unreachable", room_id=room_id, owner_replica=owner.replica)
            return None
        ended = await self._rooms.get(room_id)
        return ended if ended is not None and ended.state is RoomState.ENDED else None

    async def _check_contacts(self, room: Room, me: Access) -> None:
        """A call's person against everyone else it may bring them together with (host and
        invitees), on the projection as it is now: a parent who lost the child, or a student who
        moved class, is refused from then on."""
        others = [u for u in (room.host_user_id, *room.invited_user_ids) if u != me.user_id]
        people = await self._directory.accesses(room.school_id, others)  # one read for the whole call
        check_call_contacts(me, people, self._policies.get(room.school_id))

    async def _check_host_and_contacts(self, room: Room, host: Access) -> None:
        check_can_host(room.kind, room.class_id, host)
        if room.kind is RoomKind.CALL:
            members = await self._directory.accesses(room.school_id, list(room.invited_user_ids))
            check_call_group([host, *members], self._policies.get(room.school_id))

    async def create_join_token(self, room_id: str, user_id: str) -> JoinGrant:
        room, access = await self._room_and_access(room_id, user_id)
        room.require_live()
        grants = grants_for(room, access)
        room.require_open(user_id, is_host=grants.is_host)
        if room.kind is RoomKind.CALL:
            await self._check_contacts(room, access)
        now = self._clock.now()
        expires = now + self._ttl
        token = self._tokens.issue(JoinClaims(user_id, room.room_id, room.school_id, grants, expires), now)
        # Rooms are pinned: point the client at the replica that owns the room, if one does.
        owner = await self._rooms.owner(room.room_id, now)
        address = owner.address if owner and owner.address else self._signal_address
        return JoinGrant(token, expires, grants, self._ice.ice_servers(user_id, now), address)
