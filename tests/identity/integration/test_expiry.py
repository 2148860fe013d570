"""Short-lived identity records expire through TTL indexes on the real store: what is past its
retention disappears, what is live (or still inside its retention window) stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from identity.adapters.mongo import CHALLENGES, RATE_LIMITS, SESSIONS
from identity.bootstrap import build
from parta_common.testing.fakes import FakeClock

from tests.e2e.identity_client import random_phone
from tests.identity.fakes import FakeSms
from tests.identity.integration.conftest import settings_for
from tests.store.ttl import expire_now

pytestmark = pytest.mark.asyncio


async def test_expired_challenges_counters_and_ended_sessions_disappear_live_ones_stay(
    mongo_uri, kafka_bootstrap, unique, mongo_db
):
    # The store expires by its own wall clock, so the service's clock writes "old" records by
    # living 100 days in the past, then returns to now for the live ones.
    now = datetime.now(UTC)
    clock = FakeClock(now - timedelta(days=100))
    sms = FakeSms()
    service = await build(
        settings_for(mongo_uri, kafka_bootstrap, unique, resend_cooldown_seconds=60), clock=clock, sms=sms
    )
    try:
        sign_in = service.sign_in

        async def signed_in(phone: str):  # type: ignore[no-untyped-def]
            sent = await sign_in.request_code(phone, "", "10.1.2.3")
            return sent, await sign_in.verify_code(sent.challenge_id, sms.last_code(phone), "phone")

        # Two phones: the resend cooldown is one slot per phone, and the live sign-in would reuse it.
        phone, live_phone = random_phone(), random_phone()
        old_sent, old_revoked = await signed_in(phone)
        await sign_in.revoke_session(old_revoked.user_id, old_revoked.session_id)
        clock.advance(120)
        _, old_idle = await signed_in(phone)  # never used again: idle past 60 days + 30 retained

        clock.set(now - timedelta(minutes=1))
        live_sent, live = await signed_in(live_phone)
        clock.advance(61)
        _, recently_revoked = await signed_in(live_phone)
        await sign_in.revoke_session(recently_revoked.user_id, recently_revoked.session_id)

        challenges, sessions, limits = mongo_db[CHALLENGES], mongo_db[SESSIONS], mongo_db[RATE_LIMITS]
        # The old phone's cooldown + day count (one document) and the old address counter.
        assert await limits.count_documents({"expires_at": {"$lt": now}}) >= 2

        async def old_ones_gone() -> bool:
            return (
                await challenges.count_documents({"_id": old_sent.challenge_id}) == 0
                and await sessions.count_documents({"_id": {"$in": [old_revoked.session_id, old_idle.session_id]}}) == 0
                and await limits.count_documents({"expires_at": {"$lt": now}}) == 0
            )

        await expire_now(mongo_db.client, old_ones_gone)

        assert await challenges.count_documents({"_id": live_sent.challenge_id}) == 1
        kept = {d["_id"] async for d in sessions.find({}, {"_id": 1})}
        assert kept == {live.session_id, recently_revoked.session_id}
        assert await limits.count_documents({"expires_at": {"$gte": now}}) >= 2
        assert await limits.count_documents({"resend_after": {"$gte": now}}) == 1  # the live phone's cooldown
        # The live session still works after the sweep: the store removed nothing it needs.
        await sign_in.check_session(live.user_id, live.session_id)
    finally:
        await service.infra.close()
