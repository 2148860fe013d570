"""The school's communication policy on in-memory fakes: admins read and set it, nobody else does,
each change is one SchoolUpdated carrying the policy, a repeat publishes nothing."""

from __future__ import annotations

import pytest
from parta_common.errors import NotFound, PermissionDenied
from parta_common.safety import DEFAULT_POLICY, SchoolPolicy
from school.app.common import Caller
from school.domain import events as de
from school.domain.memberships import SchoolRole

from tests.school.fakes import World
from tests.school.unit.steps import ADMIN, invite_cmd, onboarded


async def test_an_admin_tightens_and_restores_a_switch_and_each_change_is_published():
    w = World()
    school, _ = await onboarded(w)
    assert await w.policies.get_policy(ADMIN, school.id) == DEFAULT_POLICY

    def updates() -> list[de.SchoolUpdated]:
        return [e for e in w.events() if isinstance(e, de.SchoolUpdated)]

    before = len(updates())

    strict = await w.policies.set_policy(ADMIN, school.id, {"students_reach_classmates": False})
    assert strict == SchoolPolicy(students_reach_classmates=False)
    assert await w.policies.get_policy(ADMIN, school.id) == strict
    assert [u.school.policy for u in updates()[before:]] == [strict]

    # The same switch again changes nothing and publishes nothing.
    await w.policies.set_policy(ADMIN, school.id, {"students_reach_classmates": False})
    assert len(updates()) == before + 1

    # Switches not named stay as they are; True restores a default.
    both = await w.policies.set_policy(ADMIN, school.id, {"calls_with_students": False})
    assert both == SchoolPolicy(students_reach_classmates=False, calls_with_students=False)
    assert await w.policies.set_policy(ADMIN, school.id, {"students_reach_classmates": True}) == SchoolPolicy(
        calls_with_students=False
    )
    assert (await w.schools.get_school(ADMIN, school.id)).policy == SchoolPolicy(calls_with_students=False)


async def test_only_admins_see_or_set_it_and_outsiders_get_not_found():
    w = World()
    school, _ = await onboarded(w)
    created = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.TEACHER))
    teacher = Caller("olga")
    await w.invites.accept_invite(teacher, created.token)
    await w.staff.verify_staff(ADMIN, school.id, "olga")
    for call in (
        w.policies.get_policy(teacher, school.id),
        w.policies.set_policy(teacher, school.id, {"students_reach_classmates": False}),
    ):
        with pytest.raises(PermissionDenied) as refused:
            await call
        assert refused.value.reason == "NOT_AN_ADMIN"
    with pytest.raises(NotFound):
        await w.policies.get_policy(Caller("stranger"), school.id)
    assert await w.policies.get_policy(ADMIN, school.id) == DEFAULT_POLICY


async def test_check_permission_answers_under_the_schools_policy() -> None:
    from parta_common.safety import Role
    from school.domain.permissions import Action

    from tests.common.safety_cases import CAST, SCHOOL
    from tests.school.unit.test_safety_table import school_of_the_cast

    w = school_of_the_cast()
    admin = next(u for u, p in CAST.items() if any(f.role is Role.ADMIN for f in p.facts))
    bot = Caller("bot")
    assert await w.memberships.check_contact(bot, "ann", "bob", SCHOOL, Action.DIRECT_MESSAGE) == ""
    await w.policies.set_policy(Caller(admin), SCHOOL, {"students_reach_classmates": False})
    assert await w.memberships.check_contact(bot, "ann", "bob", SCHOOL, Action.DIRECT_MESSAGE) == "CONTACT_NOT_ALLOWED"
    await w.policies.set_policy(Caller(admin), SCHOOL, {"students_reach_classmates": True})
    assert await w.memberships.check_contact(bot, "ann", "bob", SCHOOL, Action.DIRECT_MESSAGE) == ""
