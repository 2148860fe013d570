"""The consent state machine and guardian links, with fakes."""

from __future__ import annotations

import pytest
from identity.app.profiles import ProfileInput
from identity.domain.events import ConsentChanged, ConsentState, GuardianLinked, GuardianUnlinked
from identity.domain.guardians import LinkState
from parta_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied

from tests.identity.fakes import World

MOTHER, CHILD, TEEN = "+79991110001", "+79991110002", "+79991110003"


async def family(w: World, child_birth: str = "2015-05-01"):  # type: ignore[no-untyped-def]
    mother = await w.signed_in(MOTHER)
    child = await w.signed_in(CHILD)
    await w.profiles.create_profile(mother.user_id, ProfileInput("Анна", "Смирнова", "", "1988-02-02"), "")
    await w.profiles.create_profile(child.user_id, ProfileInput("Миша", "Смирнов", "", child_birth), "")
    return mother, child


async def consent(w: World, user_id: str) -> ConsentState:
    user = await w.users.get(user_id)
    assert user is not None
    return user.consent_state


async def test_child_below_consent_age_waits_for_a_guardian():
    w = World()
    mother, child = await family(w)
    assert await consent(w, child.user_id) is ConsentState.AWAITING_GUARDIAN
    assert await consent(w, mother.user_id) is ConsentState.NOT_REQUIRED


async def test_link_by_phone_needs_the_child_then_consent_grants():
    w = World()
    mother, child = await family(w)
    assert await w.guardians.link(mother.user_id, CHILD, None) is None  # recorded, nothing shown
    assert [v.link.state for v in await w.guardians.guardians(child.user_id)] == [LinkState.PENDING]
    with pytest.raises(FailedPrecondition):
        await w.guardians.set_consent(mother.user_id, child.user_id, True)  # not confirmed yet
    await w.guardians.confirm(child.user_id, mother.user_id)
    assert await consent(w, child.user_id) is ConsentState.AWAITING_GUARDIAN  # linked is not consent
    await w.guardians.set_consent(mother.user_id, child.user_id, True)
    assert await consent(w, child.user_id) is ConsentState.GRANTED
    await w.guardians.set_consent(mother.user_id, child.user_id, False)
    assert await consent(w, child.user_id) is ConsentState.AWAITING_GUARDIAN
    changes = [e.consent_state for e in w.users.published if isinstance(e, ConsentChanged)]
    assert changes == [ConsentState.GRANTED, ConsentState.AWAITING_GUARDIAN]
    linked = [e.confirmed for e in w.users.published if isinstance(e, GuardianLinked)]
    assert linked == [False, True, False]


async def test_link_code_shown_by_the_child_confirms_at_once_and_is_single_use():
    w = World()
    mother, child = await family(w)
    code, _ = await w.guardians.create_link_code(child.user_id)
    view = await w.guardians.link(mother.user_id, None, code.lower())
    assert view.link.state is LinkState.LINKED and view.link.confirmed_by.value == "link_code"
    with pytest.raises(NotFound):
        await w.guardians.link(mother.user_id, None, code)
    with pytest.raises(InvalidArgument):
        await w.guardians.link(mother.user_id, None, "0OIL0OIL")


async def test_expired_link_code_is_refused():
    w = World()
    mother, child = await family(w)
    code, _ = await w.guardians.create_link_code(child.user_id)
    w.clock.advance(601)
    with pytest.raises(FailedPrecondition):
        await w.guardians.link(mother.user_id, None, code)


async def test_school_confirms_when_the_guardian_is_the_parent_member_of_that_child():
    w = World()
    mother, child = await family(w)
    w.directory.parents.add((mother.user_id, child.user_id))
    view = await w.guardians.link(mother.user_id, CHILD, None)
    assert view.link.state is LinkState.LINKED and view.link.confirmed_by.value == "school"


async def test_unlink_by_either_side_reverts_consent():
    w = World()
    mother, child = await family(w)
    code, _ = await w.guardians.create_link_code(child.user_id)
    await w.guardians.link(mother.user_id, None, code)
    await w.guardians.set_consent(mother.user_id, child.user_id, True)
    stranger = await w.signed_in("+79991119999")
    with pytest.raises(PermissionDenied):
        await w.guardians.unlink(stranger.user_id, mother.user_id, child.user_id)
    await w.guardians.unlink(child.user_id, mother.user_id, child.user_id)
    assert await consent(w, child.user_id) is ConsentState.AWAITING_GUARDIAN
    # The event names who ended the link (the child here), for the audit trail.
    assert GuardianUnlinked(mother.user_id, child.user_id, child.user_id) in w.users.published
    assert await w.guardians.children(mother.user_id) == []


async def test_teen_at_consent_age_needs_no_guardian_and_minors_cannot_be_guardians():
    w = World()
    teen = await w.signed_in(TEEN)
    await w.profiles.create_profile(teen.user_id, ProfileInput("Катя", "Орлова", "", "2012-01-01"), "")
    assert await consent(w, teen.user_id) is ConsentState.NOT_REQUIRED
    _mother, child = await family(w)
    with pytest.raises(FailedPrecondition) as caught:
        await w.guardians.link(teen.user_id, CHILD, None)
    assert caught.value.reason == "GUARDIAN_NOT_ADULT"
    with pytest.raises(FailedPrecondition):
        await w.guardians.link(child.user_id, CHILD, None)


