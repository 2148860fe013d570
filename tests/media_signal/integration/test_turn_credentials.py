"""TURN credentials minted by media-signal against the real local coturn: a fresh one allocates a
relay, an expired or forged one is refused."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint
from media_signal.adapters.tokens import TurnIceServers, turn_rest_credentials

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import media  # noqa: E402


@pytest.fixture(scope="module")
def coturn() -> tuple[str, int, bytes]:
    media.COMPONENTS["coturn"].up()
    return "127.0.0.1", media.TURN_PORT, media.turn_secret().encode()


async def _allocate(server: tuple[str, int], username: str, password: str) -> tuple[str, int]:
    transport, _ = await asyncio.wait_for(
        create_turn_endpoint(asyncio.DatagramProtocol, server, username, password, lifetime=60), 10
    )
    try:
        relayed = transport.get_extra_info("sockname")
        return relayed
    finally:
        transport.close()


async def test_fresh_credentials_allocate_a_relay(coturn) -> None:
    host, port, secret = coturn
    from datetime import UTC, datetime

    servers = TurnIceServers([media.turn_uri()], secret, 300).ice_servers("user-1", datetime.now(UTC))
    assert servers[0].urls == (media.turn_uri(),)
    relayed = await _allocate((host, port), servers[0].username, servers[0].credential)
    assert relayed[0] == "127.0.0.1" and relayed[1] > 0


async def test_expired_credentials_are_refused(coturn) -> None:
    host, port, secret = coturn
    username, password = turn_rest_credentials(secret, "user-1", int(time.time()) - 5)
    with pytest.raises(stun.TransactionFailed) as info:
        await _allocate((host, port), username, password)
    assert info.value.response.attributes["ERROR-CODE"][0] == 401


async def test_credentials_from_another_secret_are_refused(coturn) -> None:
    host, port, _ = coturn
    username, password = turn_rest_credentials(b"not-the-secret" * 3, "user-1", int(time.time()) + 300)
    with pytest.raises(stun.TransactionFailed) as info:
        await _allocate((host, port), username, password)
    assert info.value.response.attributes["ERROR-CODE"][0] == 401
