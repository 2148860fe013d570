"""Profiles with fakes: validation (names, absurd dates), create once, field-mask updates, names."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from identity.app.common import live_user
from identity.app.profiles import ProfileInput
from identity.domain.phones import normalize_phone
from identity.domain.users import User
from parta_common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

from tests.identity.fakes import FakeUsers, World

ADULT = ProfileInput("Ирина", "Петрова", "", "1985-03-14")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+7 999 123-45-67", "+79991234567"),
        ("8 (999) 123 45 67", "+79991234567"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phones_are_normalised_to_e164(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", "12", "+7 999", "+7999123456789012", "abc", "+7 999 123 45 67 ext", "x" * 40]
)
def test_unparsable_phones_are_invalid_argument(raw):
    with pytest.raises(InvalidArgument) as caught:
        normalize_phone(raw)
    assert caught.value.violations[0].field == "phone"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (ProfileInput("", "Петрова", "", "1985-03-14"), "first_name"),
        (ProfileInput("И" * 65, "Петрова", "", "1985-03-14"), "first_name"),
        (ProfileInput("Ирина\x07", "Петрова", "", "1985-03-14"), "first_name"),
        (ProfileInput("12345", "Петрова", "", "1985-03-14"), "first_name"),
        (ProfileInput("Ирина", "Петрова", "<script>", "1985-03-14"), "patronymic"),
        (ProfileInput("Ирина", "Петрова", "", ""), "birth_date"),
        (ProfileInput("Ирина", "Петрова", "", "1985-02-30"), "birth_date"),
        (ProfileInput("Ирина", "Петрова", "", "14.03.1985"), "birth_date"),
        (ProfileInput("Ирина", "Петрова", "", "2030-01-01"), "birth_date"),
        (ProfileInput("Ирина", "Петрова", "", "1850-01-01"), "birth_date"),
        (ProfileInput("Ирина", "Петрова", "", "2025-01-01"), "birth_date"),  # a baby
        (ProfileInput("Ирина", "Петрова", "", "99999-01-01"), "birth_date"),
    ],
)
async def test_invalid_profiles_are_rejected_with_the_field(data, field):
    w = World()
    s = await w.signed_in("+79991234567")
    with pytest.raises(InvalidArgument) as caught:
        await w.profiles.create_profile(s.user_id, data, "")
    assert [v.field for v in caught.value.violations] == [field]


async def test_profile_is_created_once_retry_with_same_request_id_is_idempotent():
    w = World()
    s = await w.signed_in("+79991234567")
    user = await w.profiles.create_profile(s.user_id, ADULT, "r1")
    assert user.profile and user.profile.first_name == "Ирина"
    again = await w.profiles.create_profile(s.user_id, ADULT, "r1")
    assert again.version == user.version
    with pytest.raises(AlreadyExists):
        await w.profiles.create_profile(s.user_id, ADULT, "r2")
    assert [type(e).__name__ for e in w.users.published] == ["UserRegistered", "ProfileCreated"]


async def test_update_by_field_mask_touches_only_named_fields():
    w = World()
    s = await w.signed_in("+79991234567")
    with pytest.raises(FailedPrecondition):
        await w.profiles.update_profile(s.user_id, {"first_name": "Ира"}, ["first_name"])
    await w.profiles.create_profile(s.user_id, ADULT, "")
    user = await w.profiles.update_profile(s.user_id, {"first_name": "Ира", "last_name": ""}, ["first_name"])
    assert user.profile and (user.profile.first_name, user.profile.last_name) == ("Ира", "Петрова")
    with pytest.raises(InvalidArgument):
        await w.profiles.update_profile(s.user_id, {}, [])
    with pytest.raises(InvalidArgument):
        await w.profiles.update_profile(s.user_id, {"phone": "+7"}, ["phone"])
    with pytest.raises(InvalidArgument):
        await w.profiles.update_profile(s.user_id, {"last_name": ""}, ["last_name"])
    assert type(w.users.published[-1]).__name__ == "ProfileUpdated"


async def test_display_names_only_for_people_sharing_a_school():
    w = World()
    me = await w.signed_in("+79991230001")
    mate = await w.signed_in("+79991230002")
    stranger = await w.signed_in("+79991230003")
    for s, name in ((me, "Ольга"), (mate, "Павел"), (stranger, "Чужой")):
        await w.profiles.create_profile(s.user_id, ProfileInput(name, "Иванов", "", "1980-01-01"), "")
    w.directory.schools = {me.user_id: {"s17"}, mate.user_id: {"s17"}, stranger.user_id: {"s99"}}
    found = await w.profiles.display_names(me.user_id, [me.user_id, mate.user_id, stranger.user_id])
    assert {u.id for u in found} == {me.user_id, mate.user_id}
    with pytest.raises(InvalidArgument):
        await w.profiles.display_names(me.user_id, ["nope"])
    with pytest.raises(InvalidArgument):
        await w.profiles.display_names(me.user_id, [me.user_id] * 201)


# --- issue 11, finding 1b: a birth date that crosses the consent age or 18 needs a confirmer -----


async def _child_and_mother(w):  # type: ignore[no-untyped-def]
    from identity.app.profiles import ProfileInput as Input

    child = await w.signed_in("+79993330001")
    mother = await w.signed_in("+79993330002")
    await w.profiles.create_profile(child.user_id, Input("Миша", "Смирнов", "", "2015-05-01"), "")
    await w.profiles.create_profile(mother.user_id, Input("Анна", "Смирнова", "", "1988-02-02"), "")
    return child.user_id, mother.user_id


async def test_a_child_cannot_age_itself_out_of_the_consent_gate():
    from identity.domain.events import AgeBand, BirthDateChangeRequested, ConsentState

    w = World()
    child, _mother = await _child_and_mother(w)
    user = await w.profiles.update_profile(child, {"birth_date": "2000-01-01"}, ["birth_date"])
    assert user.profile is not None and user.profile.birth_date.isoformat() == "2015-05-01"  # old band holds
    assert user.consent_state is ConsentState.AWAITING_GUARDIAN
    assert user.pending_birth_date is not None and user.pending_birth_date.isoformat() == "2000-01-01"
    assert BirthDateChangeRequested(child, AgeBand.BELOW_CONSENT_AGE, AgeBand.ADULT) in w.users.published


async def test_a_same_band_correction_applies_at_once():
    w = World()
    child, _mother = await _child_and_mother(w)
    user = await w.profiles.update_profile(child, {"birth_date": "2015-06-01"}, ["birth_date"])
    assert user.profile is not None and user.profile.birth_date.isoformat() == "2015-06-01"
    assert user.pending_birth_date is None


async def test_a_linked_guardian_confirms_the_change_and_it_is_recorded():
    from identity.domain.events import BirthDateChangeConfirmed, ConsentChanged, ConsentState

    w = World()
    child, mother = await _child_and_mother(w)
    code, _ = await w.guardians.create_link_code(child)
    await w.guardians.link(mother, None, code)
    await w.profiles.update_profile(child, {"birth_date": "2010-01-01"}, ["birth_date"])  # 16: consents alone
    with pytest.raises(FailedPrecondition) as mismatch:
        await w.profiles.confirm_birth_date_change(mother, child, "2011-01-01")
    assert mismatch.value.reason == "BIRTH_DATE_CHANGE_MISMATCH"
    user = await w.profiles.confirm_birth_date_change(mother, child, "2010-01-01")
    assert user.consent_state is ConsentState.NOT_REQUIRED and user.pending_birth_date is None
    confirmed = [e for e in w.users.published if isinstance(e, BirthDateChangeConfirmed)]
    assert [(e.confirmed_by_user_id, e.confirmed_as) for e in confirmed] == [(mother, "guardian")]
    assert any(
        isinstance(e, ConsentChanged) and e.consent_state is ConsentState.NOT_REQUIRED for e in w.users.published
    )


async def test_nobody_else_can_confirm_not_even_the_child_and_a_pending_link_is_not_enough():
    w = World()
    child, mother = await _child_and_mother(w)
    await w.guardians.link(mother, "+79993330001", None)  # a request, not yet confirmed by the child
    await w.profiles.update_profile(child, {"birth_date": "2000-01-01"}, ["birth_date"])
    stranger = await w.signed_in("+79993330009")
    for caller in (child, mother, stranger.user_id):
        with pytest.raises(NotFound) as caught:
            await w.profiles.confirm_birth_date_change(caller, child, "2000-01-01")
        assert caught.value.reason == "BIRTH_DATE_CHANGE_NOT_FOUND"


async def test_a_school_admin_of_the_childs_school_confirms_or_declines():
    from identity.domain.events import BirthDateChangeDeclined

    w = World()
    child, _mother = await _child_and_mother(w)
    admin = await w.signed_in("+79993330003")
    w.directory.admins[admin.user_id] = {"school-1"}
    w.directory.schools[child] = {"school-1"}
    await w.profiles.update_profile(child, {"birth_date": "2000-01-01"}, ["birth_date"])
    await w.profiles.decline_birth_date_change(admin.user_id, child)
    assert (await w.users.get(child)).pending_birth_date is None  # type: ignore[union-attr]
    assert any(isinstance(e, BirthDateChangeDeclined) and e.declined_as == "school_admin" for e in w.users.published)
    await w.profiles.update_profile(child, {"birth_date": "2000-01-01"}, ["birth_date"])
    user = await w.profiles.confirm_birth_date_change(admin.user_id, child, "2000-01-01")
    assert user.profile is not None and user.profile.birth_date.isoformat() == "2000-01-01"


async def test_the_owner_withdraws_by_giving_the_confirmed_date_again():
    w = World()
    child, _mother = await _child_and_mother(w)
    await w.profiles.update_profile(child, {"birth_date": "2000-01-01"}, ["birth_date"])
    user = await w.profiles.update_profile(child, {"birth_date": "2015-05-01"}, ["birth_date"])
    assert user.pending_birth_date is None


async def test_a_profile_less_account_is_not_consented_and_has_no_snapshot():
    from identity.domain.events import ConsentState, ProfileCreated, ProfileUpdated

    w = World()
    signed = await w.signed_in("+79993330010")
    user = await w.users.get(signed.user_id)
    assert user is not None and user.consent_state is ConsentState.UNSPECIFIED  # never NOT_REQUIRED
    assert not any(isinstance(e, ProfileCreated | ProfileUpdated) for e in w.users.published)
    with pytest.raises(FailedPrecondition) as caught:
        await w.profiles.get_my_profile(signed.user_id)
    assert caught.value.reason == "PROFILE_MISSING"


async def test_an_unknown_or_deleted_account_is_user_not_found_for_every_use_case():
    users, now = FakeUsers(), datetime(2026, 9, 1, tzinfo=UTC)
    users.rows["u-1"] = User.register("u-1", "+79990000001", now)
    users.rows["u-2"] = replace(User.register("u-2", "+79990000002", now), deleted_at=now)
    assert (await live_user(users, "u-1")).id == "u-1"
    for missing in ("u-2", "u-3"):
        with pytest.raises(NotFound) as caught:
            await live_user(users, missing)
        assert caught.value.reason == "USER_NOT_FOUND"
