"""In-memory fakes of media-signal's ports and the steps its unit tests share (no infrastructure)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime

from media_signal.app.ports import Owner, Published, Subscribed
from media_signal.domain.rooms import (
    Access,
    Membership,
    NewRoom,
    Room,
    RoomKind,
    RoomState,
)
from media_signal.domain.timetables import TimetablePlan

SCHOOL, CLASS = "school-1", "class-5a"


class FakeRooms:
    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self.events: list[object] = []
        self.owner_of: dict[str, Owner] = {}

    async def create(self, room: Room, evts: list[object]) -> Room:
        if room.room_id in self.rooms:
            return self.rooms[room.room_id]
        self.rooms[room.room_id] = room
        self.events += evts
        return room

    async def get(self, room_id: str) -> Room | None:
        return self.rooms.get(room_id)

    async def save(self, room: Room, evts: list[object], *, expected_version: int) -> None:
        self.rooms[room.room_id] = room
        self.events += evts

    async def claim(self, room_id: str, replica: str, address: str, lease_until: datetime, now: datetime) -> Owner:
        return self.owner_of.setdefault(room_id, Owner(replica, address))

    async def owner(self, room_id: str, now: datetime) -> Owner | None:
        return self.owner_of.get(room_id)

    async def release(self, room_id: str, replica: str) -> None:
        if self.owner_of.get(room_id, Owner("", "")).replica == replica:
            del self.owner_of[room_id]


class FakeDirectory:
    def __init__(self, memberships: list[Membership]):
        self.memberships = memberships
        self.batches: list[list[str]] = []  # the people each accesses() call asked for

    async def access(self, school_id: str, user_id: str) -> Access:
        return Access(
            user_id,
            school_id,
            tuple(m for m in self.memberships if m.school_id == school_id and m.user_id == user_id),
            has_profile=True,
        )

    async def accesses(self, school_id: str, user_ids: Sequence[str]) -> list[Access]:
        self.batches.append(list(user_ids))
        return [await self.access(school_id, u) for u in user_ids]

    async def class_exists(self, school_id: str, class_id: str) -> bool:
        return any(m.class_id == class_id and m.school_id == school_id for m in self.memberships)


class FakeSfu:
    instance = "janus-test"

    def __init__(self) -> None:
        self.feeds = itertools.count(1)
        self.detached: list[str] = []
        self.moderated: list[tuple[int, list[str], bool]] = []

    async def create_room(self, room_id: str, max_publishers: int) -> int:
        return 1

    async def destroy_room(self, sfu_room: int) -> None:
        return None

    async def list_rooms(self) -> list:
        return []

    async def publish(self, sfu_room: int, display: str, offer_sdp: str) -> Published:
        feed = next(self.feeds)
        return Published(f"pub-{feed}", feed, "v=0\r\nm=video answer\r\n", {"audio": ("0",), "video": ("1",)})

    async def subscribe(self, sfu_room: int, feed_id: int) -> Subscribed:
        return Subscribed(f"sub-{feed_id}", "v=0\r\nm=video offer\r\n")

    async def start(self, handle: str, answer_sdp: str) -> None:
        return None

    async def trickle(self, handle: str, candidate: str, sdp_mid: str, sdp_mline_index: int) -> None:
        return None

    async def detach(self, handle: str) -> None:
        self.detached.append(handle)

    async def moderate(self, sfu_room: int, feed_id: int, mids, mute: bool) -> None:
        self.moderated.append((feed_id, list(mids), mute))


class NoIce:
    def ice_servers(self, user_id: str, now: datetime) -> list:
        return []


MEMBERS = [
    Membership("teacher", SCHOOL, "teacher", CLASS, "subject_teacher", verified=True),
    Membership("misha", SCHOOL, "student", CLASS, "student"),
    Membership("petya", SCHOOL, "student", CLASS, "student"),
    Membership("anna", SCHOOL, "parent", CLASS, "parent", child_user_id="misha"),
    Membership("oleg", SCHOOL, "parent", CLASS, "parent", child_user_id="petya"),
    Membership("irina", SCHOOL, "admin"),
    Membership("stranger", "school-2", "teacher"),
]
SDP = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"


def new_room_cmd(kind: RoomKind, **kw: object) -> NewRoom:
    base = dict(
        request_id="req-1",
        school_id=SCHOOL,
        class_id=CLASS if kind is not RoomKind.CALL else "",
        kind=kind,
        title="Урок",
        scheduled_for=None,
        max_participants=0,
        waiting_room=False,
        invited_user_ids=(),
        presenter_user_ids=(),
        start_now=True,
    )
    base.update(kw)
    return NewRoom(**base)  # type: ignore[arg-type]


def drain(session) -> list:
    out = []
    while not session.queue.empty():
        out.append(session.queue.get_nowait())
    return out


class FakePlans:
    """TimetablePlans in memory: the newest version per class wins."""

    def __init__(self) -> None:
        self.plans: dict[str, TimetablePlan] = {}

    async def put(self, plan: TimetablePlan) -> bool:
        stored = self.plans.get(plan.class_id)
        if stored is not None and stored.version >= plan.version:
            return False
        self.plans[plan.class_id] = plan
        return True

    async def get(self, class_id: str) -> TimetablePlan | None:
        return self.plans.get(class_id)

    async def running(self, today: date) -> list[TimetablePlan]:
        return [p for _, p in sorted(self.plans.items()) if p.last_day >= today]


class FakeTimetableLessons:
    """The timetable lessons among FakeRooms' rooms."""

    def __init__(self, rooms: FakeRooms) -> None:
        self._rooms = rooms
        self.archived: set[str] = set()

    async def class_archived(self, class_id: str) -> bool:
        return class_id in self.archived

    async def existing(self, room_ids: Sequence[str]) -> dict[str, Room]:
        return {i: self._rooms.rooms[i] for i in room_ids if i in self._rooms.rooms}

    async def scheduled(self, class_id: str, start: datetime, end: datetime) -> list[Room]:
        return sorted(
            (
                r
                for r in self._rooms.rooms.values()
                if r.class_id == class_id
                and r.timetable_slot_id
                and r.state is RoomState.SCHEDULED
                and r.scheduled_for is not None
                and start <= r.scheduled_for < end
            ),
            key=lambda r: (r.scheduled_for, r.room_id),
        )
