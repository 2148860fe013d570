"""The consent state machine and guardian links, with fakes."""

from __future__ import annotations

import pytest
from identity.app.profiles import ProfileInput
from identity.domain.events import ConsentChanged, ConsentState, GuardianLinked, GuardianUnlinked
from identity.domain.users import LinkState
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
    view = await w.guardians.link(mother.user_id, CHILD, None)
    assert view.link.state is LinkState.PENDING
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
    assert any(isinstance(e, GuardianUnlinked) for e in w.users.published)
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
    with pytest.raises(NotFound):
        await w.guardians.link(mother.user_id, "+79990000000", None)


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
    gone = await w.users.get(mother.user_id)
    assert gone and gone.deleted and gone.phone is None and gone.profile is None
    assert not w.sessions.rows[mother.session_id].active
    assert type(w.users.published[-1]).__name__ == "AccountDeleted"
    again = await w.signed_in(MOTHER)  # the number may sign up again, as a new person
    assert again.is_new_user and again.user_id != mother.user_id
