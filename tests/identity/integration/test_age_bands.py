"""The age-band check on the real store and Kafka: a birthday over the consent age reaches the bus
as ProfileAgeBandChanged (and ConsentChanged) through the outbox, once, however often it runs."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer
from identity.app.profiles import ProfileInput
from identity.bootstrap import build
from parta.identity.v1 import events_pb2
from parta_common.events.envelope import parse_envelope
from parta_common.events.topics import IDENTITY_USER
from parta_common.testing.fakes import FakeClock

from tests.e2e.identity_client import random_phone
from tests.identity.fakes import FakeSms
from tests.identity.integration.conftest import settings_for


async def test_birthday_over_the_consent_age_is_published_once(mongo_uri, kafka_bootstrap, unique, mongo_db):
    clock = FakeClock(datetime(2026, 9, 1, 9, 0, tzinfo=UTC))
    sms = FakeSms()
    service = await build(settings_for(mongo_uri, kafka_bootstrap, unique), clock=clock, sms=sms)
    assert service.age_bands is not None
    await service.relay.start()
    try:
        phones = [random_phone() for _ in range(3)]
        ids = []
        for phone, birth in zip(phones, ("2012-09-03", "2012-09-20", "1990-01-01"), strict=True):
            sent = await service.sign_in.request_code(phone, "", "10.1.2.3")
            signed = await service.sign_in.verify_code(sent.challenge_id, sms.last_code(phone), "phone")
            await service.profiles.create_profile(signed.user_id, ProfileInput("Миша", "Петров", "", birth), "")
            ids.append(signed.user_id)
        turning, later, adult = ids
        stored = await mongo_db["users"].find_one({"_id": turning})
        assert (stored["age_band"], stored["age_band_changes_on"]) == ("below_consent_age", "2026-09-03")

        clock.set(datetime(2026, 9, 4, 3, 0, tzinfo=UTC))  # the check ran a day late: still caught
        first = await service.age_bands.run_once()
        again = await service.age_bands.run_once()  # a second replica, or a restart, the same day
        assert first is not None and (first.checked, first.changed) == (1, 1)
        assert again is not None and again.checked == 0
        stored = await mongo_db["users"].find_one({"_id": turning})
        assert (stored["age_band"], stored["consent_state"]) == ("minor", "not_required")
        assert stored["age_band_changes_on"] == "2030-09-03"

        consumer = AIOKafkaConsumer(
            f"t{unique}.{IDENTITY_USER}", bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        changes: list[tuple[str, events_pb2.ProfileAgeBandChanged]] = []
        consent: list[events_pb2.ConsentChanged] = []
        snapshots: dict[str, int] = {}

        async def read(timeout_ms: int) -> None:
            for records in (await consumer.getmany(timeout_ms=timeout_ms)).values():
                for record in records:
                    assert b"2012-09" not in record.value  # no birth dates on the bus
                    envelope = parse_envelope(record.value)
                    if envelope.event_type == "parta.identity.v1.ProfileAgeBandChanged":
                        changed = events_pb2.ProfileAgeBandChanged()
                        envelope.payload.Unpack(changed)
                        changes.append((record.key.decode(), changed))
                    elif envelope.event_type == "parta.identity.v1.ConsentChanged":
                        msg = events_pb2.ConsentChanged()
                        envelope.payload.Unpack(msg)
                        consent.append(msg)
                    elif envelope.event_type == "parta.identity.v1.ProfileCreated":
                        created = events_pb2.ProfileCreated()
                        envelope.payload.Unpack(created)
                        snapshots[created.profile.user_id] = created.profile.age_band

        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (changes and consent and len(snapshots) == 3):
                await read(500)
            await read(1000)  # a duplicate would follow closely: the relay had both runs' writes
        finally:
            await consumer.stop()
        assert [(key, c.user_id, c.age_band, c.previous_age_band, c.consent_state) for key, c in changes] == [
            (
                turning,
                turning,
                events_pb2.AGE_BAND_MINOR,
                events_pb2.AGE_BAND_BELOW_CONSENT_AGE,
                events_pb2.CONSENT_STATE_NOT_REQUIRED,
            )
        ]
        assert [(c.user_id, c.consent_state, c.guardian_user_id) for c in consent] == [
            (turning, events_pb2.CONSENT_STATE_NOT_REQUIRED, "")
        ]
        assert snapshots == {
            turning: events_pb2.AGE_BAND_BELOW_CONSENT_AGE,
            later: events_pb2.AGE_BAND_BELOW_CONSENT_AGE,
            adult: events_pb2.AGE_BAND_ADULT,
        }
    finally:
        await service.relay.stop()
        await service.infra.close()
