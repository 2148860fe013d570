"""school's CheckPermission against the shared safety table (tests/common/safety_cases.py): every
person-to-person row (a DM, a call, sharing a group with one other person) asked through the use case
on fakes of school's own records, so school answers exactly what chat and media-signal enforce."""

from __future__ import annotations

import pytest
from parta_common.safety import Contact, Fact, Role, Seat
from school.app.common import Caller
from school.domain.memberships import ClassRole, Membership, SchoolRole
from school.domain.permissions import Action
from school.domain.profiles import ProfileFacts, ProfileState
from school.domain.schools import School

from tests.common.safety_cases import CASES, CAST, NOT_STAFF, OTHER_SCHOOL, SCHOOL, Case
from tests.school.fakes import World

ACTION = {Contact.DM: Action.DIRECT_MESSAGE, Contact.CALL: Action.CALL, Contact.GROUP: Action.SHARE_GROUP}
_ROLE = {Role.ADMIN: SchoolRole.ADMIN, Role.TEACHER: SchoolRole.TEACHER, Role.STUDENT: SchoolRole.STUDENT}
_ROLE[Role.PARENT] = SchoolRole.PARENT
_SEAT = {
    Seat.CLASS_HEAD: ClassRole.CLASS_HEAD,
    Seat.SUBJECT_TEACHER: ClassRole.SUBJECT_TEACHER,
    Seat.STUDENT: ClassRole.STUDENT,
    Seat.PARENT: ClassRole.PARENT,
    Seat.STAFF: ClassRole.STAFF,
}

# Pairwise rows only: school answers about two people (group creation itself is CREATE_GROUP_CHAT).
PAIRWISE = [c for c in CASES if len(c.others) == 1 and c.expect != NOT_STAFF]


def _seat(user_id: str, school_id: str, f: Fact, active: bool) -> Membership:
    m = Membership.new(
        school_id,
        user_id,
        _ROLE[f.role],
        f.class_id,
        _SEAT[f.seat] if f.seat else ClassRole.UNSPECIFIED,
        f.child_user_id,
        verified=f.verified,
    )
    return Membership(**{**m.__dict__, "active": active, "version": 1})


def school_of_the_cast() -> World:
    w = World()
    verified = tuple(u for u, p in CAST.items() if any(f.verified for f in p.facts))
    admins = tuple(u for u, p in CAST.items() if any(f.role is Role.ADMIN for f in p.facts))
    for school_id in (SCHOOL, OTHER_SCHOOL):
        w.schools_repo.items[school_id] = School(
            school_id, school_id, "", "", "", "UTC", "2026/2027", f"{school_id}-room", admin_ids=admins,
            verified_ids=verified if school_id == SCHOOL else (),
        )  # fmt: skip
    for user_id, someone in CAST.items():
        rows = [(SCHOOL, f, True) for f in someone.facts] + [(SCHOOL, f, False) for f in someone.left]
        rows += [(OTHER_SCHOOL, f, True) for f in someone.elsewhere]
        for school_id, fact, active in rows:
            seat = _seat(user_id, school_id, fact, active)
            w.memberships_repo.items[seat.id] = seat
        state = ProfileState.PRESENT if someone.has_profile else ProfileState.UNKNOWN
        w.profiles.states[user_id] = ProfileFacts(state, someone.awaiting_guardian, 1)
    return w


def test_the_pairwise_rows_are_most_of_the_table() -> None:
    assert len(PAIRWISE) >= 40


@pytest.mark.parametrize("case", PAIRWISE, ids=[c.id for c in PAIRWISE])
async def test_check_permission_answers_the_shared_table(case: Case) -> None:
    w = school_of_the_cast()
    reason = await w.memberships.check_contact(Caller("bot"), case.actor, case.others[0], SCHOOL, ACTION[case.how])
    assert reason == (case.expect or ""), case.why


async def test_only_the_person_themself_an_admin_or_an_internal_client_may_ask() -> None:
    from parta_common.errors import PermissionDenied

    w = school_of_the_cast()
    assert await w.memberships.check_contact(Caller("ann"), "ann", "bob", SCHOOL, Action.DIRECT_MESSAGE) == ""
    assert await w.memberships.check_contact(Caller("ada"), "tom", "ann", SCHOOL, Action.CALL) == ""
    with pytest.raises(PermissionDenied):
        await w.memberships.check_contact(Caller("bob"), "ann", "tom", SCHOOL, Action.DIRECT_MESSAGE)
