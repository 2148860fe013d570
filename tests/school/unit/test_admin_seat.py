"""The school never loses its last admin for good: the domain rule of the admin seat, and the use cases
(account deletion leaves the seat vacant, operators fill it, the last admin cannot step down) on fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from parta_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from school.app.common import Caller
from school.domain import events as de
from school.domain.memberships import SchoolRole
from school.domain.schools import School, check_operator_may_fill, fill_admin_seat, nominate_admin_phone, vacate_admin

from tests.school.fakes import OPERATOR, World
from tests.school.unit.steps import ADMIN, invite_cmd, onboarded

NOW = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def school(*admins: str, vacant_since: datetime | None = None) -> School:
    return School("s1", "Школа", "", "", "", "Europe/Moscow", "2026/2027", "room", admin_ids=admins,
                  admin_vacant_since=vacant_since)  # fmt: skip


# --- domain ------------------------------------------------------------------------------------


def test_a_deleted_last_admin_leaves_the_seat_vacant_since_then():
    after = vacate_admin(school("a"), "a", NOW)
    assert after.admin_ids == () and after.admin_vacant and after.admin_vacant_since == NOW


def test_a_deleted_admin_among_several_leaves_no_vacancy():
    after = vacate_admin(school("a", "b"), "a", NOW)
    assert after.admin_ids == ("b",) and not after.admin_vacant


def test_vacating_is_idempotent_and_keeps_the_first_date():
    once = vacate_admin(school("a"), "a", NOW)
    assert vacate_admin(once, "a", NOW + timedelta(days=1)) == once  # a replay
    assert vacate_admin(school("b"), "a", NOW) == school("b")  # not an admin: unchanged


def test_operators_fill_only_a_school_without_admin():
    with pytest.raises(FailedPrecondition) as info:
        check_operator_may_fill(school("a"))
    assert info.value.reason == "ADMIN_SEAT_OCCUPIED"
    with pytest.raises(FailedPrecondition):
        nominate_admin_phone(school("a"), "hash")
    check_operator_may_fill(school(vacant_since=NOW))
    check_operator_may_fill(school())  # the first admin never signed in: the operator may fix the phone


def test_filling_the_seat_ends_the_vacancy_and_a_pending_nomination():
    nominated = nominate_admin_phone(school(vacant_since=NOW), "hash")
    assert nominated.pending_admin_phone_hash == "hash" and nominated.admin_vacant
    filled = fill_admin_seat(nominated, "t")
    assert filled.admin_ids == ("t",) and "t" in filled.verified_ids
    assert not filled.admin_vacant and filled.pending_admin_phone_hash == ""


# --- use cases on fakes ------------------------------------------------------------------------


async def _with_teacher(w: World) -> tuple[School, Caller]:
    school_, _klass = await onboarded(w)
    teacher = Caller("olga", "+79990000003")
    created = await w.invites.create_invite(ADMIN, invite_cmd(school_.id, SchoolRole.TEACHER, request_id="t"))
    await w.invites.accept_invite(teacher, created.token)
    return school_, teacher


async def test_deleting_the_last_admin_records_the_vacancy_once():
    w = World()
    school_, teacher = await _with_teacher(w)
    assert await w.memberships.account_deleted(ADMIN.user_id) == [school_.id]  # the consumer warns about it
    assert await w.memberships.account_deleted(ADMIN.user_id) == []  # a replay opens nothing
    seen = await w.schools.get_school(teacher, school_.id)
    assert seen.admin_vacant and seen.admin_ids == ()
    vacated = [e for e in w.events() if isinstance(e, de.AdminSeatVacated)]
    assert len(vacated) == 1 and vacated[0].reason == "account_deleted"
    assert [s.id for s in await w.admins.list_vacant_schools(OPERATOR, "", 10)] == [school_.id]
    with pytest.raises(PermissionDenied):
        await w.admins.list_vacant_schools(teacher, "", 10)


async def test_an_operator_appoints_a_staff_member_of_a_vacant_school():
    w = World()
    school_, teacher = await _with_teacher(w)
    outsider = Caller("mallory", "+79990000004")
    # While the school has its admin, operators do not reach into it.
    with pytest.raises(FailedPrecondition) as info:
        await w.admins.appoint_admin(OPERATOR, school_.id, teacher.user_id)
    assert info.value.reason == "ADMIN_SEAT_OCCUPIED"
    await w.memberships.account_deleted(ADMIN.user_id)
    with pytest.raises(NotFound):  # the closed contour: a non-member learns nothing
        await w.admins.appoint_admin(outsider, school_.id, outsider.user_id)
    with pytest.raises(PermissionDenied):  # a teacher cannot promote themself into the empty seat
        await w.admins.appoint_admin(teacher, school_.id, teacher.user_id)
    with pytest.raises(FailedPrecondition) as info:
        await w.admins.appoint_admin(OPERATOR, school_.id, outsider.user_id)
    assert info.value.reason == "NOT_STAFF"
    await w.admins.appoint_admin(OPERATOR, school_.id, teacher.user_id)
    await w.admins.appoint_admin(OPERATOR, school_.id, teacher.user_id)  # a retry
    after = await w.schools.get_school(teacher, school_.id)
    assert after.admin_ids == (teacher.user_id,) and not after.admin_vacant
    filled = [e for e in w.events() if isinstance(e, de.AdminSeatFilled)]
    assert [(e.admin_user_id, e.appointed_by) for e in filled] == [(teacher.user_id, OPERATOR.user_id)]
    assert await w.admins.list_vacant_schools(OPERATOR, "", 10) == []
    # The new admin administers: they can now appoint, and are themself the last admin.
    with pytest.raises(FailedPrecondition) as info:
        await w.admins.remove_admin(teacher, school_.id, teacher.user_id)
    assert info.value.reason == "LAST_ADMIN"


async def test_an_operator_nominates_a_phone_that_its_owner_claims():
    w = World()
    school_, _teacher = await _with_teacher(w)
    await w.memberships.account_deleted(ADMIN.user_id)
    with pytest.raises(InvalidArgument):
        await w.admins.appoint_admin(OPERATOR, school_.id, "", "8-900-123")
    with pytest.raises(InvalidArgument):
        await w.admins.appoint_admin(OPERATOR, school_.id, "someone", "+79990000005")
    await w.admins.appoint_admin(OPERATOR, school_.id, "", "+79990000005")
    successor = Caller("pavel", "+79990000005")
    assert await w.admins.claim_pending_roles(successor) == [school_.id]
    after = await w.schools.get_school(successor, school_.id)
    assert after.admin_ids == ("pavel",) and not after.admin_vacant
    filled = [e for e in w.events() if isinstance(e, de.AdminSeatFilled)]
    assert [(e.admin_user_id, e.appointed_by) for e in filled] == [("pavel", "")]


async def test_the_last_admin_cannot_step_down_through_any_door():
    w = World()
    school_, _teacher = await _with_teacher(w)
    for attempt in (
        w.admins.remove_admin(ADMIN, school_.id, ADMIN.user_id),
        w.memberships.leave(ADMIN, school_.id, ""),
        w.memberships.remove_member(ADMIN, school_.id, ADMIN.user_id, ""),
    ):
        with pytest.raises(FailedPrecondition) as info:
            await attempt
        assert info.value.reason == "LAST_ADMIN"
    with pytest.raises(FailedPrecondition) as info:  # nor leave the staff room alone
        await w.memberships.leave(ADMIN, school_.id, school_.staff_room_class_id)
    assert info.value.reason == "STAFF_ROOM"
    assert (await w.schools.get_school(ADMIN, school_.id)).admin_ids == (ADMIN.user_id,)
