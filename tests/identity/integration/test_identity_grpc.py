"""identity over gRPC, in process, on the real store and Kafka: security of tokens, malformed input,
events on the bus, the membership projection, key rotation, and logs free of secrets."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from datetime import UTC, datetime

import grpc
import jwt
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import field_mask_pb2
from identity.adapters.keys import MongoKeyStore
from parta.identity.v1 import (
    account_pb2,
    account_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    events_pb2,
    guardians_pb2,
    guardians_pb2_grpc,
    keys_pb2,
    keys_pb2_grpc,
    profiles_pb2,
    profiles_pb2_grpc,
)
from parta.school.v1 import events_pb2 as school_pb2
from parta_common.auth import sign_access_token
from parta_common.events.envelope import make_envelope, parse_envelope
from parta_common.events.topics import IDENTITY_USER, SCHOOL_MEMBERSHIP
from parta_common.testing.fakes import LogCapture

from tests.e2e.identity_client import auth, random_phone

pytestmark = pytest.mark.asyncio


async def sign_in(identity, phone: str | None = None, device: str = "test"):  # type: ignore[no-untyped-def]
    phone = phone or random_phone()
    stub = auth_pb2_grpc.AuthServiceStub(identity.channel)
    sent = await stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone))
    return await stub.VerifyCode(
        auth_pb2.VerifyCodeRequest(
            challenge_id=sent.challenge_id, code=identity.sms.last_code(phone), device_name=device
        )
    )


async def with_profile(identity, first: str, birth: str, phone: str | None = None):  # type: ignore[no-untyped-def]
    s = await sign_in(identity, phone)
    await profiles_pb2_grpc.ProfileServiceStub(identity.channel).CreateProfile(
        profiles_pb2.CreateProfileRequest(first_name=first, last_name="Тестов", birth_date=birth),
        metadata=auth(s.access_token),
    )
    return s


def _forge(claims_override: dict, *, key=None, kid: str | None = None, alg_none: bool = False) -> str:
    now = int(time.time())
    claims = {"iss": "parta-identity", "aud": "parta", "sub": "u", "sid": "s", "iat": now, "exp": now + 600}
    claims.update(claims_override)
    if alg_none:
        header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT", "kid": kid or "x"}).encode())
        body = base64.urlsafe_b64encode(json.dumps(claims).encode())
        return f"{header.decode().rstrip('=')}.{body.decode().rstrip('=')}."
    return jwt.encode(claims, key or Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid or "x"})


async def test_forged_expired_and_foreign_tokens_are_rejected_by_the_interceptor(identity):
    signed = await sign_in(identity)
    real_kid = jwt.get_unverified_header(signed.access_token)["kid"]
    claims = jwt.decode(signed.access_token, options={"verify_signature": False})
    holder = identity.service.keys
    private = Ed25519PrivateKey.from_private_bytes(holder.ring.current().private_key)
    now = int(time.time())
    base = {"sub": claims["sub"], "sid": claims["sid"]}
    bad_tokens = {
        "wrong signature": _forge(base, kid=real_kid),
        "alg none": _forge(base, kid=real_kid, alg_none=True),
        "unknown kid": _forge(base, key=private, kid="k-unknown"),
        "expired": sign_access_token(
            private,
            key_id=real_kid,
            issuer="parta-identity",
            audience="parta",
            user_id=claims["sub"],
            session_id=claims["sid"],
            issued_at=now - 3600,
            ttl_seconds=900,
        ),
        "other audience": sign_access_token(
            private,
            key_id=real_kid,
            issuer="parta-identity",
            audience="elsewhere",
            user_id=claims["sub"],
            session_id=claims["sid"],
            issued_at=now,
            ttl_seconds=900,
        ),
        "garbage": "not-a-jwt",
    }
    stub = auth_pb2_grpc.AuthServiceStub(identity.channel)
    for name, token in bad_tokens.items():
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListSessions(auth_pb2.ListSessionsRequest(), metadata=auth(token))
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.ListSessions(auth_pb2.ListSessionsRequest())
    assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
    listed = await stub.ListSessions(auth_pb2.ListSessionsRequest(), metadata=auth(signed.access_token))
    assert [s.current for s in listed.sessions] == [True]


async def test_revoked_sessions_token_is_refused_by_identity_at_once(identity):
    first = await sign_in(identity, device="laptop")
    phone = jwt.decode(first.access_token, options={"verify_signature": False})["phone_number"]
    second = await sign_in(identity, phone, device="phone")
    stub = auth_pb2_grpc.AuthServiceStub(identity.channel)
    await stub.RevokeSession(
        auth_pb2.RevokeSessionRequest(session_id=first.session_id), metadata=auth(second.access_token)
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListSessions(auth_pb2.ListSessionsRequest(), metadata=auth(first.access_token))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    reply = await stub.RevokeAllSessions(
        auth_pb2.RevokeAllSessionsRequest(keep_current=False), metadata=auth(second.access_token)
    )
    assert reply.revoked == 1
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.ListSessions(auth_pb2.ListSessionsRequest(), metadata=auth(second.access_token))


async def test_wrong_codes_lock_even_when_guessed_concurrently(identity):
    phone = random_phone()
    stub = auth_pb2_grpc.AuthServiceStub(identity.channel)
    sent = await stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone))
    code = identity.sms.last_code(phone)
    guesses = [f"{(int(code) + i) % 1_000_000:06d}" for i in range(1, 11)]
    results = await asyncio.gather(
        *(stub.VerifyCode(auth_pb2.VerifyCodeRequest(challenge_id=sent.challenge_id, code=g)) for g in guesses),
        return_exceptions=True,
    )
    codes = [r.code() for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(codes) == 10 and codes.count(grpc.StatusCode.UNAUTHENTICATED) == 4
    with pytest.raises(grpc.aio.AioRpcError) as right:
        await stub.VerifyCode(auth_pb2.VerifyCodeRequest(challenge_id=sent.challenge_id, code=code))
    assert right.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_every_rpc_answers_malformed_input_with_invalid_argument(identity):
    s = await sign_in(identity)
    md = auth(s.access_token)
    ch = identity.channel
    a, p = auth_pb2_grpc.AuthServiceStub(ch), profiles_pb2_grpc.ProfileServiceStub(ch)
    g, acc = guardians_pb2_grpc.GuardianServiceStub(ch), account_pb2_grpc.AccountServiceStub(ch)
    huge = "9" * 100_000
    calls = [
        a.RequestCode(auth_pb2.RequestCodeRequest(phone="")),
        a.RequestCode(auth_pb2.RequestCodeRequest(phone=huge)),
        a.RequestCode(auth_pb2.RequestCodeRequest(phone="+7 (999) abc")),
        a.RequestCode(auth_pb2.RequestCodeRequest(phone="+79991234567", request_id="x" * 500)),
        a.VerifyCode(auth_pb2.VerifyCodeRequest(challenge_id="", code="")),
        a.VerifyCode(auth_pb2.VerifyCodeRequest(challenge_id=huge, code="123456")),
        a.RefreshSession(auth_pb2.RefreshSessionRequest(refresh_token="")),
        a.RefreshSession(auth_pb2.RefreshSessionRequest(refresh_token=huge)),
        a.RevokeSession(auth_pb2.RevokeSessionRequest(session_id="nope"), metadata=md),
        p.CreateProfile(profiles_pb2.CreateProfileRequest(first_name="", last_name="", birth_date=""), metadata=md),
        p.CreateProfile(
            profiles_pb2.CreateProfileRequest(first_name=huge, last_name="Б", birth_date="0001-01-01"), metadata=md
        ),
        p.CreateProfile(
            profiles_pb2.CreateProfileRequest(first_name="А", last_name="Б", birth_date="2999-12-31"), metadata=md
        ),
        p.UpdateProfile(profiles_pb2.UpdateProfileRequest(), metadata=md),
        p.UpdateProfile(
            profiles_pb2.UpdateProfileRequest(update_mask=field_mask_pb2.FieldMask(paths=["user_id"])), metadata=md
        ),
        p.BatchGetDisplayNames(profiles_pb2.BatchGetDisplayNamesRequest(user_ids=["x"] * 300), metadata=md),
        p.BatchGetDisplayNames(profiles_pb2.BatchGetDisplayNamesRequest(user_ids=["\x00"]), metadata=md),
        g.LinkGuardian(guardians_pb2.LinkGuardianRequest(), metadata=md),
        g.LinkGuardian(guardians_pb2.LinkGuardianRequest(child_phone="12"), metadata=md),
        g.LinkGuardian(guardians_pb2.LinkGuardianRequest(link_code=huge), metadata=md),
        g.ConfirmGuardianLink(guardians_pb2.ConfirmGuardianLinkRequest(guardian_user_id=""), metadata=md),
        g.GrantConsent(guardians_pb2.GrantConsentRequest(child_user_id="zzz"), metadata=md),
        g.RevokeConsent(guardians_pb2.RevokeConsentRequest(child_user_id=""), metadata=md),
        g.UnlinkGuardian(guardians_pb2.UnlinkGuardianRequest(guardian_user_id="a", child_user_id="b"), metadata=md),
        acc.DeleteAccount(account_pb2.DeleteAccountRequest(confirm=False), metadata=md),
    ]
    for i, call in enumerate(calls):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (i, caught.value.details())
    # Bytes that are not a valid message (wrong wire types) never reach a servicer as INTERNAL.
    raw = ch.unary_unary("/parta.identity.v1.AuthService/RequestCode")
    with pytest.raises(grpc.aio.AioRpcError) as garbage:
        await raw(b"\x0a\xff\xff\xff\xff\x0f\xc0")
    assert garbage.value.code() != grpc.StatusCode.INTERNAL
    invalid_utf8 = ch.unary_unary("/parta.identity.v1.AuthService/RequestCode")
    with pytest.raises(grpc.aio.AioRpcError) as utf:
        await invalid_utf8(b"\x0a\x02\xc3\x28")  # field 1 (phone) with invalid UTF-8
    assert utf.value.code() != grpc.StatusCode.INTERNAL


async def test_events_reach_kafka_and_membership_events_open_display_names(identity, kafka_bootstrap, unique):
    ira = await with_profile(identity, "Ирина", "1985-03-14")
    pavel = await with_profile(identity, "Павел", "1979-07-07")
    stranger = await with_profile(identity, "Чужой", "1990-01-01")
    names = profiles_pb2_grpc.ProfileServiceStub(identity.channel)
    ids = [pavel.user_id, stranger.user_id]
    before = await names.BatchGetDisplayNames(
        profiles_pb2.BatchGetDisplayNamesRequest(user_ids=ids), metadata=auth(ira.access_token)
    )
    assert list(before.names) == []

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n, user in enumerate((ira.user_id, pavel.user_id), start=1):
            envelope = make_envelope(
                school_pb2.MemberJoined(
                    membership=school_pb2.MembershipSnapshot(
                        membership_id=str(uuid.uuid4()),
                        school_id="s17",
                        user_id=user,
                        school_role=school_pb2.SCHOOL_ROLE_TEACHER,
                    )
                ),
                aggregate_type="school",
                aggregate_id="s17",
                aggregate_version=n,
                producer="test",
                occurred_at=datetime.now(UTC),
            )
            await producer.send_and_wait(f"t{unique}.{SCHOOL_MEMBERSHIP}", envelope.SerializeToString(), key=b"s17")
    finally:
        await producer.stop()
    deadline = time.monotonic() + 30
    while True:
        reply = await names.BatchGetDisplayNames(
            profiles_pb2.BatchGetDisplayNamesRequest(user_ids=ids), metadata=auth(ira.access_token)
        )
        if reply.names:
            break
        assert time.monotonic() < deadline, "membership projection not updated"
        await asyncio.sleep(0.3)
    assert [(n.user_id, n.display_name) for n in reply.names] == [(pavel.user_id, "Павел Тестов")]

    consumer = AIOKafkaConsumer(
        f"t{unique}.{IDENTITY_USER}", bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len([t for t in seen if t.endswith("ProfileCreated")]) < 3:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    envelope = parse_envelope(record.value)
                    seen.append(envelope.event_type)
                    assert b"+7999" not in record.value  # no phone numbers on the bus
                    if envelope.event_type.endswith("ProfileCreated"):
                        created = events_pb2.ProfileCreated()
                        envelope.payload.Unpack(created)
                        assert created.profile.consent_state == events_pb2.CONSENT_STATE_NOT_REQUIRED
    finally:
        await consumer.stop()
    assert seen.count("parta.identity.v1.UserRegistered") == 3
    assert seen.count("parta.identity.v1.ProfileCreated") == 3


async def test_guardian_flow_and_account_deletion_over_grpc(identity):
    mother = await with_profile(identity, "Анна", "1988-02-02")
    misha = await with_profile(identity, "Миша", "2015-05-01")
    g = guardians_pb2_grpc.GuardianServiceStub(identity.channel)
    p = profiles_pb2_grpc.ProfileServiceStub(identity.channel)
    mine = await p.GetMyProfile(profiles_pb2.GetMyProfileRequest(), metadata=auth(misha.access_token))
    assert mine.profile.is_minor and mine.profile.consent_state == events_pb2.CONSENT_STATE_AWAITING_GUARDIAN
    code = await g.CreateLinkCode(guardians_pb2.CreateLinkCodeRequest(), metadata=auth(misha.access_token))
    linked = await g.LinkGuardian(
        guardians_pb2.LinkGuardianRequest(link_code=code.link_code), metadata=auth(mother.access_token)
    )
    assert linked.link.state == guardians_pb2.GUARDIAN_LINK_STATE_LINKED
    await g.GrantConsent(
        guardians_pb2.GrantConsentRequest(child_user_id=misha.user_id), metadata=auth(mother.access_token)
    )
    mine = await p.GetMyProfile(profiles_pb2.GetMyProfileRequest(), metadata=auth(misha.access_token))
    assert mine.profile.consent_state == events_pb2.CONSENT_STATE_GRANTED
    children = await g.ListMyChildren(guardians_pb2.ListMyChildrenRequest(), metadata=auth(mother.access_token))
    assert [(c.child_user_id, c.display_name, c.consent_granted) for c in children.links] == [
        (misha.user_id, "Миша Тестов", True)
    ]
    guardians = await g.ListMyGuardians(guardians_pb2.ListMyGuardiansRequest(), metadata=auth(misha.access_token))
    assert [x.guardian_user_id for x in guardians.links] == [mother.user_id]
    # Family members see each other's names without a shared school.
    names = await p.BatchGetDisplayNames(
        profiles_pb2.BatchGetDisplayNamesRequest(user_ids=[misha.user_id]), metadata=auth(mother.access_token)
    )
    assert [n.first_name for n in names.names] == ["Миша"]

    acc = account_pb2_grpc.AccountServiceStub(identity.channel)
    export = await acc.ExportMyData(account_pb2.ExportMyDataRequest(), metadata=auth(mother.access_token))
    assert export.profile.first_name == "Анна" and [c.child_user_id for c in export.children] == [misha.user_id]
    assert export.phone.startswith("+7999") and len(export.sessions) == 1
    await acc.DeleteAccount(account_pb2.DeleteAccountRequest(confirm=True), metadata=auth(mother.access_token))
    with pytest.raises(grpc.aio.AioRpcError) as dead:
        await p.GetMyProfile(profiles_pb2.GetMyProfileRequest(), metadata=auth(mother.access_token))
    assert dead.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as refresh:
        await auth_pb2_grpc.AuthServiceStub(identity.channel).RefreshSession(
            auth_pb2.RefreshSessionRequest(refresh_token=mother.refresh_token)
        )
    assert refresh.value.code() == grpc.StatusCode.UNAUTHENTICATED
    mine = await p.GetMyProfile(profiles_pb2.GetMyProfileRequest(), metadata=auth(misha.access_token))
    assert mine.profile.consent_state == events_pb2.CONSENT_STATE_AWAITING_GUARDIAN


async def test_a_deleted_accounts_phone_signs_up_again_as_a_new_account(identity):
    # Deletion drops the phone from the unique index; on every engine the number is free again
    # (secantus-mdb 0.5.3-beta.196 only frees keys an update wrote: insert_claiming_keys).
    phone = random_phone()
    old = await with_profile(identity, "Анна", "1990-05-01", phone)
    acc = account_pb2_grpc.AccountServiceStub(identity.channel)
    await acc.DeleteAccount(account_pb2.DeleteAccountRequest(confirm=True), metadata=auth(old.access_token))
    new = await sign_in(identity, phone)
    assert new.user_id and new.user_id != old.user_id
    export = await acc.ExportMyData(account_pb2.ExportMyDataRequest(), metadata=auth(new.access_token))
    assert export.phone == phone and not export.profile.first_name
    again = await sign_in(identity, phone, device="second")
    assert again.user_id == new.user_id


async def test_key_rotation_keeps_old_tokens_valid_and_publishes_both_keys(identity):
    before = await sign_in(identity)
    store = MongoKeyStore(identity.service.infra.database, identity.service.sign_in.clock)
    identity.service.keys.replace(await store.rotate(identity.settings.access_token_ttl_seconds))
    keys = await keys_pb2_grpc.SigningKeyServiceStub(identity.channel).ListSigningKeys(
        keys_pb2.ListSigningKeysRequest()
    )
    assert len(keys.keys) == 2 and sorted(k.retire_after > 0 for k in keys.keys) == [False, True]
    stub = auth_pb2_grpc.AuthServiceStub(identity.channel)
    await stub.ListSessions(auth_pb2.ListSessionsRequest(), metadata=auth(before.access_token))
    after = await sign_in(identity)
    assert jwt.get_unverified_header(after.access_token)["kid"] != jwt.get_unverified_header(before.access_token)["kid"]
    await stub.ListSessions(auth_pb2.ListSessionsRequest(), metadata=auth(after.access_token))


async def test_logs_never_contain_phones_codes_or_tokens(identity):
    capture = LogCapture("identity")
    phone = random_phone()
    stub = auth_pb2_grpc.AuthServiceStub(identity.channel)
    sent = await stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone))
    code = identity.sms.last_code(phone)
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.VerifyCode(
            auth_pb2.VerifyCodeRequest(challenge_id=sent.challenge_id, code=f"{(int(code) + 1) % 10**6:06d}")
        )
    signed = await stub.VerifyCode(auth_pb2.VerifyCodeRequest(challenge_id=sent.challenge_id, code=code))
    refreshed = await stub.RefreshSession(auth_pb2.RefreshSessionRequest(refresh_token=signed.refresh_token))
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.RefreshSession(auth_pb2.RefreshSessionRequest(refresh_token=signed.refresh_token))
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.ListSessions(auth_pb2.ListSessionsRequest(), metadata=auth(refreshed.access_token + "x"))
    text = capture.text
    assert "rpc_rejected" in text  # the capture did see the traffic
    for secret in (
        phone,
        phone[1:],
        phone[-10:],
        code,
        signed.access_token,
        signed.refresh_token,
        refreshed.access_token,
    ):
        assert secret not in text
