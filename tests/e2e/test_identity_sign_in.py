"""End to end through gRPC with identity as a real process: code → verify → profile → refresh →
reuse of the old refresh token → the whole session is revoked."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from google.protobuf import field_mask_pb2
from parta.identity.v1 import auth_pb2, auth_pb2_grpc, keys_pb2, keys_pb2_grpc, profiles_pb2, profiles_pb2_grpc

from tests.e2e.harness import Stack
from tests.e2e.identity_client import auth, create_profile, random_phone, read_code


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):
    s = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        yield s
    finally:
        s.stop_all()


async def test_sign_in_profile_refresh_and_reuse_revokes_the_session(stack: Stack):
    # The harness turns the resend cooldown off; this test reads it back from the answer.
    identity = await stack.start("identity", {"IDENTITY_RESEND_COOLDOWN_SECONDS": "1"})
    phone = random_phone()
    async with grpc.aio.insecure_channel(identity.address) as channel:
        auth_stub = auth_pb2_grpc.AuthServiceStub(channel)
        profiles = profiles_pb2_grpc.ProfileServiceStub(channel)

        sent = await auth_stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone))
        assert sent.code_length == 6 and sent.resend_after_seconds >= 1
        code = await read_code(stack.sms_file, phone)
        signed = await auth_stub.VerifyCode(
            auth_pb2.VerifyCodeRequest(challenge_id=sent.challenge_id, code=code, device_name="Pixel 8")
        )
        assert signed.is_new_user and not signed.has_profile and signed.access_token and signed.refresh_token

        # Authenticated RPCs of this service work with the token.
        created = await create_profile(identity.address, signed.access_token, "Ирина", "Петрова", "1985-03-14")
        assert created.user_id == signed.user_id and created.phone == phone
        mine = await profiles.GetMyProfile(profiles_pb2.GetMyProfileRequest(), metadata=auth(signed.access_token))
        assert mine.profile.first_name == "Ирина"
        updated = await profiles.UpdateProfile(
            profiles_pb2.UpdateProfileRequest(
                profile=profiles_pb2.Profile(patronymic="Сергеевна"),
                update_mask=field_mask_pb2.FieldMask(paths=["patronymic"]),
            ),
            metadata=auth(signed.access_token),
        )
        assert updated.profile.patronymic == "Сергеевна" and updated.profile.last_name == "Петрова"

        # The published keys verify the token's kid.
        keys = await keys_pb2_grpc.SigningKeyServiceStub(channel).ListSigningKeys(keys_pb2.ListSigningKeysRequest())
        assert keys.keys and all(len(k.public_key) == 32 and k.algorithm == "EdDSA" for k in keys.keys)

        refreshed = await auth_stub.RefreshSession(auth_pb2.RefreshSessionRequest(refresh_token=signed.refresh_token))
        assert refreshed.refresh_token != signed.refresh_token
        await profiles.GetMyProfile(profiles_pb2.GetMyProfileRequest(), metadata=auth(refreshed.access_token))

        # The old refresh token again: theft is assumed, the session dies.
        with pytest.raises(grpc.aio.AioRpcError) as reused:
            await auth_stub.RefreshSession(auth_pb2.RefreshSessionRequest(refresh_token=signed.refresh_token))
        assert reused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as after:
            await profiles.GetMyProfile(profiles_pb2.GetMyProfileRequest(), metadata=auth(refreshed.access_token))
        assert after.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as newest:
            await auth_stub.RefreshSession(auth_pb2.RefreshSessionRequest(refresh_token=refreshed.refresh_token))
        assert newest.value.code() == grpc.StatusCode.UNAUTHENTICATED

        # Signing in again (after the 1 s resend cooldown the harness configures) finds the same account.
        await asyncio.sleep(1.1)
        again = await auth_stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone.replace("+7", "8")))
        code = await read_code(stack.sms_file, phone)
        second = await auth_stub.VerifyCode(auth_pb2.VerifyCodeRequest(challenge_id=again.challenge_id, code=code))
        assert second.user_id == signed.user_id and not second.is_new_user and second.has_profile
    assert identity.stop() == 0
