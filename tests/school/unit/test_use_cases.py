"""Use cases on in-memory fakes: onboarding, claiming by phone, invites, approval, admins, deletion."""

from __future__ import annotations

import pytest
from parta_common.errors import FailedPrecondition, NotFound, PermissionDenied
from school.app.common import Caller
from school.app.invites import CreateInvite
from school.app.schools import RegisterSchool
from school.domain import events as de
from school.domain.join_requests import JoinState
from school.domain.memberships import ClassRole, SchoolRole
from school.domain.permissions import Action

from tests.school.fakes import OPERATOR, World

ADMIN = Caller("irina", "+79990000001")


def register(w: World, phone: str = ADMIN.phone, request_id: str = "r1"):  # type: ignore[no-untyped-def]
    return w.schools.register_school(
        OPERATOR, RegisterSchool(request_id, "Школа № 17", "", "", "", "", "2026/2027", phone)
    )


def invite_cmd(
    school_id: str,
    role: SchoolRole,
    class_id: str = "",
    child: str = "",
    approval: bool = False,
    uses: int = 10,
    request_id: str = "i",
) -> CreateInvite:
    return CreateInvite(request_id, school_id, class_id, role, child, 3600, uses, approval)


async def onboarded(w: World):  # type: ignore[no-untyped-def]
    school = await register(w)
    await w.schools.claim_pending_roles(ADMIN)
    klass = await w.classes.create_class(ADMIN, "c1", school.id, 5, "а", "")
    return school, klass


async def test_only_operators_register_and_retries_return_the_first_school():
    w = World()
    with pytest.raises(PermissionDenied):
        await w.schools.register_school(ADMIN, RegisterSchool("x", "S", "", "", "", "", "2026/2027", "+79990000002"))
    first, again = await register(w), await register(w)
    assert first == again
    assert [type(e) for e in w.events()] == [de.SchoolCreated, de.ClassCreated]


async def test_the_admin_phone_is_claimed_once_by_its_owner():
    w = World()
    school = await register(w)
    assert await w.schools.claim_pending_roles(Caller("someone", "+79990000009")) == []
    assert await w.schools.claim_pending_roles(ADMIN) == [school.id]
    # A later account with the same phone (a recycled number) claims nothing.
    assert await w.schools.claim_pending_roles(Caller("new-owner", ADMIN.phone)) == []
    mine = await w.schools.list_my_schools(ADMIN)
    assert [(s.school.id, s.roles, s.verified) for s in mine] == [(school.id, [SchoolRole.ADMIN], True)]
    seats = await w.memberships_repo.of_user("irina")
    assert {(m.class_id, m.class_role) for m in seats} == {
        ("", ClassRole.UNSPECIFIED),
        (school.staff_room_class_id, ClassRole.STAFF),
    }
    assert "+7999" not in repr(w.events())


async def test_teacher_invite_join_verify_and_class_head_approves_a_student():
    w = World()
    school, klass = await onboarded(w)
    created = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.TEACHER))
    assert created.link == "https://parta.test/join/" + created.token
    olga = Caller("olga")
    await w.invites.accept_invite(olga, created.token)
    await w.classes.set_class_head(ADMIN, klass.id, "olga")
    with pytest.raises(PermissionDenied):  # unverified: no student invites yet
        await w.invites.create_invite(olga, invite_cmd(school.id, SchoolRole.STUDENT, klass.id, approval=True))
    await w.schools.verify_staff(ADMIN, school.id, "olga")
    student_invite = await w.invites.create_invite(
        olga, invite_cmd(school.id, SchoolRole.STUDENT, klass.id, approval=True, request_id="s")
    )
    accepted = await w.invites.accept_invite(Caller("misha"), student_invite.token)
    assert accepted.join_request is not None and accepted.memberships == []
    with pytest.raises(NotFound):  # not a member yet: the request is outside their contour
        await w.join_requests.decide(Caller("misha"), accepted.join_request.id, approve=True)
    decided = await w.join_requests.decide(olga, accepted.join_request.id, approve=True)
    assert decided.state == JoinState.APPROVED
    members = await w.memberships.list_members(olga, school.id, klass.id, "", 100)
    assert {(m.user_id, m.class_role, m.verified) for m in members} == {
        ("olga", ClassRole.CLASS_HEAD, True),
        ("misha", ClassRole.STUDENT, False),
    }
    verified = [e for e in w.events() if isinstance(e, de.StaffVerified)]
    assert [(e.user_id, e.verified_by) for e in verified] == [("olga", "irina")]


async def test_parent_invites_are_bound_to_a_student_of_the_class():
    w = World()
    school, klass = await onboarded(w)
    with pytest.raises(FailedPrecondition) as info:
        await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.PARENT, klass.id, child="nobody"))
    assert info.value.reason == "CHILD_NOT_IN_CLASS"
    student = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.STUDENT, klass.id, request_id="s"))
    await w.invites.accept_invite(Caller("misha"), student.token)
    parent = await w.invites.create_invite(
        ADMIN, invite_cmd(school.id, SchoolRole.PARENT, klass.id, child="misha", request_id="p")
    )
    with pytest.raises(FailedPrecondition) as info:
        await w.invites.accept_invite(Caller("misha"), parent.token)
    assert info.value.reason == "PARENT_IS_CHILD"
    joined = await w.invites.accept_invite(Caller("anna"), parent.token)
    assert {(m.class_id, m.child_user_id) for m in joined.memberships} == {("", "misha"), (klass.id, "misha")}


async def test_expired_and_revoked_invites_through_the_use_case():
    w = World()
    school, _ = await onboarded(w)
    created = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.TEACHER, uses=1))
    w.clock.advance(3601)
    with pytest.raises(FailedPrecondition) as info:
        await w.invites.accept_invite(Caller("late"), created.token)
    assert info.value.reason == "INVITE_EXPIRED"
    other = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.TEACHER, request_id="2"))
    await w.invites.revoke_invite(ADMIN, other.invite.id)
    with pytest.raises(FailedPrecondition) as info:
        await w.invites.preview_invite(other.token)
    assert info.value.reason == "INVITE_REVOKED"
    with pytest.raises(NotFound):
        await w.invites.preview_invite("A" * 32)


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


async def test_archiving_a_class_ends_its_seats():
    w = World()
    school, klass = await onboarded(w)
    student = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.STUDENT, klass.id))
    await w.invites.accept_invite(Caller("misha"), student.token)
    await w.classes.archive_class(ADMIN, klass.id)
    assert await w.memberships_repo.of_class(klass.id) == []
    # The school-level seat stays: the student is still in the school.
    assert [m.class_id for m in await w.memberships_repo.of_user("misha")] == [""]
    # Its grade+letter is free again.
    await w.classes.create_class(ADMIN, "c2", school.id, 5, "А", "")


async def test_a_claim_interrupted_after_the_school_write_is_finished_by_the_next_call():
    w = World()
    school = await register(w)
    await w.schools.claim_pending_roles(ADMIN)
    # As if the process died after marking the school claimed but before the staff-room seat.
    seat = next(m for m in await w.memberships_repo.of_user("irina") if m.class_id)
    del w.memberships_repo.items[seat.id]
    assert await w.schools.claim_pending_roles(ADMIN) == [school.id]
    assert {m.class_id for m in await w.memberships_repo.of_user("irina")} == {"", school.staff_room_class_id}
    writes = len(w.events())
    await w.schools.list_my_schools(ADMIN)  # nothing missing: reads only
    assert len(w.events()) == writes


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
