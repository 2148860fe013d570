"""ProfileService: the caller's educational profile and display names of schoolmates."""

from __future__ import annotations

import grpc
from parta.identity.v1 import profiles_pb2, profiles_pb2_grpc
from parta_common.clock import Clock
from parta_common.grpc.context import require_principal

from identity.api.mappers import display_name_pb, profile_pb
from identity.app.profiles import ProfileInput, Profiles
from identity.codecs import AGE_BAND_TO_PB, CONSENT_TO_PB


class ProfileServicer(profiles_pb2_grpc.ProfileServiceServicer):
    def __init__(self, profiles: Profiles, clock: Clock):
        self._profiles = profiles
        self._clock = clock

    async def CreateProfile(
        self, request: profiles_pb2.CreateProfileRequest, context: grpc.aio.ServicerContext
    ) -> profiles_pb2.CreateProfileResponse:
        data = ProfileInput(request.first_name, request.last_name, request.patronymic, request.birth_date)
        user = await self._profiles.create_profile(require_principal().user_id, data, request.request_id)
        return profiles_pb2.CreateProfileResponse(profile=profile_pb(user, self._clock.now().date()))

    async def GetMyProfile(
        self, request: profiles_pb2.GetMyProfileRequest, context: grpc.aio.ServicerContext
    ) -> profiles_pb2.GetMyProfileResponse:
        user = await self._profiles.get_my_profile(require_principal().user_id)
        return profiles_pb2.GetMyProfileResponse(profile=profile_pb(user, self._clock.now().date()))

    async def UpdateProfile(
        self, request: profiles_pb2.UpdateProfileRequest, context: grpc.aio.ServicerContext
    ) -> profiles_pb2.UpdateProfileResponse:
        p = request.profile
        changes = {
            "first_name": p.first_name,
            "last_name": p.last_name,
            "patronymic": p.patronymic,
            "birth_date": p.birth_date,
        }
        user = await self._profiles.update_profile(
            require_principal().user_id, changes, list(request.update_mask.paths)
        )
        return profiles_pb2.UpdateProfileResponse(profile=profile_pb(user, self._clock.now().date()))

    async def BatchGetDisplayNames(
        self, request: profiles_pb2.BatchGetDisplayNamesRequest, context: grpc.aio.ServicerContext
    ) -> profiles_pb2.BatchGetDisplayNamesResponse:
        users = await self._profiles.display_names(require_principal().user_id, list(request.user_ids))
        return profiles_pb2.BatchGetDisplayNamesResponse(names=[display_name_pb(u) for u in users])

    async def ConfirmBirthDateChange(
        self, request: profiles_pb2.ConfirmBirthDateChangeRequest, context: grpc.aio.ServicerContext
    ) -> profiles_pb2.ConfirmBirthDateChangeResponse:
        user = await self._profiles.confirm_birth_date_change(
            require_principal().user_id, request.user_id, request.birth_date
        )
        return profiles_pb2.ConfirmBirthDateChangeResponse(
            age_band=AGE_BAND_TO_PB[user.age_band], consent_state=CONSENT_TO_PB[user.consent_state]
        )

    async def DeclineBirthDateChange(
        self, request: profiles_pb2.DeclineBirthDateChangeRequest, context: grpc.aio.ServicerContext
    ) -> profiles_pb2.DeclineBirthDateChangeResponse:
        await self._profiles.decline_birth_date_change(require_principal().user_id, request.user_id)
        return profiles_pb2.DeclineBirthDateChangeResponse()
