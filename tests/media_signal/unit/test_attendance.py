"""Attendance on fakes: the computation (rejoin intervals, two devices, late and left-early graces at
their boundaries), joins driven through the hub on a fake clock, who reads which rows, validation
and paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from media_signal.app.attendance import AttendanceUseCases, Position
from media_signal.domain.attendance import (
    EARLY_LEAVE_GRACE,
    LATE_GRACE,
    AttendanceQuery,
    Graces,
    lesson_start,
    rows_of,
)
from media_signal.domain.rooms import MAX_INTERVALS, Membership, Room, RoomKind, RoomState
from parta_common.errors import InvalidArgument, NotFound, PermissionDenied

from tests.media_signal.fakes import CLASS, MEMBERS, SCHOOL, FakeDirectory, new_room_cmd

T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def lesson(**kw: object) -> Room:
    base: dict = dict(
        room_id="L1",
        school_id=SCHOOL,
        kind=RoomKind.LESSON,
        title="Математика",
        host_user_id="teacher",
        created_at=at(-60),
        class_id=CLASS,
        scheduled_for=T0,
        state=RoomState.LIVE,
        started_at=T0,
    )
    base.update(kw)
    return Room(**base)


def by_user(rows: list) -> dict:
    return {r.user_id: r for r in rows}


def test_rejoin_gives_two_intervals_and_the_total_is_their_sum() -> None:
    room = lesson()
    room.record_join("misha", at(1))
    room.record_leave("misha", at(11))
    room.record_join("misha", at(15))
    room.record_leave("misha", at(44))
    room.end(at(45))
    misha = by_user(rows_of(room, at(50)))["misha"]
    assert [(i.joined_at, i.left_at) for i in misha.intervals] == [(at(1), at(11)), (at(15), at(44))]
    assert misha.total_seconds == 39 * 60
    assert misha.first_joined_at == at(1) and misha.last_left_at == at(44)
    assert not misha.late and not misha.left_early and not misha.present_now


def test_two_devices_at_once_are_one_stretch_counted_once() -> None:
    room = lesson()
    room.record_join("misha", at(0))
    room.record_join("misha", at(5))  # a phone besides the laptop
    room.record_leave("misha", at(10))
    room.record_leave("misha", at(20))
    room.end(at(45))
    misha = by_user(rows_of(room, at(50)))["misha"]
    assert [(i.joined_at, i.left_at) for i in misha.intervals] == [(at(0), at(20))]
    assert misha.total_seconds == 20 * 60
    assert misha.left_early  # 25 minutes before the end


def test_late_is_measured_from_the_start_plus_the_grace_boundary_included() -> None:
    room = lesson()
    grace = LATE_GRACE.total_seconds() / 60
    room.record_join("misha", at(grace))  # exactly at the grace: on time
    room.record_join("petya", at(grace) + timedelta(seconds=1))
    rows = by_user(rows_of(room, at(30)))
    assert not rows["misha"].late and rows["petya"].late
    # A deployment's own grace.
    rows = by_user(rows_of(room, at(30), Graces(late=timedelta(0))))
    assert rows["misha"].late


def test_a_teachers_late_start_makes_no_student_late_and_an_early_start_keeps_the_schedule() -> None:
    late_start = lesson(started_at=at(10))
    assert lesson_start(late_start) == at(10)
    late_start.record_join("misha", at(14))
    assert not rows_of(late_start, at(20))[0].late
    early_start = lesson(started_at=at(-10))
    assert lesson_start(early_start) == T0
    early_start.record_join("misha", at(-5))
    early_start.record_join("petya", at(6))
    rows = by_user(rows_of(early_start, at(20)))
    assert not rows["misha"].late and rows["petya"].late
    unscheduled = lesson(scheduled_for=None, started_at=at(3))
    assert lesson_start(unscheduled) == at(3)


def test_left_early_boundary_and_those_present_at_the_end() -> None:
    room = lesson()
    grace = EARLY_LEAVE_GRACE.total_seconds() / 60
    for user in ("misha", "petya", "teacher"):
        room.record_join(user, at(0))
    room.record_leave("misha", at(45 - grace))  # exactly the grace before the end: not early
    room.record_leave("petya", at(45 - grace) - timedelta(seconds=1))
    room.end(at(45))  # the teacher is still there: their stretch closes at the end
    rows = by_user(rows_of(room, at(50)))
    assert not rows["misha"].left_early and rows["petya"].left_early
    assert not rows["teacher"].left_early and rows["teacher"].is_host
    assert rows["teacher"].intervals[-1].left_at == at(45)


def test_a_live_lesson_counts_the_open_stretch_up_to_now_and_nobody_left_early() -> None:
    room = lesson()
    room.record_join("misha", at(0))
    room.record_leave("misha", at(5))
    room.record_join("petya", at(2))
    rows = by_user(rows_of(room, at(12)))
    assert rows["petya"].present_now and rows["petya"].total_seconds == 10 * 60
    assert rows["petya"].last_left_at is None and rows["petya"].intervals[-1].left_at is None
    assert not rows["misha"].present_now and not rows["misha"].left_early


def test_a_flapping_connection_merges_into_the_last_interval_and_keeps_the_total_exact() -> None:
    room = lesson()
    for n in range(MAX_INTERVALS + 5):
        room.record_join("misha", at(n))
        room.record_leave("misha", at(n + 0.5))
    misha = rows_of(room, at(500))[0]
    assert len(misha.intervals) == MAX_INTERVALS
    assert misha.intervals[-1].left_at == at(MAX_INTERVALS + 4.5)
    assert misha.total_seconds == (MAX_INTERVALS + 5) * 30


# ------------------------------------------------------------------ through the hub, on a fake clock


async def test_joins_through_the_hub_become_the_rows(world) -> None:
    clock, rooms, uc, hub, _ = world
    room = await uc.create_room(new_room_cmd(RoomKind.LESSON, start_now=True), "teacher")
    teacher = await hub.join("teacher", (await uc.create_join_token(room.room_id, "teacher")).token)
    clock.advance(60)
    misha = await hub.join("misha", (await uc.create_join_token(room.room_id, "misha")).token)
    clock.advance(600)
    await hub.leave(misha, "left")
    clock.advance(120)
    misha = await hub.join("misha", (await uc.create_join_token(room.room_id, "misha")).token)
    clock.advance(360)
    petya = await hub.join("petya", (await uc.create_join_token(room.room_id, "petya")).token)
    clock.advance(60)
    await hub.leave(petya, "left")
    clock.advance(600)
    await uc.end_room(room.room_id, "teacher")
    attendance = AttendanceUseCases(rooms=rooms, catalog=Catalog(rooms), directory=FakeDirectory(MEMBERS), clock=clock)
    page = await attendance.list_attendance(
        AttendanceQuery(room_id=room.room_id), "teacher", page_size=50, position=Position()
    )
    rows = by_user(page.rows)
    assert set(rows) == {"teacher", "misha", "petya"} and page.next is None
    assert rows["misha"].total_seconds == 600 + 360 + 60 + 600 and len(rows["misha"].intervals) == 2
    assert not rows["misha"].late and not rows["misha"].left_early
    assert rows["petya"].late and rows["petya"].left_early and rows["petya"].total_seconds == 60
    assert teacher.gone


# ------------------------------------------------------------------ who reads what


class Catalog:
    """The store's lesson query over the fake rooms."""

    def __init__(self, rooms) -> None:
        self.rooms = rooms

    async def lessons(self, query: AttendanceQuery, *, offset: int, limit: int) -> list[Room]:
        found = [
            r
            for r in self.rooms.rooms.values()
            if r.school_id == query.school_id
            and r.kind is RoomKind.LESSON
            and r.started_at is not None
            and query.since <= r.started_at < query.until
            and (not query.class_id or r.class_id == query.class_id)
            and (not query.student_id or query.student_id in r.attendance)
        ]
        found.sort(key=lambda r: (r.started_at, r.room_id))
        return found[offset : offset + limit]


