"""media-signal against the shared safety table (tests/common/safety_cases.py): every CALL row goes
through the room use cases (create a call inviting the others, then each invitee asks to join and
to read the room), on a fake of media-signal's own membership projection."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from media_signal.adapters.tokens import HmacJoinTokenCodec
from media_signal.app.rooms import RoomUseCases
from media_signal.domain.rooms import Access, Membership, RoomKind
from parta_common.errors import DomainError
from parta_common.safety import Contact, Fact, Role, Seat
from parta_common.testing.fakes import FakeClock

from tests.common.safety_cases import CASES, CAST, NOT_MEMBER, OTHER_SCHOOL, SCHOOL, Case, Someone
from tests.media_signal.fakes import FakeRooms, NoIce, new_room_cmd


def _row(user_id: str, school_id: str, f: Fact) -> Membership:
    return Membership(
        user_id, school_id, f.role.value, f.class_id, f.seat.value if f.seat else "", f.child_user_id, f.verified
    )


class CastDirectory:
    """media-signal's projection as MongoMembershipDirectory answers it: active rows only."""

    def __init__(self, cast: dict[str, Someone] = CAST):
        self.cast = cast

    async def access(self, school_id: str, user_id: str) -> Access:
        someone = self.cast.get(user_id)
        if someone is None:
            return Access(user_id, school_id)
        facts = someone.facts if school_id == SCHOOL else someone.elsewhere if school_id == OTHER_SCHOOL else ()
        rows = tuple(_row(user_id, school_id, f) for f in facts)
        return Access(
            user_id, school_id, rows, awaiting_guardian=someone.awaiting_guardian, has_profile=someone.has_profile
        )

    async def accesses(self, school_id: str, user_ids: Sequence[str]) -> list[Access]:
        return [await self.access(school_id, u) for u in user_ids]

    async def class_exists(self, school_id: str, class_id: str) -> bool:
        return school_id == SCHOOL and class_id in ("5A", "6B")


def use_cases() -> RoomUseCases:
    counter = itertools.count()
    return RoomUseCases(
        rooms=FakeRooms(),
        directory=CastDirectory(),
        tokens=HmacJoinTokenCodec(b"k" * 32),
        ice=NoIce(),
        clock=FakeClock(datetime(2026, 9, 1, 9, 0, tzinfo=UTC)),
        room_ids=lambda scope, actor, req: f"room-{actor}-{req}-{next(counter)}",
    )


# media-signal kept its reason for a non-member creating a room (the brief allows either name).
ALIASES = {NOT_MEMBER: "NOT_A_MEMBER"}


@pytest.mark.parametrize("case", [c for c in CASES if c.how is Contact.CALL], ids=lambda c: c.id)
async def test_calls_follow_the_table(case: Case) -> None:
    uc = use_cases()
    cmd = new_room_cmd(RoomKind.CALL, school_id=SCHOOL, invited_user_ids=case.others)
    try:
        room = await uc.create_room(cmd, case.actor)
    except DomainError as exc:
        assert exc.reason == ALIASES.get(case.expect, case.expect), case.why
        return
    assert case.expect is None, f"created a call the table refuses ({case.why})"
    for user in (case.actor, *case.others):
        grant = await uc.create_join_token(room.room_id, user)
        assert grant.grants.can_publish
        assert (await uc.get_room(room.room_id, user)).room_id == room.room_id


async def test_reading_a_call_follows_the_joining_rules() -> None:
    uc = use_cases()
    room = await uc.create_room(new_room_cmd(RoomKind.CALL, school_id=SCHOOL, invited_user_ids=("ann",)), "tom")
    assert (await uc.get_room(room.room_id, "ann")).room_id == room.room_id
    for outsider, reason in (("pia", "NOT_INVITED"), ("nop", "PROFILE_MISSING"), ("out", "ROOM_NOT_FOUND")):
        with pytest.raises(DomainError) as err:
            await uc.get_room(room.room_id, outsider)
        assert err.value.reason == reason, outsider
    # ann moves to 6B: tom no longer teaches her, so she can neither join nor read the call.
    moved = {**CAST, "ann": replace(CAST["ann"], facts=(Fact(Role.STUDENT), Fact(Role.STUDENT, "6B", Seat.STUDENT)))}
    directory = CastDirectory(moved)
    uc._directory = directory
    for attempt in (uc.get_room(room.room_id, "ann"), uc.create_join_token(room.room_id, "ann")):
        with pytest.raises(DomainError) as err:
            await attempt
        assert err.value.reason == "CONTACT_NOT_ALLOWED"


async def test_a_student_with_a_teacher_seat_neither_holds_nor_teaches_a_lesson() -> None:
    uc = use_cases()
    lesson = new_room_cmd(RoomKind.LESSON, school_id=SCHOOL, class_id="6B")
    with pytest.raises(DomainError) as err:
        await uc.create_room(lesson, "sam")
    assert err.value.reason == "NOT_CLASS_TEACHER"
    room = await uc.create_room(lesson, "tia")
    with pytest.raises(DomainError) as err:
        await uc.create_join_token(room.room_id, "sam")
    assert err.value.reason == "NOT_IN_CLASS"
    assert (await uc.create_join_token(room.room_id, "cid")).grants.can_publish
