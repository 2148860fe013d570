"""A birth date that crosses the consent age waits for a confirmer (issue 11, finding 1b), over
gRPC on the real store: the old band holds, the guardian sees the pending date and confirms."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2
from parta.identity.v1 import events_pb2, guardians_pb2, guardians_pb2_grpc, profiles_pb2, profiles_pb2_grpc

from tests.e2e.identity_client import auth
from tests.identity.integration.test_identity_grpc import with_profile

pytestmark = pytest.mark.asyncio


async def test_a_child_changing_its_birth_date_to_adult_waits_for_the_guardian(identity):
    child = await with_profile(identity, "Миша", "2015-05-01")
    mother = await with_profile(identity, "Анна", "1988-02-02")
    profiles = profiles_pb2_grpc.ProfileServiceStub(identity.channel)
    guardians = guardians_pb2_grpc.GuardianServiceStub(identity.channel)
    code = await guardians.CreateLinkCode(guardians_pb2.CreateLinkCodeRequest(), metadata=auth(child.access_token))
    await guardians.LinkGuardian(
        guardians_pb2.LinkGuardianRequest(link_code=code.link_code), metadata=auth(mother.access_token)
    )

    updated = await profiles.UpdateProfile(
        profiles_pb2.UpdateProfileRequest(
            profile=profiles_pb2.Profile(birth_date="2000-01-01"),
            update_mask=field_mask_pb2.FieldMask(paths=["birth_date"]),
        ),
        metadata=auth(child.access_token),
    )
    assert updated.profile.birth_date == "2015-05-01" and updated.profile.pending_birth_date == "2000-01-01"
    assert updated.profile.consent_state == events_pb2.CONSENT_STATE_AWAITING_GUARDIAN
    mine = await profiles.GetMyProfile(profiles_pb2.GetMyProfileRequest(), metadata=auth(child.access_token))
    assert mine.profile.pending_birth_date == "2000-01-01"  # stored, not just in memory

    with pytest.raises(grpc.aio.AioRpcError) as self_confirm:
        await profiles.ConfirmBirthDateChange(
            profiles_pb2.ConfirmBirthDateChangeRequest(user_id=child.user_id, birth_date="2000-01-01"),
            metadata=auth(child.access_token),
        )
    assert self_confirm.value.code() == grpc.StatusCode.NOT_FOUND

    children = await guardians.ListMyChildren(guardians_pb2.ListMyChildrenRequest(), metadata=auth(mother.access_token))
    assert [c.child_pending_birth_date for c in children.links] == ["2000-01-01"]
    confirmed = await profiles.ConfirmBirthDateChange(
        profiles_pb2.ConfirmBirthDateChangeRequest(user_id=child.user_id, birth_date="2000-01-01"),
        metadata=auth(mother.access_token),
    )
    assert confirmed.age_band == events_pb2.AGE_BAND_ADULT
    assert confirmed.consent_state == events_pb2.CONSENT_STATE_NOT_REQUIRED
    mine = await profiles.GetMyProfile(profiles_pb2.GetMyProfileRequest(), metadata=auth(child.access_token))
    assert mine.profile.birth_date == "2000-01-01" and mine.profile.pending_birth_date == ""


async def test_confirming_with_a_malformed_id_or_date_is_invalid_argument(identity):
    mother = await with_profile(identity, "Анна", "1988-02-02")
    profiles = profiles_pb2_grpc.ProfileServiceStub(identity.channel)
    for request in (
        profiles_pb2.ConfirmBirthDateChangeRequest(user_id="nope", birth_date="2000-01-01"),
        profiles_pb2.ConfirmBirthDateChangeRequest(user_id=mother.user_id, birth_date="2000-13-01"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await profiles.ConfirmBirthDateChange(request, metadata=auth(mother.access_token))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
