"""The kit's revocation deny-set, the verified-token cache in front of it, and open streams of a
revoked session ending UNAUTHENTICATED — on an in-process echo server, no Kafka."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.identity.v1 import events_pb2
from parta.testing.v1 import echo_pb2, echo_pb2_grpc
from parta_common.auth import KeyCache, Principal, TokenVerifier
from parta_common.errors import Unauthenticated
from parta_common.events.envelope import make_envelope
from parta_common.events.revocations import apply_revocation
from parta_common.events.topics import IDENTITY_USER
from parta_common.revocation import RevocationList
from parta_common.testing.echo import echo_runner
from parta_common.testing.fakes import TokenMint

pytestmark = pytest.mark.unit


def _reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return ""


def _principal(user: str = "u1", session: str = "s1") -> Principal:
    return Principal(user_id=user, session_id=session, expires_at=int(time.time()) + 300)


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


# --- the deny-set ------------------------------------------------------------------------------


def test_revoked_session_and_deleted_user_are_refused_with_their_reasons():
    clock = Clock()
    denied = RevocationList(now=clock)
    denied.revoke_session("s1", clock.t + 300)
    denied.delete_user("u2", clock.t + 300)
    with pytest.raises(Unauthenticated) as revoked:
        denied.check(_principal("u1", "s1"))
    assert revoked.value.reason == "SESSION_REVOKED"
    with pytest.raises(Unauthenticated) as deleted:
        denied.check(_principal("u2", "s9"))
    assert deleted.value.reason == "ACCOUNT_DELETED"
    denied.check(_principal("u1", "s2"))  # another session of the same user still works


def test_entries_leave_after_the_tokens_expiry_plus_leeway():
    clock = Clock()
    denied = RevocationList(now=clock, leeway_seconds=10)
    denied.revoke_session("old", clock.t + 60)
    clock.t += 69
    denied.revoke_session("new", clock.t + 60)  # inserting prunes
    assert len(denied) == 2
    clock.t += 2
    denied.revoke_session("newer", clock.t + 60)
    assert len(denied) == 2
    denied.check(_principal("u1", "old"))


def test_an_event_whose_tokens_already_expired_adds_nothing():
    clock = Clock()
    denied = RevocationList(now=clock, leeway_seconds=10)
    denied.revoke_session("s1", clock.t - 3600)
    assert len(denied) == 0


def test_the_cap_drops_the_soonest_expiring_entries_and_counts_them():
    clock = Clock()
    denied = RevocationList(now=clock, max_entries=3)
    for n in range(5):
        denied.revoke_session(f"s{n}", clock.t + 100 + n)
    assert len(denied) == 3 and denied.evicted == 2
    denied.check(_principal("u", "s0"))  # the two that expire soonest went
    with pytest.raises(Unauthenticated):
        denied.check(_principal("u", "s4"))


def test_identity_events_fill_the_deny_set_and_other_events_do_not():
    clock = Clock()
    denied = RevocationList(now=clock)
    until = timestamp_pb2.Timestamp(seconds=int(clock.t) + 300)
    revoked = make_envelope(
        events_pb2.SessionRevoked(user_id="u1", session_id="s1", expires_at=until, reason="revoked_by_user"),
        aggregate_type="session",
        aggregate_id="s1",
        aggregate_version=2,
        producer="identity",
        occurred_at=datetime.now(UTC),
    )
    deleted = make_envelope(
        events_pb2.AccountDeleted(user_id="u2", expires_at=until),
        aggregate_type="user",
        aggregate_id="u2",
        aggregate_version=9,
        producer="identity",
        occurred_at=datetime.now(UTC),
    )
    other = make_envelope(
        events_pb2.UserRegistered(user_id="u3"),
        aggregate_type="user",
        aggregate_id="u3",
        aggregate_version=1,
        producer="identity",
        occurred_at=datetime.now(UTC),
    )
    assert apply_revocation(denied, revoked, 3600) and apply_revocation(denied, deleted, 3600)
    assert not apply_revocation(denied, other, 3600)
    assert len(denied) == 2


# --- the verified-token cache ------------------------------------------------------------------


class CountingKeys(KeyCache):
    async def get(self, key_id: str):  # type: ignore[no-untyped-def]
        self.lookups = getattr(self, "lookups", 0) + 1
        return await super().get(key_id)


async def test_a_verified_token_is_served_from_the_cache():
    mint = TokenMint()
    keys = CountingKeys(mint.source())
    verifier = TokenVerifier(keys, issuer=mint.issuer, audience=mint.audience)
    token = mint.token("u1")
    first = await verifier.verify(token)
    for _ in range(10):
        assert await verifier.verify(token) == first
    assert keys.lookups == 1  # the signature was checked once


async def test_a_cached_token_expires_with_the_token():
    mint = TokenMint()
    clock = Clock()
    clock.t = time.time()
    keys = CountingKeys(mint.source())
    verifier = TokenVerifier(keys, issuer=mint.issuer, audience=mint.audience, leeway_seconds=10, now=clock)
    token = mint.token("u1", ttl=60)
    await verifier.verify(token)
    clock.t += 69
    await verifier.verify(token)
    assert keys.lookups == 1  # within exp + leeway: from the cache
    clock.t += 2
    await verifier.verify(token)  # past exp + leeway on the cache's clock: checked again
    assert keys.lookups == 2


async def test_the_cache_is_bounded_oldest_first():
    mint = TokenMint()
    verifier = TokenVerifier(KeyCache(mint.source()), issuer=mint.issuer, audience=mint.audience, cache_size=3)
    tokens = [mint.token(f"u{n}") for n in range(5)]
    for token in tokens:
        await verifier.verify(token)
    assert verifier.cached == 3
    assert set(verifier._cache) == set(tokens[2:])


async def test_a_key_that_is_no_longer_published_ends_its_cached_tokens():
    mint = TokenMint()
    source = mint.source()
    keys = KeyCache(source, min_refresh_seconds=0)
    verifier = TokenVerifier(keys, issuer=mint.issuer, audience=mint.audience)
    token = mint.token("u1")
    await verifier.verify(token)
    source.keys = []
    await keys.refresh()
    with pytest.raises(Unauthenticated) as caught:
        await verifier.verify(token)
    assert caught.value.reason == "TOKEN_UNKNOWN_KEY"


# --- through the edge --------------------------------------------------------------------------


@pytest.fixture
async def edge() -> AsyncIterator[tuple[echo_pb2_grpc.EchoServiceStub, RevocationList, TokenMint]]:
    mint = TokenMint()
    denied = RevocationList()
    runner = echo_runner(verifier=mint.verifier(), revocations=denied)
    port = await runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield echo_pb2_grpc.EchoServiceStub(channel), denied, mint
    await channel.close()
    await runner.stop()


def _auth(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


async def test_revocation_wins_over_the_token_cache(edge):
    stub, denied, mint = edge
    token = mint.token("u1", session_id="s1")
    slow = echo_pb2.SlowRequest(millis=0)  # not public: the edge authenticates it
    assert (await stub.Slow(slow, metadata=_auth(token))).text == "slept 0"  # now cached
    denied.revoke_session("s1", time.time() + 900)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Slow(slow, metadata=_auth(token))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _reason(caught.value) == "SESSION_REVOKED"


async def test_a_deleted_account_is_refused_with_account_deleted(edge):
    stub, denied, mint = edge
    denied.delete_user("u7", time.time() + 900)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Slow(echo_pb2.SlowRequest(millis=0), metadata=_auth(mint.token("u7", session_id="s7")))
    assert _reason(caught.value) == "ACCOUNT_DELETED"


async def test_an_open_stream_of_a_revoked_session_ends_unauthenticated(edge):
    stub, denied, mint = edge
    mine = stub.Ticks(echo_pb2.TicksRequest(millis=20), metadata=_auth(mint.token("u1", session_id="s1")))
    other = stub.Ticks(echo_pb2.TicksRequest(millis=20), metadata=_auth(mint.token("u1", session_id="s2")))
    assert (await mine.read()).tick == 0
    assert (await other.read()).tick == 0
    denied.revoke_session("s1", time.time() + 900)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async with asyncio.timeout(5):
            while True:
                await mine.read()
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert _reason(caught.value) == "SESSION_REVOKED"
    assert (await other.read()).tick > 0  # the user's other session keeps streaming
    denied.delete_user("u1", time.time() + 900)
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        async with asyncio.timeout(5):
            while True:
                await other.read()
    assert _reason(gone.value) == "ACCOUNT_DELETED"


async def test_a_feed_that_has_not_caught_up_is_not_ready():
    from parta_common.events.revocations import RevocationFeed

    feed = RevocationFeed("127.0.0.1:1", IDENTITY_USER, RevocationList())
    assert not await feed.ready()  # never started: the replica must not judge tokens yet


class RacingReader:
    """An assigned reader whose partition gains a record while the feed asks for offsets by time:
    what a relay publishing at that moment does to a replica that is starting."""

    def __init__(self) -> None:
        from aiokafka import TopicPartition

        self.tp = TopicPartition("t.identity.user.v1", 0)
        self.end = 0
        self.seeked: int | None = None

    async def offsets_for_times(self, wanted: dict) -> dict:  # type: ignore[type-arg]
        answer = dict.fromkeys(wanted)  # nothing since the horizon yet …
        self.end += 1  # … and a revocation lands right after the answer
        return answer

    async def end_offsets(self, tps: list) -> dict:  # type: ignore[type-arg]
        return {tp: self.end for tp in tps}

    def seek(self, tp: object, offset: int) -> None:
        self.seeked = offset

    async def stop(self) -> None:
        return None


async def test_a_starting_feed_reads_a_revocation_published_while_it_seeks(monkeypatch: pytest.MonkeyPatch) -> None:
    from parta_common.events import revocations

    reader = RacingReader()

    async def assigned(bootstrap: str, topic: str, client_id: str) -> tuple[RacingReader, list]:  # type: ignore[type-arg]
        return reader, [reader.tp]

    async def no_admin(self: object) -> None:
        return None

    monkeypatch.setattr(revocations, "start_assigned_reader", assigned)
    monkeypatch.setattr(revocations.RevocationFeed, "_ensure_topic", no_admin)
    feed = revocations.RevocationFeed("unused:9092", reader.tp.topic, RevocationList())
    await feed._connect()
    assert reader.seeked == 0, "the record published during the start must be read, not seeked past"
