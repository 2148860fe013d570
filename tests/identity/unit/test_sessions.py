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
