"""Sessions with fakes: refresh rotation, reuse detection, revocation, the principal check."""

from __future__ import annotations

import pytest
from identity.domain.sessions import new_refresh_token, parse_refresh_token
from parta_common.errors import InvalidArgument, NotFound, Unauthenticated

from tests.identity.fakes import World

PHONE = "+79991234567"


async def test_refresh_rotates_and_the_new_token_works():
    w = World()
    s = await w.signed_in(PHONE)
    first = await w.sign_in.refresh(s.refresh_token)
    second = await w.sign_in.refresh(first.refresh_token)
    assert len({s.refresh_token, first.refresh_token, second.refresh_token}) == 3
    assert w.sessions.rows[s.session_id].active


async def test_reusing_an_old_refresh_token_revokes_the_whole_session():
    w = World()
    s = await w.signed_in(PHONE)
    newer = await w.sign_in.refresh(s.refresh_token)
    with pytest.raises(Unauthenticated) as caught:
        await w.sign_in.refresh(s.refresh_token)
    assert caught.value.reason == "REFRESH_TOKEN_REUSED"
    assert not w.sessions.rows[s.session_id].active
    with pytest.raises(Unauthenticated) as legit:
        await w.sign_in.refresh(newer.refresh_token)  # the legitimate holder is logged out too
    assert legit.value.reason == "SESSION_REVOKED"
    with pytest.raises(Unauthenticated):
        await w.sign_in.check_session(s.user_id, s.session_id)


async def test_a_forged_token_for_a_known_session_does_not_revoke_it():
    w = World()
    s = await w.signed_in(PHONE)
    with pytest.raises(Unauthenticated) as caught:
        await w.sign_in.refresh(new_refresh_token(s.session_id))
    assert caught.value.reason == "REFRESH_TOKEN_INVALID"
    assert w.sessions.rows[s.session_id].active
    await w.sign_in.refresh(s.refresh_token)


async def test_idle_session_expires():
    w = World()
    s = await w.signed_in(PHONE)
    w.clock.advance(61 * 86400)
    with pytest.raises(Unauthenticated) as caught:
        await w.sign_in.refresh(s.refresh_token)
    assert caught.value.reason == "SESSION_EXPIRED"


@pytest.mark.parametrize("token", ["", "x" * 500, "abc", "0190a0b0-0000-7000-8000-000000000000.short"])
def test_malformed_refresh_tokens_are_invalid_argument(token):
    with pytest.raises(InvalidArgument):
        parse_refresh_token(token)


async def test_list_and_revoke_sessions_only_touch_ones_own():
    w = World()
    a1 = await w.signed_in(PHONE)
    a2 = await w.signed_in(PHONE)
    b = await w.signed_in("+79991230000")
    assert {x.id for x in await w.sign_in.list_sessions(a1.user_id)} == {a1.session_id, a2.session_id}
    with pytest.raises(NotFound):
        await w.sign_in.revoke_session(a1.user_id, b.session_id)
    assert w.sessions.rows[b.session_id].active
    await w.sign_in.revoke_session(a1.user_id, a2.session_id)
    with pytest.raises(Unauthenticated):
        await w.sign_in.check_session(a2.user_id, a2.session_id)
    a3 = await w.signed_in(PHONE)
    assert await w.sign_in.revoke_all(a1.user_id, keep_session_id=a1.session_id) == 1
    await w.sign_in.check_session(a1.user_id, a1.session_id)
    with pytest.raises(Unauthenticated):
        await w.sign_in.check_session(a3.user_id, a3.session_id)


# --- revocation reaches every service: SessionRevoked through the outbox (issue 11, finding 6) ----


def _revoked(w: World) -> list[tuple[str, str]]:
    from identity.domain.events import SessionRevoked

    return [(e.session_id, e.reason) for e in w.sessions.published if isinstance(e, SessionRevoked)]


async def test_revoking_a_session_publishes_session_revoked():
    w = World()
    s = await w.signed_in(PHONE)
    await w.sign_in.revoke_session(s.user_id, s.session_id)
    assert _revoked(w) == [(s.session_id, "revoked_by_user")]


async def test_log_out_everywhere_publishes_one_revocation_per_other_session():
    w = World()
    keep = await w.signed_in(PHONE)
    other = await w.signed_in(PHONE)
    third = await w.signed_in(PHONE)
    assert await w.sign_in.revoke_all(keep.user_id, keep.session_id) == 2
    assert sorted(_revoked(w)) == sorted([(other.session_id, "revoked_by_user"), (third.session_id, "revoked_by_user")])


async def test_refresh_token_reuse_publishes_session_revoked():
    w = World()
    s = await w.signed_in(PHONE)
    await w.sign_in.refresh(s.refresh_token)
    with pytest.raises(Unauthenticated):
        await w.sign_in.refresh(s.refresh_token)
    assert _revoked(w) == [(s.session_id, "refresh_token_reuse")]


async def test_deleting_the_account_revokes_every_session_and_publishes_account_deleted():
    from identity.domain.events import AccountDeleted

    w = World()
    s = await w.signed_in(PHONE)
    await w.accounts.delete(s.user_id, confirm=True)
    assert _revoked(w) == [(s.session_id, "account_deleted")]
    assert [e.user_id for e in w.users.published if isinstance(e, AccountDeleted)] == [s.user_id]


def test_revocation_events_carry_the_expiry_of_the_last_token():
    from datetime import UTC, datetime

    from identity.adapters.events import to_message
    from identity.domain.events import AccountDeleted, SessionRevoked

    at = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    revoked, key = to_message(SessionRevoked("u1", "s1", at, "revoked_by_user"), token_ttl_seconds=300)
    assert key == "u1" and revoked.expires_at.seconds == int(at.timestamp()) + 300  # type: ignore[attr-defined]
    deleted, _ = to_message(AccountDeleted("u1", at), token_ttl_seconds=300)
    assert deleted.expires_at.seconds == int(at.timestamp()) + 300  # type: ignore[attr-defined]
