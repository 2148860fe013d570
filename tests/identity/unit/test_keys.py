"""Signing keyring: rotation keeps old keys published until their tokens expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from identity.adapters.keys import (
    KeyringHolder,
    generate_key,
    keyring_from_json,
    keyring_to_json,
    parse_configured_keys,
)
from identity.domain.keys import Keyring
from parta_common.auth import KeyCache, TokenVerifier
from parta_common.errors import Unauthenticated
from parta_common.testing.fakes import FakeClock

NOW = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def test_rotation_makes_a_new_current_key_and_keeps_the_old_one_until_its_tokens_expire():
    old = generate_key(NOW)
    ring = Keyring((old,))
    new = generate_key(NOW + timedelta(seconds=1))
    rotated = ring.rotate(new, NOW)
    assert rotated.current().key_id == new.key_id
    assert {k.key_id for k in rotated.published(NOW + timedelta(seconds=900), 900)} == {old.key_id, new.key_id}
    assert {k.key_id for k in rotated.published(NOW + timedelta(seconds=961), 900)} == {new.key_id}
    assert [k.key_id for k in rotated.prune(NOW + timedelta(hours=1), 900).keys] == [new.key_id]


async def test_tokens_of_the_old_key_still_verify_after_rotation_and_new_ones_use_the_new_key():
    clock = FakeClock(NOW)
    holder = KeyringHolder(
        Keyring((generate_key(NOW),)), issuer="parta-identity", audience="parta", ttl_seconds=900, clock=clock
    )
    verifier = TokenVerifier(KeyCache(holder, min_refresh_seconds=0), issuer="parta-identity", audience="parta")
    now = datetime.now(UTC)
    before = holder.issue("u1", "s1", "+79991234567", now)
    holder.replace(holder.ring.rotate(generate_key(now), now + timedelta(seconds=1)))
    after = holder.issue("u1", "s1", "+79991234567", now + timedelta(seconds=2))
    assert jwt.get_unverified_header(before.token)["kid"] != jwt.get_unverified_header(after.token)["kid"]
    assert (await verifier.verify(before.token)).user_id == "u1"
    principal = await verifier.verify(after.token)
    assert principal.claims["phone_number"] == "+79991234567" and principal.session_id == "s1"


def test_configured_keys_round_trip_and_bad_ones_are_refused(tmp_path):
    ring = Keyring((generate_key(NOW),))
    path = tmp_path / "keys.json"
    import json

    path.write_text(json.dumps(keyring_to_json(ring)))
    assert parse_configured_keys(str(path)).current().key_id == ring.current().key_id
    for bad in ([], [{"kid": "a", "private_key": "AAAA"}], [{"private_key": "x"}], "nope"):
        with pytest.raises(ValueError):
            keyring_from_json(bad)
    with pytest.raises(ValueError):
        parse_configured_keys("not base64 !!")


async def test_a_token_from_a_foreign_key_is_refused():
    holder = KeyringHolder(
        Keyring((generate_key(NOW),)), issuer="parta-identity", audience="parta", ttl_seconds=900, clock=FakeClock(NOW)
    )
    foreign = KeyringHolder(
        Keyring((generate_key(NOW),)), issuer="parta-identity", audience="parta", ttl_seconds=900, clock=FakeClock(NOW)
    )
    verifier = TokenVerifier(KeyCache(holder), issuer="parta-identity", audience="parta")
    with pytest.raises(Unauthenticated) as caught:
        await verifier.verify(foreign.issue("u1", "s1", "", datetime.now(UTC)).token)
    assert caught.value.reason == "TOKEN_UNKNOWN_KEY"
