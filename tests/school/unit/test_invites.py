"""Invites: use limits, expiry and revocation, the shape of a new one, tokens; on fakes: joining by
invite with approval by the class head, parent invites, expired and revoked invites."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from parta_common.errors import FailedPrecondition, NotFound, PermissionDenied, Violations
from school.app.common import Caller
from school.domain import events as de
from school.domain.invites import Invite, check_invite_shape
from school.domain.join_requests import JoinState
from school.domain.memberships import ClassRole, SchoolRole
from school.domain.secrets import invite_token, looks_like_token, token_hash

from tests.school.fakes import World
from tests.school.unit.steps import ADMIN, invite_cmd, onboarded

NOW = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


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
    await w.staff.verify_staff(ADMIN, school.id, "olga")
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
