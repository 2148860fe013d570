"""Regression guard, not a timed test: the store commands a phone sign-in costs.

Counted with the kit's StoreCommandCounter (PyMongo command monitoring, attributed to the RPC that
sent each command) on the real store, so the numbers are the code's and not the store's speed.
The resend cooldown and the daily cap are on, as in production. The ceilings are today's counts
(issue 18); lower a constant with the change that cuts the path, never raise it without saying
why in docs/identity.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from identity.bootstrap import build
from parta.identity.v1 import auth_pb2, auth_pb2_grpc
from parta_common.testing.fakes import FakeClock

from tests.e2e.identity_client import random_phone
from tests.identity.fakes import FakeSms
from tests.identity.integration.conftest import Running, settings_for

pytestmark = pytest.mark.integration

# Store commands per RequestCode of a phone with no code today (the common path): the address
# counter and the phone's cooldown + daily count (2 findAndModify), the challenge (1 insert).
# 2026-12-02 before issue 18's cut: 5 (separate cooldown and day counter, supersede every time).
REQUEST_CODE_MAX_COMMANDS = 3
# Store commands per RequestCode of a phone that had a code today: + 1 update superseding its older codes.
REQUEST_CODE_AGAIN_MAX_COMMANDS = 4
# Store commands per VerifyCode with the right code, first sign-in of the phone (a new account):
# the challenge (find + versioned update), the phone lookup (find), the account by placeholder +
# update (insert_claiming_keys: secantus-mdb never frees a unique key an insert or upsert wrote),
# the session (insert).
VERIFY_CODE_NEW_USER_MAX_COMMANDS = 6
# Store commands per VerifyCode with the right code of a returning account: challenge 2, lookup, session.
VERIFY_CODE_RETURNING_MAX_COMMANDS = 4
SIGN_INS = 5


@pytest.fixture
async def metered(mongo_uri: str, kafka_bootstrap: str, unique: str, mongo_db) -> AsyncIterator[Running]:
    settings = settings_for(
        mongo_uri, kafka_bootstrap, unique, resend_cooldown_seconds=60, mongodb_command_metrics=True
    )
    sms = FakeSms()
    # Real time (the store's TTL monitor runs on it), advanced by hand past the resend cooldown.
    clock = FakeClock(datetime.now(UTC))
    service = await build(settings, sms=sms, clock=clock)
    port = await service.runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Running(service, channel, sms, settings, clock)
    finally:
        await channel.close()
        await service.runner.stop()


def _reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    assert status is not None
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    return ""


async def _sign_in(stub: auth_pb2_grpc.AuthServiceStub, sms: FakeSms, phone: str) -> None:
    sent = await stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone))
    await stub.VerifyCode(
        auth_pb2.VerifyCodeRequest(challenge_id=sent.challenge_id, code=sms.last_code(phone), device_name="bench")
    )


async def test_sign_in_stays_within_its_store_command_ceilings(metered: Running) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(metered.channel)
    counter = metered.service.infra.store_commands
    clock = metered.clock
    assert clock is not None
    assert counter is not None
    await _sign_in(stub, metered.sms, random_phone())  # warm-up: first-use paths are not the common path
    counter.reset()

    phones = [random_phone() for _ in range(SIGN_INS)]
    for phone in phones:
        await _sign_in(stub, metered.sms, phone)
    first = counter.counts
    request = counter.total("rpc:RequestCode") / SIGN_INS
    verify_new = counter.total("rpc:VerifyCode") / SIGN_INS

    counter.reset()
    clock.advance(61)  # past the resend cooldown: the same accounts sign in again
    for phone in phones:
        await _sign_in(stub, metered.sms, phone)
    again = counter.counts
    request_again = counter.total("rpc:RequestCode") / SIGN_INS
    verify_returning = counter.total("rpc:VerifyCode") / SIGN_INS

    assert request <= REQUEST_CODE_MAX_COMMANDS, f"RequestCode: {request:.1f} commands per call; {first}"
    assert verify_new <= VERIFY_CODE_NEW_USER_MAX_COMMANDS, f"VerifyCode (new): {verify_new:.1f}; {first}"
    assert request_again <= REQUEST_CODE_AGAIN_MAX_COMMANDS, f"RequestCode again: {request_again:.1f}; {again}"
    assert verify_returning <= VERIFY_CODE_RETURNING_MAX_COMMANDS, (
        f"VerifyCode (returning): {verify_returning:.1f}; {again}"
    )


async def test_the_cut_keeps_only_the_newest_code_of_a_phone_valid(metered: Running) -> None:
    # The first code skips the supersede write; the second must still kill the first.
    stub = auth_pb2_grpc.AuthServiceStub(metered.channel)
    clock = metered.clock
    assert clock is not None
    phone = random_phone()
    old = await stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone))
    old_code = metered.sms.last_code(phone)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone))
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED  # the cooldown still holds
    clock.advance(61)
    new = await stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.VerifyCode(auth_pb2.VerifyCodeRequest(challenge_id=old.challenge_id, code=old_code))
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert _reason(caught.value) == "CHALLENGE_SUPERSEDED"
    signed = await stub.VerifyCode(
        auth_pb2.VerifyCodeRequest(challenge_id=new.challenge_id, code=metered.sms.last_code(phone))
    )
    assert signed.user_id


async def test_the_phones_one_document_still_caps_its_codes_a_day(metered: Running) -> None:
    stub = auth_pb2_grpc.AuthServiceStub(metered.channel)
    clock = metered.clock
    assert clock is not None
    # Noon tomorrow (UTC): a whole day of codes fits, and nothing is due for the store's TTL sweep.
    today = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    clock.set(today + timedelta(days=1, hours=12))
    phone = random_phone()
    for _ in range(metered.settings.phone_daily_cap):
        await stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone))
        clock.advance(61)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone))
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _reason(caught.value) == "DAILY_CODE_CAP"
    clock.advance(12 * 3600)  # the next day: a fresh count, the same document
    await stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone))
