"""Schools: the last-admin rule, keyed phone hashes, academic-year checks; on fakes: registering,
claiming the admin phone once, a claim interrupted after the school write."""

from __future__ import annotations

from dataclasses import replace

import pytest
from parta_common.errors import FailedPrecondition, NotFound, PermissionDenied, Violations
from school.app.common import Caller
from school.app.schools import RegisterSchool
from school.domain import events as de
from school.domain.memberships import ClassRole, SchoolRole
from school.domain.schools import check_academic_year, check_can_remove_admin
from school.domain.secrets import Secrets

from tests.school.fakes import World
from tests.school.unit.steps import ADMIN, register


def test_the_last_admin_cannot_be_removed():
    with pytest.raises(FailedPrecondition) as info:
        check_can_remove_admin(("a",), "a")
    assert info.value.reason == "LAST_ADMIN"


def test_one_of_two_admins_can_be_removed_but_not_a_non_admin():
    check_can_remove_admin(("a", "b"), "b")
    with pytest.raises(FailedPrecondition) as info:
        check_can_remove_admin(("a", "b"), "c")
    assert info.value.reason == "NOT_AN_ADMIN"


def test_phone_hashes_are_keyed():
    assert Secrets(b"a" * 16).phone_hash("+79990000001") != Secrets(b"b" * 16).phone_hash("+79990000001")
    with pytest.raises(ValueError):
        Secrets(b"short")


@pytest.mark.parametrize("value", ["", "2026", "2026/2026", "2026/2028", "1999/2000", "２０２６/２０２７", "abcd/efgh"])
def test_bad_academic_years(value):  # type: ignore[no-untyped-def]
    v = Violations()
    check_academic_year(v, "academic_year", value, required=True)
    assert v.items


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
    assert await w.admins.claim_pending_roles(Caller("someone", "+79990000009")) == []
    assert await w.admins.claim_pending_roles(ADMIN) == [school.id]
    # A later account with the same phone (a recycled number) claims nothing.
    assert await w.admins.claim_pending_roles(Caller("new-owner", ADMIN.phone)) == []
    mine = await w.schools.list_my_schools(ADMIN)
    assert [(s.school.id, s.roles, s.verified) for s in mine] == [(school.id, [SchoolRole.ADMIN], True)]
    seats = await w.memberships_repo.of_user("irina")
    assert {(m.class_id, m.class_role) for m in seats} == {
        ("", ClassRole.UNSPECIFIED),
        (school.staff_room_class_id, ClassRole.STAFF),
    }
    assert "+7999" not in repr(w.events())


async def test_a_claim_interrupted_after_the_school_write_is_finished_by_the_next_call():
    w = World()
    school = await register(w)
    await w.admins.claim_pending_roles(ADMIN)
    # As if the process died after marking the school claimed but before the staff-room seat.
    seat = next(m for m in await w.memberships_repo.of_user("irina") if m.class_id)
    del w.memberships_repo.items[seat.id]
    assert await w.admins.claim_pending_roles(ADMIN) == [school.id]
    assert {m.class_id for m in await w.memberships_repo.of_user("irina")} == {"", school.staff_room_class_id}
    writes = len(w.events())
    await w.schools.list_my_schools(ADMIN)  # nothing missing: reads only
    assert len(w.events()) == writes


async def test_the_app_wires_one_admin_seat_and_one_staff_verification_into_every_use_case():
    w = World()
    app = w.app
    assert app.schools.admins is app.admins and app.memberships.admins is app.admins
    assert app.memberships.staff is app.staff and app.join_requests.invites is app.invites
    school = await register(w)
    # ListMySchools claims first (schools → the admin seat): the app's start needs no ClaimPendingRoles.
    mine = await app.schools.list_my_schools(ADMIN)
    assert [(s.school.id, s.roles, s.verified) for s in mine] == [(school.id, [SchoolRole.ADMIN], True)]


async def test_a_school_change_is_one_versioned_write_with_its_events_and_a_repeat_writes_nothing():
    w = World()
    school = await register(w)
    before = len(w.schools_repo.events)
    calls = 0

    def rename(fresh):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 1:  # another writer wins the first attempt: the change is made again on its result
            w.schools_repo.items[school.id] = replace(fresh, region="Омск", version=fresh.version + 1)
        return replace(fresh, name="Школа № 18")

    changed = await w.deps.change_school(school.id, rename, lambda s: [de.SchoolUpdated(s)])
    assert calls == 2 and changed.name == "Школа № 18" and changed.region == "Омск"
    assert changed.version == school.version + 2 and (await w.schools_repo.get(school.id)) == changed
    assert [type(e) for e in w.schools_repo.events[before:]] == [de.SchoolUpdated]
    again = await w.deps.change_school(
        school.id, lambda s: replace(s, name="Школа № 18"), lambda s: [de.SchoolUpdated(s)]
    )
    assert again == changed and len(w.schools_repo.events) == before + 1  # nothing to write, nothing published
    with pytest.raises(NotFound):
        await w.deps.change_school("no-such-school", lambda s: s)
