"""Age bands with fakes and a FakeClock: the periodic check moves people across the consent age and
18 on (or after) their birthday, once per change, with consent and events following."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from identity.adapters.events import to_message
from identity.app.age_bands import AgeBands
from identity.app.policy import IdentityPolicy
from identity.app.profiles import ProfileInput
from identity.domain.events import (
    AgeBand,
    BirthDateCorrected,
    ConsentChanged,
    ConsentState,
    ProfileAgeBandChanged,
    ProfileUpdated,
)
from identity.domain.profiles import age_band, next_band_change
from parta.identity.v1 import events_pb2

from tests.identity.fakes import World


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=3, tzinfo=UTC)


async def child(world: World, birth: str, phone: str = "+79990000001") -> str:
    signed = await world.signed_in(phone)
    await world.profiles.create_profile(signed.user_id, ProfileInput("Миша", "Петров", "", birth), "")
    return signed.user_id


def band_events(world: World) -> list[object]:
    return [e for e in world.users.published if isinstance(e, ProfileAgeBandChanged | ConsentChanged | ProfileUpdated)]


@pytest.mark.parametrize(
    ("born", "today", "band", "next_change"),
    [
        ("2012-09-03", "2026-09-02", AgeBand.BELOW_CONSENT_AGE, "2026-09-03"),
        ("2012-09-03", "2026-09-03", AgeBand.MINOR, "2030-09-03"),
        ("2008-09-03", "2026-09-03", AgeBand.ADULT, None),
        # 29 February: the birthday counts on 1 March in common years, as age_on has it.
        ("2012-02-29", "2026-02-28", AgeBand.BELOW_CONSENT_AGE, "2026-03-01"),
        ("2012-02-29", "2026-03-01", AgeBand.MINOR, "2030-03-01"),
    ],
)
def test_band_and_its_next_change_day(born, today, band, next_change):
    b, t = date.fromisoformat(born), date.fromisoformat(today)
    assert age_band(b, t, 14) is band
    assert next_band_change(b, t, 14) == (date.fromisoformat(next_change) if next_change else None)


async def test_birthday_crossing_consent_age_then_18_emits_once_each():
    world = World()
    world.clock.set(at("2026-09-01"))
    user_id = await child(world, "2012-09-03")  # 13, awaiting a guardian
    stored = world.users.rows[user_id]
    assert (stored.age_band, stored.consent_state) == (AgeBand.BELOW_CONSENT_AGE, ConsentState.AWAITING_GUARDIAN)
    world.users.published.clear()

    assert (await world.age_bands.refresh_due()).changed == 0  # nothing due before the birthday
    world.clock.set(at("2026-09-03"))
    assert (await world.age_bands.refresh_due()).changed == 1
    events = band_events(world)
    assert events[0] == ConsentChanged(user_id, ConsentState.NOT_REQUIRED, "")
    assert events[1] == ProfileAgeBandChanged(
        user_id, AgeBand.MINOR, AgeBand.BELOW_CONSENT_AGE, ConsentState.NOT_REQUIRED
    )
    assert isinstance(events[2], ProfileUpdated)
    assert events[2].profile.age_band is AgeBand.MINOR and events[2].profile.is_minor
    assert len(events) == 3

    # Idempotent: again the same day, and every day until the next threshold, nothing happens.
    world.users.published.clear()
    assert (await world.age_bands.refresh_due()).checked == 0
    world.clock.set(at("2030-09-02"))
    assert (await world.age_bands.refresh_due()).checked == 0
    assert world.users.published == []

    world.clock.set(at("2030-09-03"))
    assert (await world.age_bands.refresh_due()).changed == 1
    events = band_events(world)
    assert [type(e) for e in events] == [ProfileAgeBandChanged, ProfileUpdated]  # consent already not required
    assert events[0] == ProfileAgeBandChanged(user_id, AgeBand.ADULT, AgeBand.MINOR, ConsentState.NOT_REQUIRED)
    assert not events[1].profile.is_minor  # type: ignore[attr-defined]
    assert world.users.rows[user_id].age_band_changes_on is None  # adults are never due again
    world.clock.set(at("2060-01-01"))
    assert (await world.age_bands.refresh_due()).checked == 0


async def test_a_check_that_missed_both_birthdays_moves_straight_to_adult_once():
    world = World()
    world.clock.set(at("2026-09-01"))
    user_id = await child(world, "2012-09-03")
    world.users.published.clear()
    world.clock.set(at("2031-01-10"))  # the check did not run for years
    report = await world.age_bands.refresh_due()
    assert (report.checked, report.changed) == (1, 1)
    changes = [e for e in world.users.published if isinstance(e, ProfileAgeBandChanged)]
    assert changes == [
        ProfileAgeBandChanged(user_id, AgeBand.ADULT, AgeBand.BELOW_CONSENT_AGE, ConsentState.NOT_REQUIRED)
    ]


async def test_bands_stored_before_the_check_existed_or_under_another_consent_age_are_rechecked():
    world = World()
    world.clock.set(at("2026-09-01"))
    user_id = await child(world, "2011-05-05")  # 15: a minor who consents alone under the default 14
    row = world.users.rows[user_id]
    assert row.age_band is AgeBand.MINOR

    # A document written before age bands existed: no band, no rule. The check fills it in once.
    row.age_band, row.age_band_changes_on, row.age_band_rule = AgeBand.UNSPECIFIED, None, ""
    world.users.published.clear()
    assert (await world.age_bands.refresh_due()).changed == 1
    assert [e for e in world.users.published if isinstance(e, ProfileAgeBandChanged)] == [
        ProfileAgeBandChanged(user_id, AgeBand.MINOR, AgeBand.UNSPECIFIED, ConsentState.NOT_REQUIRED)
    ]
    assert (await world.age_bands.refresh_due()).checked == 0

    # The operator raises the consent age to 16: the 15-year-old needs a guardian again.
    stricter = AgeBands(users=world.users, clock=world.clock, policy=IdentityPolicy(consent_age=16))
    world.users.published.clear()
    assert (await stricter.refresh_due()).changed == 1
    assert world.users.rows[user_id].consent_state is ConsentState.AWAITING_GUARDIAN
    assert ConsentChanged(user_id, ConsentState.AWAITING_GUARDIAN, "") in world.users.published
    assert (await stricter.refresh_due()).checked == 0


async def test_a_corrected_birth_date_moves_the_band_once_confirmed_in_the_same_update():
    world = World()
    world.clock.set(at("2026-09-01"))
    user_id = await child(world, "2015-01-01")
    world.users.published.clear()
    await world.profiles.update_profile(user_id, {"birth_date": "2007-01-01"}, ["birth_date"])
    assert band_events(world) == []  # crossing bands waits for a guardian or a school admin
    admin = await world.signed_in("+79990000077")
    world.directory.admins[admin.user_id] = {"school-1"}
    world.directory.schools[user_id] = {"school-1"}
    await world.profiles.confirm_birth_date_change(admin.user_id, user_id, "2007-01-01")
    assert (
        ProfileAgeBandChanged(user_id, AgeBand.ADULT, AgeBand.BELOW_CONSENT_AGE, ConsentState.NOT_REQUIRED)
        in world.users.published
    )
    assert world.users.rows[user_id].age_band_changes_on is None
    assert (await world.age_bands.refresh_due()).checked == 0


async def test_a_correction_within_the_band_applies_at_once_and_is_published_without_the_date():
    world = World()
    world.clock.set(at("2026-09-01"))
    user_id = await child(world, "2015-01-01")
    world.users.published.clear()
    await world.profiles.update_profile(user_id, {"birth_date": "2015-03-02"}, ["birth_date"])
    corrected = [e for e in world.users.published if isinstance(e, BirthDateCorrected)]
    assert corrected == [BirthDateCorrected(user_id, user_id, AgeBand.BELOW_CONSENT_AGE)]
    payload = to_message(corrected[0])[0]
    assert isinstance(payload, events_pb2.BirthDateCorrected)
    assert (payload.user_id, payload.corrected_by_user_id) == (user_id, user_id)
    assert b"2015" not in payload.SerializeToString()
    # A name change, or the same date again, is no correction; a band-crossing date is a request.
    world.users.published.clear()
    await world.profiles.update_profile(user_id, {"birth_date": "2015-03-02", "first_name": "Миша"}, ["birth_date"])
    await world.profiles.update_profile(user_id, {"birth_date": "2007-01-01"}, ["birth_date"])
    assert not any(isinstance(e, BirthDateCorrected) for e in world.users.published)


async def test_deleted_accounts_are_never_due():
    world = World()
    world.clock.set(at("2026-09-01"))
    user_id = await child(world, "2012-09-03")
    await world.accounts.delete(user_id, True)
    world.clock.set(at("2027-01-01"))
    assert (await world.age_bands.refresh_due()).checked == 0
