"""The school's retention of ended academic years on in-memory fakes: a safe default, admins set it
within bounds (INVALID_ARGUMENT naming each field otherwise), each change is one SchoolUpdated whose
snapshot carries it to chat, a repeat publishes nothing, nobody else reads or sets it."""

from __future__ import annotations

import pytest
from parta_common.errors import InvalidArgument, NotFound, PermissionDenied, Violations
from parta_common.retention import DEFAULT_RETENTION, RetentionRule, check_retention, retention_of
from school.app.common import Caller
from school.codecs import school_pb
from school.domain import events as de
from school.domain.memberships import SchoolRole

from tests.school.fakes import World
from tests.school.unit.steps import ADMIN, invite_cmd, onboarded


def test_the_rule_bounds_and_defaults():
    v = Violations()
    assert check_retention(v, "r.", 0, 0) == DEFAULT_RETENTION == RetentionRule(365, 30)
    assert check_retention(v, "r.", 30, 7) == RetentionRule(30, 7)
    assert check_retention(v, "r.", 3650, 365) == RetentionRule(3650, 365)
    assert not v.items
    for keep, grace, fields in (
        (29, 30, ["r.keep_days"]),
        (3651, 30, ["r.keep_days"]),
        (-1, 30, ["r.keep_days"]),
        (365, 6, ["r.archive_grace_days"]),
        (365, 366, ["r.archive_grace_days"]),
        (1, 1, ["r.keep_days", "r.archive_grace_days"]),
    ):
        v = Violations()
        check_retention(v, "r.", keep, grace)
        assert [f.field for f in v.items] == fields, (keep, grace)
    # What a consumer reads: zeros are the defaults, values out of bounds held to them (never earlier).
    assert retention_of(0, 0) == DEFAULT_RETENTION
    assert retention_of(1, 1) == RetentionRule(30, 7)
    assert retention_of(99_999, 99_999) == RetentionRule(3650, 365)


async def test_an_admin_sets_it_and_the_snapshot_carries_it():
    w = World()
    school, _ = await onboarded(w)
    assert await w.app.retention.get_retention(ADMIN, school.id) == DEFAULT_RETENTION

    def updates() -> list[de.SchoolUpdated]:
        return [e for e in w.events() if isinstance(e, de.SchoolUpdated)]

    before = len(updates())
    rule = await w.app.retention.set_retention(ADMIN, school.id, 730, 14)
    assert rule == RetentionRule(730, 14)
    assert await w.app.retention.get_retention(ADMIN, school.id) == rule
    published = updates()[before:]
    assert len(published) == 1
    snapshot = school_pb(published[0].school)
    assert (snapshot.retention.keep_days, snapshot.retention.archive_grace_days) == (730, 14)

    # The same values again: nothing written, nothing published. 0 goes back to the default.
    await w.app.retention.set_retention(ADMIN, school.id, 730, 14)
    assert len(updates()) == before + 1
    assert await w.app.retention.set_retention(ADMIN, school.id, 0, 0) == DEFAULT_RETENTION
    assert len(updates()) == before + 2


async def test_out_of_bounds_is_invalid_argument_naming_the_fields_and_changes_nothing():
    w = World()
    school, _ = await onboarded(w)
    with pytest.raises(InvalidArgument) as bad:
        await w.app.retention.set_retention(ADMIN, school.id, 10, 1000)
    assert sorted(f.field for f in bad.value.violations) == ["retention.archive_grace_days", "retention.keep_days"]
    assert await w.app.retention.get_retention(ADMIN, school.id) == DEFAULT_RETENTION


async def test_only_admins_see_or_set_it_and_outsiders_get_not_found():
    w = World()
    school, _ = await onboarded(w)
    created = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.TEACHER))
    teacher = Caller("olga")
    await w.invites.accept_invite(teacher, created.token)
    for call in (
        w.app.retention.get_retention(teacher, school.id),
        w.app.retention.set_retention(teacher, school.id, 400, 30),
    ):
        with pytest.raises(PermissionDenied) as refused:
            await call
        assert refused.value.reason == "NOT_AN_ADMIN"
    with pytest.raises(NotFound):
        await w.app.retention.set_retention(Caller("stranger"), school.id, 400, 30)
    assert await w.app.retention.get_retention(ADMIN, school.id) == DEFAULT_RETENTION