async def test_strangers_cannot_grant_consent_or_probe_children():
    w = World()
    mother, child = await family(w)
    with pytest.raises(NotFound):
        await w.guardians.set_consent(mother.user_id, child.user_id, True)
    # A phone nobody has answers exactly like a real child's phone: no existence oracle.
    assert await w.guardians.link(mother.user_id, "+79990000000", None) is None


async def test_deleting_the_guardian_unlinks_and_revokes_sessions():
    w = World()
    mother, child = await family(w)
    code, _ = await w.guardians.create_link_code(child.user_id)
    await w.guardians.link(mother.user_id, None, code)
    await w.guardians.set_consent(mother.user_id, child.user_id, True)
    export = await w.accounts.export(mother.user_id)
    assert [c.id for c in export.children] == [child.user_id] and export.user.phone == MOTHER
    with pytest.raises(InvalidArgument):
        await w.accounts.delete(mother.user_id, confirm=False)
    await w.accounts.delete(mother.user_id, confirm=True)
    assert await consent(w, child.user_id) is ConsentState.AWAITING_GUARDIAN
    assert GuardianUnlinked(mother.user_id, child.user_id, mother.user_id) in w.users.published
    gone = await w.users.get(mother.user_id)
    assert gone and gone.deleted and gone.phone is None and gone.profile is None
    assert not w.sessions.rows[mother.session_id].active
    assert type(w.users.published[-1]).__name__ == "AccountDeleted"
    again = await w.signed_in(MOTHER)  # the number may sign up again, as a new person
    assert again.is_new_user and again.user_id != mother.user_id


# --- issue 11, finding 7: links reveal nothing and cannot be jammed --------------------------------


async def strangers(w: World, n: int, start: int = 0) -> list[str]:
    out = []
    for i in range(start, start + n):
        s = await w.signed_in(f"+7999222{i:04d}")
        await w.profiles.create_profile(s.user_id, ProfileInput("Чужой", "Человек", "", "1980-01-01"), "")
        out.append(s.user_id)
    return out


async def test_pending_requests_do_not_take_the_childs_guardian_slots():
    from identity.app.policy import IdentityPolicy

    w = World(IdentityPolicy(child_link_requests_per_day=100))
    mother, child = await family(w)
    for stranger in await strangers(w, 8):
        assert await w.guardians.link(stranger, CHILD, None) is None
    code, _ = await w.guardians.create_link_code(child.user_id)
    view = await w.guardians.link(mother.user_id, None, code)  # the real parent is not GUARDIANS_FULL
    assert view is not None and view.link.state is LinkState.LINKED


async def test_a_phone_request_from_a_stranger_shows_no_child_and_export_shows_none():
    w = World()
    mother, child = await family(w)
    assert await w.guardians.link(mother.user_id, CHILD, None) is None
    assert await w.guardians.children(mother.user_id) == []
    exported = await w.accounts.export(mother.user_id)
    assert exported.children == []
    await w.guardians.confirm(child.user_id, mother.user_id)  # the child confirms: now it shows
    assert [c.id for c in (await w.accounts.export(mother.user_id)).children] == [child.user_id]


async def test_pending_requests_lapse():
    w = World()
    mother, child = await family(w)
    await w.guardians.link(mother.user_id, CHILD, None)
    w.clock.advance(w.policy.guardian_request_ttl_seconds + 1)
    assert await w.guardians.guardians(child.user_id) == []
    with pytest.raises(NotFound):
        await w.guardians.confirm(child.user_id, mother.user_id)


async def test_link_attempts_are_limited_per_child_phone_whether_or_not_it_has_an_account():
    from identity.app.policy import IdentityPolicy
    from parta_common.errors import ResourceExhausted

    w = World(IdentityPolicy(child_link_requests_per_day=3))
    await family(w)
    people = await strangers(w, 4)
    for phone in (CHILD, "+79990000000"):
        for stranger in people[:3]:
            assert await w.guardians.link(stranger, phone, None) is None
        with pytest.raises(ResourceExhausted) as caught:
            await w.guardians.link(people[3], phone, None)
        assert caught.value.reason == "LINK_RATE_LIMITED"


async def test_link_attempts_are_limited_per_guardian():
    from identity.app.policy import IdentityPolicy
    from parta_common.errors import ResourceExhausted

    w = World(IdentityPolicy(guardian_links_per_day=2))
    mother, _child = await family(w)
    await w.guardians.link(mother.user_id, "+79990000001", None)
    await w.guardians.link(mother.user_id, "+79990000002", None)
    with pytest.raises(ResourceExhausted) as caught:
        await w.guardians.link(mother.user_id, "+79990000003", None)
    assert caught.value.reason == "LINK_RATE_LIMITED"
