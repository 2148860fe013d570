"""ListRooms: a member sees exactly the rooms they could join, in listing order, page by page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from media_signal.app.listing import SCAN_LIMIT, RoomListing, RoomQuery
from media_signal.domain.rooms import Membership, Room, RoomKind, RoomState
from parta_common.errors import InvalidArgument, NotFound

from tests.media_signal.fakes import MEMBERS, SCHOOL, FakeDirectory

OTHER_CLASS = "class-6b"
PEOPLE = [
    *MEMBERS,
    Membership("vova", SCHOOL, "student", OTHER_CLASS, "student"),
    Membership("t6", SCHOOL, "teacher", OTHER_CLASS, "class_head", verified=True),
]
T0 = datetime(2026, 9, 1, 8, tzinfo=UTC)


class FakeCatalog:
    """Filters and orders like the Mongo catalog (unscheduled first, then by time)."""

    def __init__(self, rooms: list[Room]):
        self.rooms = rooms
        self.scans = 0

    async def scan(self, query: RoomQuery, *, offset: int, limit: int) -> list[Room]:
        self.scans += 1
        hits = [
            r
            for r in self.rooms
            if r.school_id == query.school_id
            and r.state in query.states
            and (not query.class_id or r.class_id == query.class_id)
            and (not query.kinds or r.kind in query.kinds)
        ]
        hits.sort(key=lambda r: (r.scheduled_for is not None, r.scheduled_for or T0, r.created_at, r.room_id))
        return hits[offset : offset + limit]


def room(room_id: str, kind: RoomKind, *, class_id: str = "", host: str = "teacher", at: int | None = None, **kw):  # type: ignore[no-untyped-def]
    return Room(
        room_id=room_id,
        school_id=SCHOOL,
        kind=kind,
        title=room_id,
        host_user_id=host,
        created_at=T0,
        class_id=class_id,
        scheduled_for=None if at is None else T0 + timedelta(hours=at),
        **kw,
    )


ROOMS = [
    room("lesson-5a", RoomKind.LESSON, class_id="class-5a", at=2),
    room("lesson-6b", RoomKind.LESSON, class_id=OTHER_CLASS, host="t6", at=1),
    room("call-teacher-anna", RoomKind.CALL, invited_user_ids=("anna",), state=RoomState.LIVE),
    room("assembly", RoomKind.BROADCAST, host="irina", at=3),
    room("parents-5a", RoomKind.BROADCAST, class_id="class-5a", at=4),
    room("old-lesson", RoomKind.LESSON, class_id="class-5a", at=-48, state=RoomState.ENDED),
]


async def listed(user: str, query: RoomQuery | None = None, rooms: list[Room] = ROOMS) -> list[str]:
    listing = RoomListing(catalog=FakeCatalog(rooms), directory=FakeDirectory(PEOPLE))
    page = await listing.list_rooms(query or RoomQuery(SCHOOL), user, page_size=50, offset=0)
    assert page.next_offset is None
    return [r.room_id for r in page.rooms]


async def test_each_person_sees_what_they_could_join_in_listing_order():
    assert await listed("misha") == ["lesson-5a", "assembly"]
    assert await listed("vova") == ["lesson-6b", "assembly"]
    assert await listed("anna") == ["call-teacher-anna", "assembly", "parents-5a"]
    assert await listed("teacher") == ["call-teacher-anna", "lesson-5a", "assembly", "parents-5a"]
    # An admin observes lessons and meetings but never sees a call they are not part of.
    assert await listed("irina") == ["lesson-6b", "lesson-5a", "assembly", "parents-5a"]


async def test_filters_by_class_kind_and_state():
    assert await listed("irina", RoomQuery(SCHOOL, class_id="class-5a")) == ["lesson-5a", "parents-5a"]
    assert await listed("irina", RoomQuery(SCHOOL, kinds=(RoomKind.BROADCAST,))) == ["assembly", "parents-5a"]
    assert await listed("misha", RoomQuery(SCHOOL, states=(RoomState.ENDED,))) == ["old-lesson"]


async def test_outsiders_learn_nothing_and_bad_ids_are_refused():
    listing = RoomListing(catalog=FakeCatalog(ROOMS), directory=FakeDirectory(PEOPLE))
    with pytest.raises(NotFound):
        await listing.list_rooms(RoomQuery(SCHOOL), "stranger", page_size=10, offset=0)
    with pytest.raises(InvalidArgument) as caught:
        await listing.list_rooms(RoomQuery(""), "misha", page_size=10, offset=0)
    assert [v.field for v in caught.value.violations] == ["school_id"]


async def test_pages_continue_where_the_scan_stopped_past_hidden_rooms():
    # 30 lessons of the other class between every lesson Misha may see.
    rooms = []
    for i in range(6):
        rooms.append(room(f"mine-{i}", RoomKind.LESSON, class_id="class-5a", at=i * 100))
        rooms += [room(f"hidden-{i}-{j}", RoomKind.LESSON, class_id=OTHER_CLASS, at=i * 100 + 1 + j) for j in range(30)]
    listing = RoomListing(catalog=FakeCatalog(rooms), directory=FakeDirectory(PEOPLE))
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = await listing.list_rooms(RoomQuery(SCHOOL), "misha", page_size=4, offset=offset)
        seen += [r.room_id for r in page.rooms]
        offset = page.next_offset
    assert seen == [f"mine-{i}" for i in range(6)]


async def test_one_call_scans_a_bounded_number_of_rooms():
    rooms = [room(f"hidden-{j:04}", RoomKind.LESSON, class_id=OTHER_CLASS, at=j) for j in range(SCAN_LIMIT + 50)]
    catalog = FakeCatalog(rooms)
    listing = RoomListing(catalog=catalog, directory=FakeDirectory(PEOPLE))
    page = await listing.list_rooms(RoomQuery(SCHOOL), "misha", page_size=10, offset=0)
    assert page.rooms == [] and page.next_offset == SCAN_LIMIT
    rest = await listing.list_rooms(RoomQuery(SCHOOL), "misha", page_size=10, offset=SCAN_LIMIT)
    assert rest.rooms == [] and rest.next_offset is None