OTHER = "class-5b"
PEOPLE = [
    *MEMBERS,
    Membership("head", SCHOOL, "teacher", CLASS, "class_head", verified=True),
    Membership("other_teacher", SCHOOL, "teacher", OTHER, "subject_teacher", verified=True),
    Membership("vera", SCHOOL, "student", OTHER, "student"),
    Membership("olga", SCHOOL, "parent", OTHER, "parent", child_user_id="vera"),
    Membership("foreign_admin", "school-2", "admin"),
]


class FakeRoomStore:
    def __init__(self, rooms: list[Room]) -> None:
        self.rooms = {r.room_id: r for r in rooms}

    async def get(self, room_id: str) -> Room | None:
        return self.rooms.get(room_id)


def attended(room_id: str, start: datetime, users: list[str], class_id: str = CLASS, host: str = "teacher") -> Room:
    room = lesson(room_id=room_id, scheduled_for=start, started_at=start, class_id=class_id, host_user_id=host)
    for n, user in enumerate(users):
        room.record_join(user, start + timedelta(minutes=n))
    room.end(start + timedelta(minutes=45))
    return room


@pytest.fixture
def reading():
    from parta_common.testing.fakes import FakeClock

    store = FakeRoomStore(
        [
            attended("L1", at(0), ["teacher", "misha", "petya"]),
            attended("L2", at(24 * 60), ["head", "misha"], host="head"),
            attended("L3", at(0), ["other_teacher", "vera"], class_id=OTHER, host="other_teacher"),
        ]
    )
    uc = AttendanceUseCases(
        rooms=store, catalog=Catalog(store), directory=FakeDirectory(PEOPLE), clock=FakeClock(at(3000))
    )

    async def read(user: str, **query: object) -> list[tuple[str, str]] | str:
        q = AttendanceQuery(**query)  # type: ignore[arg-type]
        try:
            page = await uc.list_attendance(q, user, page_size=100, position=Position())
        except (PermissionDenied, NotFound) as error:
            return error.reason
        return sorted((r.room.room_id, r.user_id) for r in page.rows)

    return read


