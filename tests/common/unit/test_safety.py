"""The rule book (parta_common.safety) against the shared table, plus the rules that are not pairs."""

from __future__ import annotations

import pytest
from parta_common.errors import DomainError, FailedPrecondition, PermissionDenied
from parta_common.safety import (
    Contact,
    Fact,
    Person,
    Role,
    SchoolPolicy,
    Seat,
    check_can_create_group,
    check_direct_write,
    check_staff_channel_post,
    check_together,
    conflicts,
    may_contact,
)

from tests.common.safety_cases import CASES, CAST, SCHOOL, Case


def person(user_id: str, school: str = SCHOOL) -> Person:
    someone = CAST[user_id]
    facts = someone.facts if school == SCHOOL else someone.elsewhere
    return Person.of(
        user_id, school, facts, has_profile=someone.has_profile, awaiting_guardian=someone.awaiting_guardian
    )


def decide(case: Case) -> str | None:
    actor, others = person(case.actor), [person(u) for u in case.others]
    try:
        if case.how is Contact.GROUP:
            check_can_create_group(actor)
        check_together(actor, others, case.how)
    except DomainError as exc:
        return exc.reason
    return None


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_table(case: Case) -> None:
    assert decide(case) == case.expect, case.why


@pytest.mark.parametrize("case", [c for c in CASES if len(c.others) == 1], ids=lambda c: c.id)
def test_pairs_are_symmetric(case: Case) -> None:
    a, b = person(case.actor), person(case.others[0])
    assert may_contact(a, b, case.how) == may_contact(b, a, case.how)


def test_a_student_with_a_teacher_seat_has_no_staff_powers() -> None:
    sam = person("sam")
    assert sam.is_student and not sam.is_staff and not sam.verified and not sam.teaches
    with pytest.raises(PermissionDenied) as err:
        check_staff_channel_post(sam)
    assert err.value.reason == "NOT_STAFF"


def test_staff_channel_needs_verification() -> None:
    check_staff_channel_post(person("tom"))
    check_staff_channel_post(person("ada"))
    with pytest.raises(PermissionDenied) as err:
        check_staff_channel_post(person("una"))
    assert err.value.reason == "STAFF_NOT_VERIFIED"


def test_a_dm_whose_peer_left_is_read_only_and_the_leaver_is_out() -> None:
    tom, rex = person("tom"), person("rex")
    with pytest.raises(FailedPrecondition) as err:
        check_direct_write(tom, rex)
    assert err.value.reason == "CHAT_READ_ONLY"
    with pytest.raises(PermissionDenied) as denied:
        check_direct_write(rex, tom)
    assert denied.value.reason == "NOT_A_SCHOOL_MEMBER"


def test_an_existing_dm_follows_the_pair_rule() -> None:
    # tom stopped teaching 5A: the DM he had with ann is refused from then on.
    moved = Person.of("tom", SCHOOL, [Fact(Role.TEACHER, verified=True)], has_profile=True)
    with pytest.raises(PermissionDenied) as err:
        check_direct_write(moved, person("ann"))
    assert err.value.reason == "CONTACT_NOT_ALLOWED"
    check_direct_write(person("tom"), person("ann"))


def test_conflicts_name_the_members_of_forbidden_pairs_and_skip_leavers() -> None:
    people = [person(u) for u in ("tom", "ann", "pia", "bob", "rex")]
    assert conflicts(people) == {"ann", "pia"}
    assert conflicts([person(u) for u in ("tom", "ann", "bob", "pam")]) == {"bob", "pam"}
    assert conflicts([person(u) for u in ("tom", "ann", "bob")]) == set()


def test_people_of_different_schools_never_meet() -> None:
    assert not may_contact(person("out", "s-other"), person("tom"), Contact.DM)


def test_school_policy_only_tightens() -> None:
    ann, bob, tom = person("ann"), person("bob"), person("tom")
    strict = SchoolPolicy(students_reach_classmates=False, parents_reach_parents=False, calls_with_students=False)
    assert not may_contact(ann, bob, Contact.DM, strict)
    assert not may_contact(person("pam"), person("pia"), Contact.DM, strict)
    assert not may_contact(tom, ann, Contact.CALL, strict)
    assert may_contact(tom, ann, Contact.DM, strict)  # DMs with the teacher stay
    assert may_contact(person("pam"), ann, Contact.CALL, strict)  # a guardian still calls their child
    # Settings cannot open anything the defaults keep closed, and unknown switches do nothing.
    loose = SchoolPolicy.from_settings({"students_reach_classmates": True, "strangers_reach_children": True})
    assert loose == SchoolPolicy()
    everyone = [(a, b) for a in CAST for b in CAST]
    for how in Contact:
        for a, b in everyone:
            if may_contact(person(a), person(b), how, strict):
                assert may_contact(person(a), person(b), how), (a, b, how)


def test_a_profile_less_teacher_cannot_create_a_group() -> None:
    ghost = Person.of("ghost", SCHOOL, [Fact(Role.TEACHER, "5A", Seat.CLASS_HEAD, verified=True)], has_profile=False)
    with pytest.raises(FailedPrecondition) as err:
        check_can_create_group(ghost)
    assert err.value.reason == "PROFILE_MISSING"
