"""Phone sign-in with fakes: code life-cycle, lockout, cooldown, caps, hashed codes, sessions."""

from __future__ import annotations

import pytest
from identity.app.policy import IdentityPolicy
from identity.domain.challenges import ChallengeState
from parta_common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)

from tests.identity.fakes import World

PHONE = "+79991234567"


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_code_is_sent_normalised_and_stored_only_as_a_keyed_hash():
    w = World()
    sent = await w.sign_in.request_code("8 (999) 123-45-67", "", "10.0.0.1")
    phone, code = w.sms.sent[-1]
    assert phone == PHONE and len(code) == 6 and code.isdigit()
    stored = w.challenges.rows[sent.challenge_id]
    assert code not in repr(stored) and stored.code_hash == w.hasher.hash("code", sent.challenge_id, code)
    assert sent.resend_after_seconds == 60 and (sent.expires_at - w.clock.now()).total_seconds() == 300


async def test_verify_creates_the_account_once_and_opens_sessions():
    w = World()
    first = await w.signed_in(PHONE)
    assert first.is_new_user and not first.has_profile
    second = await w.signed_in(PHONE)
    assert second.user_id == first.user_id and not second.is_new_user
    assert second.session_id != first.session_id
    assert [type(e).__name__ for e in w.users.published] == ["UserRegistered"]


async def test_five_wrong_codes_lock_the_challenge_even_for_the_right_code():
    w = World()
    sent = await w.sign_in.request_code(PHONE, "", "10.0.0.1")
    code = w.sms.last_code(PHONE)
    for left in (4, 3, 2, 1):
        with pytest.raises(Unauthenticated) as caught:
            await w.sign_in.verify_code(sent.challenge_id, wrong(code), "")
        assert caught.value.reason == "CODE_INVALID" and caught.value.metadata["attempts_left"] == str(left)
    with pytest.raises(FailedPrecondition) as fifth:
        await w.sign_in.verify_code(sent.challenge_id, wrong(code), "")
    assert fifth.value.reason == "CHALLENGE_LOCKED"
    with pytest.raises(FailedPrecondition) as right:
        await w.sign_in.verify_code(sent.challenge_id, code, "")
    assert right.value.reason == "CHALLENGE_LOCKED"
    assert w.challenges.rows[sent.challenge_id].state is ChallengeState.LOCKED


async def test_code_expires_after_five_minutes_and_is_single_use():
    w = World()
    sent = await w.sign_in.request_code(PHONE, "", "10.0.0.1")
    w.clock.advance(301)
    with pytest.raises(FailedPrecondition) as expired:
        await w.sign_in.verify_code(sent.challenge_id, w.sms.last_code(PHONE), "")
    assert expired.value.reason == "CHALLENGE_EXPIRED"

    sent = await w.sign_in.request_code(PHONE, "", "10.0.0.1")
    await w.sign_in.verify_code(sent.challenge_id, w.sms.last_code(PHONE), "")
    with pytest.raises(FailedPrecondition) as used:
        await w.sign_in.verify_code(sent.challenge_id, w.sms.last_code(PHONE), "")
    assert used.value.reason == "CHALLENGE_USED"


async def test_a_new_code_supersedes_the_older_one():
    w = World()
    old = await w.sign_in.request_code(PHONE, "", "10.0.0.1")
    old_code = w.sms.last_code(PHONE)
    w.clock.advance(61)
    await w.sign_in.request_code(PHONE, "", "10.0.0.1")
    with pytest.raises(FailedPrecondition) as caught:
        await w.sign_in.verify_code(old.challenge_id, old_code, "")
    assert caught.value.reason == "CHALLENGE_SUPERSEDED"


