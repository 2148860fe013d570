"""Safety for minors and staff verification: who may call whom, who attends lessons and class
broadcasts, and who may hold them — through the use cases, with an in-memory projection."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from media_signal.adapters.tokens import HmacJoinTokenCodec
from media_signal.app.rooms import RoomUseCases
from media_signal.domain.policy import may_meet
from media_signal.domain.rooms import HOST_GRANTS, SPEAKER_GRANTS, VIEWER_GRANTS, Access, Membership, RoomKind
from parta_common.errors import PermissionDenied
from parta_common.testing.fakes import FakeClock

from tests.media_signal.fakes import FakeDirectory, FakeRooms, NoIce, new_room_cmd

SCHOOL, A, B = "school-1", "class-5a", "class-6b"

# Class 5A: students misha, petya; class head tanya; anna is misha's mother, oleg petya's father.
# Class 6B: student vova, his mother vera, subject teacher kolya. Admin irina teaches nobody.
# nina is a subject teacher of 5A not yet verified by an admin.
MEMBERS = [
    Membership("tanya", SCHOOL, "teacher", verified=True),
    Membership("tanya", SCHOOL, "teacher", "staff-room", "staff", verified=True),
    Membership("tanya", SCHOOL, "teacher", A, "class_head", verified=True),
    Membership("kolya", SCHOOL, "teacher", B, "subject_teacher", verified=True),
    Membership("nina", SCHOOL, "teacher", "staff-room", "staff", verified=False),
    Membership("nina", SCHOOL, "teacher", A, "subject_teacher", verified=False),
    Membership("irina", SCHOOL, "admin", verified=True),
    Membership("misha", SCHOOL, "student", A, "student"),
    Membership("petya", SCHOOL, "student", A, "student"),
    Membership("vova", SCHOOL, "student", B, "student"),
    Membership("anna", SCHOOL, "parent", child_user_id="misha"),
    Membership("anna", SCHOOL, "parent", A, "parent", child_user_id="misha"),
    Membership("oleg", SCHOOL, "parent", A, "parent", child_user_id="petya"),
    Membership("vera", SCHOOL, "parent", B, "parent", child_user_id="vova"),
]


def access(uid: str) -> Access:
    return Access(uid, SCHOOL, tuple(m for m in MEMBERS if m.user_id == uid), has_profile=True)


# (a, b, may they be in a call together?) — the rule is symmetric, checked both ways below.
CALL_MATRIX = [
    ("misha", "petya", True),  # classmates
    ("misha", "vova", False),  # students of different classes
    ("misha", "tanya", True),  # a student and their class head
    ("misha", "kolya", False),  # a teacher of another class
    ("misha", "nina", False),  # their teacher, but not verified yet
    ("misha", "irina", False),  # an admin who does not teach the child
    ("misha", "anna", True),  # the child and their guardian
    ("misha", "oleg", False),  # a classmate's parent
    ("misha", "vera", False),  # another class's parent
    ("anna", "tanya", True),  # a parent and their child's teacher
    ("anna", "kolya", False),  # a teacher who does not teach their child
    ("anna", "oleg", True),  # parents of the same class
    ("anna", "vera", False),  # parents of different classes
    ("anna", "irina", True),  # the administration is reachable by every adult
    ("tanya", "kolya", True),  # staff among themselves
    ("tanya", "irina", True),
]


@pytest.mark.parametrize(("a", "b", "allowed"), CALL_MATRIX)
def test_call_policy_matrix_is_symmetric(a: str, b: str, allowed: bool) -> None:
    assert may_meet(access(a), access(b)) is allowed
    assert may_meet(access(b), access(a)) is allowed


@pytest.fixture
def uc() -> RoomUseCases:
    clock = FakeClock(datetime(2026, 9, 1, 9, 0, tzinfo=UTC))
    counter = itertools.count()
    return RoomUseCases(
        rooms=FakeRooms(),
        directory=FakeDirectory(MEMBERS),
        tokens=HmacJoinTokenCodec(b"k" * 32),
        ice=NoIce(),
        clock=clock,
        room_ids=lambda scope, actor, req: f"room-{actor}-{req}-{next(counter)}",
    )


def cmd(kind: RoomKind, class_id: str = "", **kw: object):
    return new_room_cmd(kind, school_id=SCHOOL, class_id=class_id, **kw)


async def reason_of(coro) -> str:
    with pytest.raises(PermissionDenied) as info:
        await coro
    return info.value.reason


async def test_calls_refuse_contacts_the_policy_does_not_allow(uc: RoomUseCases) -> None:
    # An adult who is neither teacher nor guardian cannot call a child, nor invite one.
    assert await reason_of(uc.create_room(cmd(RoomKind.CALL, invited_user_ids=("misha",)), "oleg")) == (
        "CONTACT_NOT_ALLOWED"
    )
    assert await reason_of(uc.create_room(cmd(RoomKind.CALL, invited_user_ids=("misha",)), "irina")) == (
        "CONTACT_NOT_ALLOWED"
    )
    # Every pair counts: the class head may call misha and may call vera, but not both at once
    # (that would put another class's parent in a call with a child).
    assert await reason_of(uc.create_room(cmd(RoomKind.CALL, invited_user_ids=("misha", "vera")), "tanya")) == (
        "CONTACT_NOT_ALLOWED"
    )
    # Allowed calls: the class head with a student and his mother; classmates; a student calling his teacher.
    call = await uc.create_room(cmd(RoomKind.CALL, invited_user_ids=("misha", "anna")), "tanya")
    assert (await uc.create_join_token(call.room_id, "misha")).grants == SPEAKER_GRANTS
    assert (await uc.create_join_token(call.room_id, "tanya")).grants == HOST_GRANTS
    await uc.create_room(cmd(RoomKind.CALL, invited_user_ids=("petya",)), "misha")
    await uc.create_room(cmd(RoomKind.CALL, invited_user_ids=("tanya",)), "misha")


async def test_call_join_rechecks_the_policy_on_current_memberships(uc: RoomUseCases) -> None:
    directory: FakeDirectory = uc._directory  # type: ignore[assignment]
    call = await uc.create_room(cmd(RoomKind.CALL, invited_user_ids=("misha",)), "anna")
    assert (await uc.create_join_token(call.room_id, "misha")).grants == SPEAKER_GRANTS
    # Anna stops being misha's guardian (the parent membership leaves): neither side may join.
    directory.memberships = [m for m in MEMBERS if not (m.user_id == "anna" and m.child_user_id == "misha")]
    directory.memberships.append(Membership("anna", SCHOOL, "parent", B, "parent", child_user_id="vova"))
    assert await reason_of(uc.create_join_token(call.room_id, "misha")) == "CONTACT_NOT_ALLOWED"


async def test_lessons_admit_only_the_class_its_teachers_and_admins(uc: RoomUseCases) -> None:
    lesson = await uc.create_room(cmd(RoomKind.LESSON, A), "tanya")
    assert (await uc.create_join_token(lesson.room_id, "misha")).grants == SPEAKER_GRANTS
    assert (await uc.create_join_token(lesson.room_id, "irina")).grants == VIEWER_GRANTS
    for outsider in ("vova", "kolya", "anna", "vera"):
        assert await reason_of(uc.create_join_token(lesson.room_id, outsider)) == "NOT_IN_CLASS", outsider
    # nina teaches 5A but is not verified: she may not speak to the class either.
    assert await reason_of(uc.create_join_token(lesson.room_id, "nina")) == "STAFF_NOT_VERIFIED"


async def test_class_broadcast_is_for_its_parents_teachers_and_admins(uc: RoomUseCases) -> None:
    meeting = await uc.create_room(cmd(RoomKind.BROADCAST, A, title="Собрание"), "tanya")
    for viewer in ("anna", "oleg", "irina"):
        assert (await uc.create_join_token(meeting.room_id, viewer)).grants == VIEWER_GRANTS, viewer
    assert await reason_of(uc.create_join_token(meeting.room_id, "misha")) == "NOT_IN_AUDIENCE"
    assert await reason_of(uc.create_join_token(meeting.room_id, "vera")) == "NOT_IN_CLASS"
    assert await reason_of(uc.create_join_token(meeting.room_id, "kolya")) == "NOT_IN_CLASS"
    # The stage of a class broadcast is for its audience: a student cannot be made a presenter.
    assert await reason_of(
        uc.create_room(cmd(RoomKind.BROADCAST, A, request_id="p", presenter_user_ids=("misha",)), "tanya")
    ) == ("NOT_IN_AUDIENCE")


async def test_unverified_teachers_cannot_schedule_or_start_lessons_and_broadcasts(uc: RoomUseCases) -> None:
    directory: FakeDirectory = uc._directory  # type: ignore[assignment]
    for kind in (RoomKind.LESSON, RoomKind.BROADCAST):
        for start_now in (False, True):
            refused = uc.create_room(cmd(kind, A, start_now=start_now), "nina")
            assert await reason_of(refused) == "STAFF_NOT_VERIFIED"
    # An unverified teacher still makes calls (with adults) — verification gates holding classes.
    await uc.create_room(cmd(RoomKind.CALL, invited_user_ids=("tanya",)), "nina")
    # A lesson scheduled while verified cannot be started once verification is withdrawn...
    lesson = await uc.create_room(cmd(RoomKind.LESSON, A, start_now=False), "tanya")
    saved = directory.memberships
    directory.memberships = [
        Membership(m.user_id, m.school_id, m.school_role, m.class_id, m.class_role, m.child_user_id, False)
        if m.user_id == "tanya"
        else m
        for m in saved
    ]
    assert await reason_of(uc.start_room(lesson.room_id, "tanya")) == "STAFF_NOT_VERIFIED"
    # ... and verification (MemberRoleChanged verified=true) lets her start it.
    directory.memberships = saved
    assert (await uc.start_room(lesson.room_id, "tanya")).state.value == "live"
    assert (await uc.create_join_token(lesson.room_id, "tanya")).grants == HOST_GRANTS
