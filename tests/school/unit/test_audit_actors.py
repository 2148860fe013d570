"""What school tells the audit trail (docs/audit.md): which invite a person used (InviteAccepted, once
per person), and who revoked an invite, changed or ended a seat, or changed the school's policy —
in the domain events and in their protobuf payloads."""

from __future__ import annotations

from school.adapters.events import INVITE_TOPIC, to_message
from school.app.common import Caller
from school.domain import events as de
from school.domain.memberships import ClassRole, SchoolRole

from tests.school.fakes import World
from tests.school.unit.steps import ADMIN, invite_cmd, onboarded


async def test_each_use_of_an_invite_is_published_once_per_person() -> None:
    w = World()
    school, klass = await onboarded(w)
    created = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.STUDENT, klass.id))
    await w.invites.accept_invite(Caller("misha"), created.token)
    await w.invites.accept_invite(Caller("misha"), created.token)  # a retry: not a second use
    await w.invites.accept_invite(Caller("dasha"), created.token)
    used = [e for e in w.events() if isinstance(e, de.InviteAccepted)]
    assert [(e.invite.id, e.user_id) for e in used] == [(created.invite.id, "misha"), (created.invite.id, "dasha")]
    topic, key, payload = to_message(used[0])
    assert (topic, key) == (INVITE_TOPIC, school.id)
    assert (payload.invite_id, payload.user_id, payload.class_id, payload.created_by_user_id) == (  # type: ignore[attr-defined]
        created.invite.id,
        "misha",
        klass.id,
        ADMIN.user_id,
    )
    assert payload.accepted_at.seconds > 0  # type: ignore[attr-defined]


async def test_revoking_removing_leaving_role_changes_and_policy_name_who_did_it() -> None:
    w = World()
    school, klass = await onboarded(w)
    created = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.STUDENT, klass.id))
    await w.invites.accept_invite(Caller("misha"), created.token)
    await w.invites.accept_invite(Caller("dasha"), created.token)
    await w.invites.revoke_invite(ADMIN, created.invite.id)
    await w.memberships.remove_member(ADMIN, school.id, "misha", "")
    await w.memberships.leave(Caller("dasha"), school.id, "")
    teacher = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.TEACHER, request_id="t"))
    await w.invites.accept_invite(Caller("olga"), teacher.token)
    await w.classes.set_class_head(ADMIN, klass.id, "olga")
    await w.classes.add_subject_teacher(ADMIN, klass.id, "olga", "maths")  # the head's seat gains a subject
    await w.policies.set_policy(ADMIN, school.id, {"students_reach_classmates": False})

    events = w.events()
    [revoked] = [e for e in events if isinstance(e, de.InviteRevoked)]
    assert revoked.actor == ADMIN.user_id
    left = [(e.membership.user_id, e.reason, e.actor) for e in events if isinstance(e, de.MemberLeft)]
    assert ("misha", "removed", ADMIN.user_id) in left and ("dasha", "left", "dasha") in left
    changed = [e for e in events if isinstance(e, de.MemberRoleChanged)]
    assert changed and all(e.actor == ADMIN.user_id for e in changed)
    assert any(e.membership.class_role == ClassRole.CLASS_HEAD for e in changed)
    [policy] = [e for e in events if isinstance(e, de.SchoolUpdated)]
    assert policy.actor == ADMIN.user_id

    for event in (revoked, policy, changed[0]):
        assert to_message(event)[2].actor_user_id == ADMIN.user_id  # type: ignore[attr-defined]
    removal = next(e for e in events if isinstance(e, de.MemberLeft) and e.reason == "removed")
    payload = to_message(removal)[2]
    assert (payload.reason, payload.actor_user_id) == ("removed", ADMIN.user_id)  # type: ignore[attr-defined]
