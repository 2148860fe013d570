"""Ports of media-signal: storage, the membership projection, grants, TURN and the SFU."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from parta_common.safety import SchoolPolicy

from media_signal.domain.rooms import Access, Grants, Membership, Room
from media_signal.domain.timetables import TimetablePlan


class RoomRepository(Protocol):
    async def create(self, room: Room, events: list[object]) -> Room:
        """Insert; when the id exists already (a retried create) return the stored room."""
        ...

    async def get(self, room_id: str) -> Room | None: ...

    async def save(self, room: Room, events: list[object], *, expected_version: int) -> None:
        """Write the room and its events in one update; Aborted when the version moved."""
        ...

    async def claim(self, room_id: str, replica: str, address: str, lease_until: datetime, now: datetime) -> Owner:
        """Become the room's signalling owner unless another replica holds a live lease; returns the owner."""
        ...

    async def release(self, room_id: str, replica: str) -> None: ...

    async def owner(self, room_id: str, now: datetime) -> Owner | None:
        """The replica holding a live lease on the room, if any."""
        ...


@dataclass(frozen=True)
class Owner:
    replica: str
    address: str


class OwnerUnreachable(Exception):
    """The replica holding a room live did not answer (down, partitioned, too slow)."""


# Set on a forwarded call: its receiver never forwards it again (no ping-pong while leases move).
# A client that sets it gains nothing: the call is still authenticated and authorized, it only
# skips the forwarding. (The metadata key a replica sets when it forwards a call to the room's owner.)
FORWARDED_BY = "x-parta-forwarded-by"


class OwnerReplicas(Protocol):
    """The other signalling replicas, reached over gRPC at the address in a room's lease."""

    async def end_room(self, address: str, room_id: str, credentials: str) -> None:
        """EndRoom on the owner, as the caller (`credentials`: the caller's own authorization
        header, so the owner authenticates and authorizes the call like any other). Raises the
        owner's DomainError as is, and OwnerUnreachable when the owner could not be asked."""
        ...


class Policies(Protocol):
    """Each school's communication policy as this replica knows it, in memory (the kit's PolicyBook,
    fed by the school projection): deciding a call never waits for the store to learn it."""

    def get(self, school_id: str) -> SchoolPolicy: ...


class DirectoryProjection(Protocol):
    """The write side of the projections `MembershipDirectory` and `Policies` read, fed by school's
    and identity's events. Every write carries the event's aggregate version and is ignored when
    the stored one is as new or newer, so replays and late duplicates are no-ops."""

    async def school_policy(self, school_id: str, policy: SchoolPolicy, version: int) -> None: ...

    async def school_class(self, class_id: str, school_id: str, title: str, archived: bool, version: int) -> None: ...

    async def membership(self, membership_id: str, membership: Membership, active: bool, version: int) -> None: ...

    async def person(self, user_id: str, *, awaiting_guardian: bool, has_profile: bool, version: int) -> None:
        """Has an educational profile; awaits a guardian's consent (identity's facts)."""
        ...


class MembershipDirectory(Protocol):
    async def access(self, school_id: str, user_id: str) -> Access: ...

    async def accesses(self, school_id: str, user_ids: Sequence[str]) -> list[Access]:
        """Each person's access, in the order asked, read together (a call's invitees): the
        store commands do not grow with the number of people."""
        ...

    async def class_exists(self, school_id: str, class_id: str) -> bool: ...


@dataclass(frozen=True)
class JoinClaims:
    user_id: str
    room_id: str
    school_id: str
    grants: Grants
    expires_at: datetime


class JoinTokenCodec(Protocol):
    def issue(self, claims: JoinClaims, issued_at: datetime) -> str: ...

    def verify(self, token: str, now: datetime) -> JoinClaims:
        """Unauthenticated (JOIN_TOKEN_EXPIRED / JOIN_TOKEN_INVALID) when it is not ours or too old."""
        ...


@dataclass(frozen=True)
class IceServer:
    urls: tuple[str, ...]
    username: str = ""
    credential: str = ""


class IceServerProvider(Protocol):
    def ice_servers(self, user_id: str, now: datetime) -> list[IceServer]: ...


@dataclass(frozen=True)
class Published:
    handle: str
    feed_id: int
    answer_sdp: str
    # The publisher's media sections: track kind ("audio" | "video") → SDP mids (for moderation).
    mids: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Subscribed:
    handle: str
    offer_sdp: str


@dataclass(frozen=True)
class SfuRoomInfo:
    """An SFU room this deployment created: its number and the Parta room it was made for."""

    number: int
    room_id: str


class SfuFeedNotReady(Exception):
    """The publisher's media is not up yet in the SFU; subscribing again shortly will work."""


class Sfu(Protocol):
    """The selective forwarding unit (Janus VideoRoom); handles are opaque strings."""

    # Names the SFU this replica talks to, as recorded in room documents (which Janus a number is on).
    instance: str

    async def create_room(self, room_id: str, max_publishers: int) -> int: ...

    async def destroy_room(self, sfu_room: int) -> None:
        """Idempotent: a room the SFU does not have (any more) counts as destroyed."""
        ...

    async def list_rooms(self) -> list[SfuRoomInfo]:
        """The SFU rooms this deployment created (others sharing the SFU are never listed)."""
        ...

    async def publish(self, sfu_room: int, display: str, offer_sdp: str) -> Published: ...

    async def subscribe(self, sfu_room: int, feed_id: int) -> Subscribed: ...

    async def start(self, handle: str, answer_sdp: str) -> None: ...

    async def trickle(self, handle: str, candidate: str, sdp_mid: str, sdp_mline_index: int) -> None: ...

    async def detach(self, handle: str) -> None: ...

    async def moderate(self, sfu_room: int, feed_id: int, mids: Sequence[str], mute: bool) -> None:
        """Host mute enforced in the SFU: stop (or resume) relaying these streams of a publisher."""
        ...


class TimetablePlans(Protocol):
    """The timetables school published (TimetableChanged), one per class, newest version wins."""

    async def put(self, plan: TimetablePlan) -> bool:
        """False when a plan of this version or a newer one is stored already (a replay)."""
        ...

    async def get(self, class_id: str) -> TimetablePlan | None: ...

    async def running(self, today: date) -> list[TimetablePlan]:
        """Plans whose term has not ended by `today` (the horizon pass)."""
        ...


class TimetableLessons(Protocol):
    """The rooms made from timetables, read by the materialisation pass."""

    async def scheduled(self, class_id: str, start: datetime, end: datetime) -> list[Room]:
        """Scheduled (not started) timetable lessons of the class starting in [start, end)."""
        ...

    async def existing(self, room_ids: Sequence[str]) -> dict[str, Room]:
        """The rooms of these ids that exist (one read for a whole pass)."""
        ...

    async def class_archived(self, class_id: str) -> bool:
        """True once school archived the class (a class not projected yet is not archived)."""
        ...