async def test_resend_cooldown_and_idempotent_retry_with_request_id():
    w = World()
    first = await w.sign_in.request_code(PHONE, "req-1", "10.0.0.1")
    retried = await w.sign_in.request_code(PHONE, "req-1", "10.0.0.1")
    assert retried.challenge_id == first.challenge_id and len(w.sms.sent) == 1
    w.clock.advance(20)
    with pytest.raises(ResourceExhausted) as caught:
        await w.sign_in.request_code(PHONE, "req-2", "10.0.0.1")
    assert caught.value.reason == "CODE_RESEND_TOO_SOON" and caught.value.retry_after_seconds == pytest.approx(40)
    w.clock.advance(40)
    await w.sign_in.request_code(PHONE, "req-2", "10.0.0.1")
    assert len(w.sms.sent) == 2


async def test_daily_cap_per_phone_and_limit_per_address():
    w = World(IdentityPolicy(phone_daily_cap=3, address_limit=5))
    for _ in range(3):
        await w.sign_in.request_code(PHONE, "", "10.0.0.1")
        w.clock.advance(61)
    with pytest.raises(ResourceExhausted) as cap:
        await w.sign_in.request_code(PHONE, "", "10.0.0.1")
    assert cap.value.reason == "DAILY_CODE_CAP" and cap.value.retry_after_seconds > 0
    await w.sign_in.request_code("+79991234500", "", "10.0.0.1")
    with pytest.raises(ResourceExhausted) as addr:
        await w.sign_in.request_code("+79991234501", "", "10.0.0.1")
    assert addr.value.reason == "RATE_LIMITED_ADDRESS"
    await w.sign_in.request_code("+79991234501", "", "10.0.0.2")  # another address is unaffected


async def test_gateway_failure_is_unavailable_not_internal():
    w = World()
    w.sms.fail = True
    with pytest.raises(Unavailable) as caught:
        await w.sign_in.request_code(PHONE, "", "10.0.0.1")
    assert caught.value.reason == "SMS_UNAVAILABLE"


async def test_a_retry_after_a_failed_send_gets_a_fresh_code_by_sms():
    w = World()
    w.sms.fail = True
    with pytest.raises(Unavailable):
        await w.sign_in.request_code(PHONE, "req-1", "10.0.0.1")
    w.sms.fail = False
    w.clock.advance(61)  # the failed attempt took the phone's resend slot
    retried = await w.sign_in.request_code(PHONE, "req-1", "10.0.0.1")
    assert len(w.sms.sent) == 1  # the retry sent the code the first attempt could not
    assert w.challenges.rows[retried.challenge_id].state is ChallengeState.PENDING
    again = await w.sign_in.request_code(PHONE, "req-1", "10.0.0.1")
    assert again.challenge_id == retried.challenge_id and len(w.sms.sent) == 1  # now sent: no second SMS
    signed = await w.sign_in.verify_code(retried.challenge_id, w.sms.last_code(PHONE), "")
    assert signed.is_new_user


@pytest.mark.parametrize(
    ("challenge_id", "code", "device", "field"),
    [
        ("", "123456", "", "challenge_id"),
        ("not-an-id", "123456", "", "challenge_id"),
        ("0190a0b0-0000-7000-8000-000000000000", "12345", "", "code"),
        ("0190a0b0-0000-7000-8000-000000000000", "12345a", "", "code"),
        ("0190a0b0-0000-7000-8000-000000000000", "١٢٣٤٥٦", "", "code"),  # non-ASCII digits
        ("0190a0b0-0000-7000-8000-000000000000", "123456", "x" * 65, "device_name"),
        ("0190a0b0-0000-7000-8000-000000000000", "123456", "bad\x00name", "device_name"),
    ],
)
async def test_malformed_verify_input_is_invalid_argument(challenge_id, code, device, field):
    w = World()
    with pytest.raises(InvalidArgument) as caught:
        await w.sign_in.verify_code(challenge_id, code, device)
    assert [v.field for v in caught.value.violations] == [field]


async def test_unknown_challenge_is_not_found():
    w = World()
    with pytest.raises(NotFound):
        await w.sign_in.verify_code("0190a0b0-0000-7000-8000-000000000000", "123456", "")
