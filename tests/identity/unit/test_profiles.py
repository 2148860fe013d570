"""Profiles with fakes: validation (names, absurd dates), create once, field-mask updates, names."""

from __future__ import annotations

import pytest
from identity.app.profiles import ProfileInput
from identity.domain.phones import normalize_phone
from parta_common.errors import AlreadyExists, FailedPrecondition, InvalidArgument

from tests.identity.fakes import World

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
