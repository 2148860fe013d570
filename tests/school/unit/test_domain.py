"""Domain rules of school: roles and the permission matrix, last admin, invite limits and expiry,
the join-request state machine, validation helpers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from parta_common.errors import FailedPrecondition, PermissionDenied, Violations
from school.domain.classes import check_class_name
from school.domain.invites import Invite, check_invite_shape
from school.domain.join_requests import JoinRequest, JoinState
from school.domain.memberships import ClassRole, Membership, Roles, SchoolRole, membership_id, memberships_for_joining
from school.domain.permissions import Action, allowed
from school.domain.schools import School, check_academic_year, check_can_remove_admin
from school.domain.secrets import Secrets, invite_token, looks_like_token, token_hash
from school.domain.validation import check_text

NOW = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
SCHOOL = School(
    id="s1",
    name="Школа",
    short_name="",
    region="",
    address="",
    timezone="Europe/Moscow",
    academic_year="2026/2027",
    staff_room_class_id="staff",
)


def invite(**kw) -> Invite:  # type: ignore[no-untyped-def]
    base = Invite(
        id="i1",
        school_id="s1",
        class_id="c1",
        role=SchoolRole.STUDENT,
        child_user_id="",
        expires_at=NOW + timedelta(days=7),
        max_uses=2,
        uses=0,
        requires_approval=False,
        revoked=False,
        created_by="t1",
        created_at=NOW,
    )
    return replace(base, **kw)


def roles(*memberships: Membership, verified: bool = False) -> Roles:
    user = memberships[0].user_id if memberships else "u"
    return Roles.of(user, "s1", list(memberships), ("u",) if verified else ())


# --- last admin ----------------------------------------------------------------------------------


def test_the_last_admin_cannot_be_removed():
    with pytest.raises(FailedPrecondition) as info:
        check_can_remove_admin(("a",), "a")
    assert info.value.reason == "LAST_ADMIN"


def test_one_of_two_admins_can_be_removed_but_not_a_non_admin():
    check_can_remove_admin(("a", "b"), "b")
    with pytest.raises(FailedPrecondition) as info:
        check_can_remove_admin(("a", "b"), "c")
    assert info.value.reason == "NOT_AN_ADMIN"


# --- invites -------------------------------------------------------------------------------------


def test_invite_use_limit_counts_people_once():
    i = invite().accept(NOW, "u1")
    assert (i.uses, i.accepted_by) == (1, ("u1",))
    assert i.accept(NOW, "u1") is i  # a retry by the same person uses nothing
    i = i.accept(NOW, "u2")
    with pytest.raises(FailedPrecondition) as info:
        i.accept(NOW, "u3")
    assert info.value.reason == "INVITE_EXHAUSTED"
    i.accept(NOW, "u2")  # still fine for someone already counted


def test_expired_and_revoked_invites_fail_with_distinct_reasons():
    with pytest.raises(FailedPrecondition) as expired:
        invite().accept(NOW + timedelta(days=7), "u1")
    with pytest.raises(FailedPrecondition) as revoked:
        invite(revoked=True).accept(NOW, "u1")
    assert (expired.value.reason, revoked.value.reason) == ("INVITE_EXPIRED", "INVITE_REVOKED")
    # Revocation wins over expiry: "withdrawn" is the more useful answer.
    with pytest.raises(FailedPrecondition) as both:
        invite(revoked=True, expires_at=NOW).accept(NOW, "u1")
    assert both.value.reason == "INVITE_REVOKED"


@pytest.mark.parametrize(
    ("role", "class_id", "child", "uses", "ttl", "field"),
    [
        (SchoolRole.UNSPECIFIED, "", "", 1, 3600, "role"),
        (SchoolRole.ADMIN, "", "", 1, 3600, "role"),
        (SchoolRole.STUDENT, "", "", 1, 3600, "class_id"),
        (SchoolRole.PARENT, "c1", "", 1, 3600, "child_user_id"),
        (SchoolRole.TEACHER, "", "kid", 1, 3600, "child_user_id"),
        (SchoolRole.TEACHER, "", "", 0, 3600, "max_uses"),
        (SchoolRole.TEACHER, "", "", 10_001, 3600, "max_uses"),
        (SchoolRole.TEACHER, "", "", 1, 59, "ttl_seconds"),
        (SchoolRole.TEACHER, "", "", 1, 91 * 86400, "ttl_seconds"),
    ],
)
def test_invite_shape_violations(role, class_id, child, uses, ttl, field):  # type: ignore[no-untyped-def]
    v = Violations()
    check_invite_shape(v, role, class_id, child, uses, ttl)
    assert field in [x.field for x in v.items]


def test_invite_tokens_are_long_derived_and_only_hashed():
    key = b"k" * 32
    token = invite_token(key, "i1")
    assert len(token) >= 32 and looks_like_token(token)  # 24 bytes = 192 bits
    assert token != invite_token(key, "i2") and token != invite_token(b"x" * 32, "i1")
    assert token_hash(token) != token and len(token_hash(token)) == 64
    assert not looks_like_token("short") and not looks_like_token("a" * 20 + "/")


def test_phone_hashes_are_keyed():
    assert Secrets(b"a" * 16).phone_hash("+79990000001") != Secrets(b"b" * 16).phone_hash("+79990000001")
    with pytest.raises(ValueError):
        Secrets(b"short")


# --- join requests -------------------------------------------------------------------------------


def request(state: JoinState = JoinState.PENDING) -> JoinRequest:
    return JoinRequest(
        id="r1",
        school_id="s1",
        class_id="c1",
        user_id="kid",
        role=SchoolRole.STUDENT,
        child_user_id="",
        invite_id="i1",
        state=state,
        created_at=NOW,
    )


def test_join_request_is_decided_once():
    approved = request().decide(True, "head", NOW)
    assert (approved.state, approved.decided_by) == (JoinState.APPROVED, "head")
    assert approved.decide(True, "head", NOW) is approved  # retry
    with pytest.raises(FailedPrecondition) as info:
        approved.decide(False, "head", NOW)
    assert info.value.reason == "JOIN_REQUEST_DECIDED"
    rejected = request().decide(False, "head", NOW)
    with pytest.raises(FailedPrecondition):
        rejected.decide(True, "head", NOW)


def test_nobody_decides_their_own_request():
    with pytest.raises(PermissionDenied):
        request().decide(True, "kid", NOW)


# --- memberships and roles -----------------------------------------------------------------------


def test_joining_as_teacher_gives_a_staff_room_seat_and_parents_name_the_child():
    teacher = memberships_for_joining(SCHOOL, "t", SchoolRole.TEACHER, "", "", verified=False)
    assert [(m.class_id, m.class_role) for m in teacher] == [("", ClassRole.UNSPECIFIED), ("staff", ClassRole.STAFF)]
    parent = memberships_for_joining(SCHOOL, "p", SchoolRole.PARENT, "c1", "kid", verified=False)
    assert [(m.class_id, m.class_role, m.child_user_id) for m in parent] == [
        ("", ClassRole.UNSPECIFIED, "kid"),
        ("c1", ClassRole.PARENT, "kid"),
    ]
    with pytest.raises(FailedPrecondition) as info:
        memberships_for_joining(SCHOOL, "kid", SchoolRole.PARENT, "c1", "kid", verified=False)
    assert info.value.reason == "PARENT_IS_CHILD"


def test_membership_ids_are_stable_per_seat():
    head = membership_id("s1", "t", SchoolRole.TEACHER, "c1", ClassRole.CLASS_HEAD, "")
    subject = membership_id("s1", "t", SchoolRole.TEACHER, "c1", ClassRole.SUBJECT_TEACHER, "")
    assert head == subject  # one teaching seat per class; head ↔ subject is a role change
    assert membership_id("s1", "t", SchoolRole.ADMIN, "staff", ClassRole.STAFF, "") == membership_id(
        "s1", "t", SchoolRole.TEACHER, "staff", ClassRole.STAFF, ""
    )
    assert membership_id("s1", "p", SchoolRole.PARENT, "", ClassRole.UNSPECIFIED, "kid1") != membership_id(
        "s1", "p", SchoolRole.PARENT, "", ClassRole.UNSPECIFIED, "kid2"
    )


def test_one_person_may_hold_several_roles():
    as_teacher = Membership.new("s1", "u", SchoolRole.TEACHER)
    as_parent = Membership.new("s1", "u", SchoolRole.PARENT, "c2", ClassRole.PARENT, child_user_id="kid")
    r = roles(as_teacher, as_parent, verified=True)
    assert r.school_roles == {SchoolRole.TEACHER, SchoolRole.PARENT} and r.children == {"kid"}
    assert allowed(r, Action.POST_CLASS_CHAT, "c2") and allowed(r, Action.POST_STAFF_CHANNEL)


def test_unverified_teachers_have_reduced_powers():
    seat = Membership.new("s1", "u", SchoolRole.TEACHER, "c1", ClassRole.CLASS_HEAD)
    school_level = Membership.new("s1", "u", SchoolRole.TEACHER)
    unverified = roles(school_level, seat)
    verified = roles(school_level, seat, verified=True)
    for action in (Action.INVITE_STUDENTS, Action.START_LESSON, Action.DECIDE_JOIN_REQUESTS):
        assert not allowed(unverified, action, "c1") and allowed(verified, action, "c1")
    for action in (Action.POST_STAFF_CHANNEL, Action.CREATE_GROUP_CHAT, Action.START_BROADCAST):
        assert not allowed(unverified, action) and allowed(verified, action)
    assert allowed(unverified, Action.POST_CLASS_CHAT, "c1")
    assert not allowed(verified, Action.POST_SCHOOL_CHANNEL)  # the school channel is admins only


def test_inactive_memberships_and_other_schools_give_nothing():
    gone = replace(Membership.new("s1", "u", SchoolRole.ADMIN), active=False)
    elsewhere = Membership.new("s2", "u", SchoolRole.ADMIN)
    r = roles(gone, elsewhere)
    assert not r.is_member and not allowed(r, Action.VIEW_SCHOOL)


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "2026", "2026/2026", "2026/2028", "1999/2000", "２０２６/２０２７", "abcd/efgh"])
def test_bad_academic_years(value):  # type: ignore[no-untyped-def]
    v = Violations()
    check_academic_year(v, "academic_year", value, required=True)
    assert v.items


def test_text_checks_catch_control_characters_length_and_blanks():
    for bad in ("a\x00b", "x" * 201, "   ", " padded", "a\u202eb"):
        v = Violations()
        check_text(v, "name", bad, 200, required=True)
        assert v.items, bad


@pytest.mark.parametrize(("grade", "letter"), [(12, "А"), (-1, "А"), (5, ""), (5, "1"), (5, "АБВГД")])
def test_bad_class_names(grade, letter):  # type: ignore[no-untyped-def]
    v = Violations()
    check_class_name(v, grade, letter)
    assert v.items
