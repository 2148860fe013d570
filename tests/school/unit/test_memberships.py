"""Memberships and roles: what joining gives, stable ids per seat, several roles, unverified staff;
on fakes: an account deletion ends every seat, staff cannot take student seats, who may ask about whom."""

from __future__ import annotations

from dataclasses import replace

import pytest
from parta_common.errors import FailedPrecondition, PermissionDenied
from school.app.common import Caller
from school.domain import events as de
from school.domain.memberships import ClassRole, Membership, Roles, SchoolRole, membership_id, memberships_for_joining
from school.domain.permissions import Action, allowed
from school.domain.schools import School

from tests.school.fakes import World
from tests.school.unit.steps import ADMIN, invite_cmd, onboarded

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


def roles(*memberships: Membership, verified: bool = False) -> Roles:
    user = memberships[0].user_id if memberships else "u"
    return Roles.of(user, "s1", list(memberships), ("u",) if verified else ())


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


async def test_account_deleted_ends_every_seat_even_of_the_last_admin():
    w = World()
    school, _klass = await onboarded(w)
    await w.memberships.account_deleted("irina")
    assert await w.memberships_repo.of_user("irina") == []
    left = [e for e in w.events() if isinstance(e, de.MemberLeft)]
    assert {e.reason for e in left} == {"account_deleted"} and len(left) == 2
    await w.memberships.account_deleted("irina")  # a replay changes nothing
    assert len([e for e in w.events() if isinstance(e, de.MemberLeft)]) == 2
    stored = await w.schools_repo.get(school.id)
    assert stored is not None and stored.admin_ids == ()


async def test_staff_cannot_join_their_school_as_students():
    w = World()
    school, klass = await onboarded(w)
    student = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.STUDENT, klass.id))
    with pytest.raises(FailedPrecondition) as info:
        await w.invites.accept_invite(ADMIN, student.token)
    assert info.value.reason == "ROLE_CONFLICT"
    assert (await w.invites_repo.get(student.invite.id)).uses == 0  # type: ignore[union-attr]


async def test_who_may_ask_about_whom():
    w = World()
    school, klass = await onboarded(w)
    student = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.STUDENT, klass.id))
    await w.invites.accept_invite(Caller("misha"), student.token)
    args = ("misha", school.id, klass.id, Action.POST_CLASS_CHAT)
    assert await w.memberships.check_permission(Caller("misha"), *args)  # self
    assert await w.memberships.check_permission(ADMIN, *args)  # an admin of that school
    assert await w.memberships.check_permission(Caller("bot"), *args)  # an internal client
    with pytest.raises(PermissionDenied):
        await w.memberships.check_permission(Caller("stranger"), *args)
    assert len(await w.memberships.get_memberships(Caller("bot"), "misha", "")) == 2
    assert await w.memberships.get_memberships(Caller("stranger"), "misha", "") == []
    with pytest.raises(PermissionDenied):
        await w.memberships.get_memberships(Caller("stranger"), "misha", school.id)


async def _families(w: World):  # type: ignore[no-untyped-def]
    """A class with a teacher, two students and each student's parent (one invite per seat)."""
    school, klass = await onboarded(w)
    seats = [
        ("tanya", SchoolRole.TEACHER, ""),
        ("misha", SchoolRole.STUDENT, ""),
        ("kolya", SchoolRole.STUDENT, ""),
        ("mama", SchoolRole.PARENT, "misha"),
        ("papa", SchoolRole.PARENT, "kolya"),
    ]
    for n, (user, role, child) in enumerate(seats):
        cmd = invite_cmd(school.id, role, "" if role == SchoolRole.TEACHER else klass.id, child, request_id=f"i{n}")
        invite = await w.invites.create_invite(ADMIN, cmd)
        await w.invites.accept_invite(Caller(user), invite.token)
    return school, klass


async def test_the_school_wide_roster_is_for_staff_only():
    """The school-wide list holds every family (parent → child): students and parents are refused
    NOT_STAFF; admins and teachers (verified or not) get it with the children named."""
    w = World()
    school, _klass = await _families(w)
    for user in ("misha", "mama"):
        with pytest.raises(PermissionDenied) as info:
            await w.memberships.list_members(Caller(user), school.id, "", "", 100)
        assert info.value.reason == "NOT_STAFF"
    for caller in (ADMIN, Caller("tanya")):
        found = await w.memberships.list_members(caller, school.id, "", "", 100)
        assert {(m.user_id, m.child_user_id) for m in found if m.school_role == SchoolRole.PARENT} == {
            ("mama", "misha"),
            ("papa", "kolya"),
        }


async def test_a_class_list_names_a_parents_child_only_to_staff_and_the_family():
    w = World()
    school, klass = await _families(w)

    async def children_seen_by(user: str) -> dict[str, str]:
        found = await w.memberships.list_members(Caller(user), school.id, klass.id, "", 100)
        assert {m.user_id for m in found} >= {"misha", "kolya", "mama", "papa"}  # the class stays visible
        return {m.user_id: m.child_user_id for m in found if m.class_role == ClassRole.PARENT}

    assert await children_seen_by(ADMIN.user_id) == {"mama": "misha", "papa": "kolya"}
    assert await children_seen_by("mama") == {"mama": "misha", "papa": ""}
    assert await children_seen_by("misha") == {"mama": "misha", "papa": ""}
    assert await children_seen_by("kolya") == {"mama": "", "papa": "kolya"}