RANGE = dict(school_id=SCHOOL, since=at(-60), until=at(3 * 24 * 60))


async def test_the_role_matrix_for_one_lesson(reading) -> None:
    everyone = [("L1", "misha"), ("L1", "petya"), ("L1", "teacher")]
    assert await reading("irina", room_id="L1") == everyone  # admin
    assert await reading("teacher", room_id="L1") == everyone  # the lesson's teacher
    assert await reading("head", room_id="L1") == everyone  # the class head
    assert await reading("misha", room_id="L1") == [("L1", "misha")]  # a student: their own row
    assert await reading("anna", room_id="L1") == [("L1", "misha")]  # misha's parent
    assert await reading("oleg", room_id="L1") == [("L1", "petya")]  # petya's parent
    assert await reading("other_teacher", room_id="L1") == "ATTENDANCE_NOT_ALLOWED"
    assert await reading("olga", room_id="L1") == "ATTENDANCE_NOT_ALLOWED"  # a parent of another class
    assert await reading("vera", room_id="L1") == "ATTENDANCE_NOT_ALLOWED"  # a student of another class
    assert await reading("stranger", room_id="L1") == "ROOM_NOT_FOUND"  # another school's teacher
    assert await reading("foreign_admin", room_id="L1") == "ROOM_NOT_FOUND"
    assert await reading("irina", room_id="nope") == "ROOM_NOT_FOUND"


async def test_the_role_matrix_for_a_class_and_a_student(reading) -> None:
    assert await reading("head", class_id=CLASS, **RANGE) == [
        ("L1", "misha"),
        ("L1", "petya"),
        ("L1", "teacher"),
        ("L2", "head"),
        ("L2", "misha"),
    ]
    # A subject teacher of the class: the lessons they held.
    assert await reading("teacher", class_id=CLASS, **RANGE) == [("L1", "misha"), ("L1", "petya"), ("L1", "teacher")]
    assert await reading("anna", class_id=CLASS, **RANGE) == [("L1", "misha"), ("L2", "misha")]
    assert await reading("other_teacher", class_id=CLASS, **RANGE) == "ATTENDANCE_NOT_ALLOWED"
    assert await reading("olga", class_id=CLASS, **RANGE) == "ATTENDANCE_NOT_ALLOWED"
    assert await reading("foreign_admin", class_id=CLASS, **RANGE) == "ROOM_NOT_FOUND"
    misha = [("L1", "misha"), ("L2", "misha")]
    assert await reading("anna", student_id="misha", **RANGE) == misha
    assert await reading("misha", student_id="misha", **RANGE) == misha
    assert await reading("irina", student_id="misha", **RANGE) == misha
    assert await reading("teacher", student_id="misha", **RANGE) == [("L1", "misha")]
    # A teacher of another class sees nothing, the same for any id (no oracle).
    assert await reading("other_teacher", student_id="misha", **RANGE) == []
    assert await reading("other_teacher", student_id="nobody", **RANGE) == []
    assert await reading("oleg", student_id="misha", **RANGE) == "ATTENDANCE_NOT_ALLOWED"
    assert await reading("petya", student_id="misha", **RANGE) == "ATTENDANCE_NOT_ALLOWED"
    # A narrower range.
    assert await reading("anna", student_id="misha", school_id=SCHOOL, since=at(0), until=at(60)) == [("L1", "misha")]


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        (dict(), {"room_id"}),
        (dict(room_id="L1", class_id=CLASS), {"room_id"}),
        (dict(class_id=CLASS), {"school_id", "since", "until"}),
        (dict(class_id=CLASS, school_id=SCHOOL, since=at(10), until=at(10)), {"until"}),
        (dict(class_id=CLASS, school_id=SCHOOL, since=at(0), until=at(0) + timedelta(days=94)), {"until"}),
        (dict(student_id="x" * 65, school_id=SCHOOL, since=at(0), until=at(1)), {"student_user_id"}),
    ],
)
async def test_bad_queries_name_their_fields(reading, query: dict, fields: set[str]) -> None:
    from media_signal.domain.attendance import validate_query

    with pytest.raises(InvalidArgument) as caught:
        validate_query(AttendanceQuery(**query))
    assert {v.field for v in caught.value.violations} == fields


async def test_pages_split_rows_inside_a_lesson_and_across_lessons() -> None:
    from parta_common.testing.fakes import FakeClock

    rooms = [attended(f"L{n}", at(n * 60), ["teacher", "misha", "petya"]) for n in range(4)]
    store = FakeRoomStore(rooms)
    uc = AttendanceUseCases(
        rooms=store, catalog=Catalog(store), directory=FakeDirectory(PEOPLE), clock=FakeClock(at(9000))
    )
    seen: list[tuple[str, str]] = []
    position, pages = Position(), 0
    while True:
        page = await uc.list_attendance(
            AttendanceQuery(class_id=CLASS, **RANGE), "head", page_size=5, position=position
        )
        seen += [(r.room.room_id, r.user_id) for r in page.rows]
        pages += 1
        if page.next is None:
            break
        position = page.next
    assert len(seen) == 12 == len(set(seen)) and pages == 3
    assert seen[:3] == [("L0", "teacher"), ("L0", "misha"), ("L0", "petya")]
    with pytest.raises(InvalidArgument):
        await uc.list_attendance(AttendanceQuery(room_id="L0"), "head", page_size=5, position=Position(-1, 0))
