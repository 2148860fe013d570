"""ProfileService: the caller's educational profile and display names of schoolmates."""

from __future__ import annotations

import grpc
from parta.identity.v1 import profiles_pb2, profiles_pb2_grpc
from parta_common.clock import Clock
from parta_common.grpc.context import require_principal

from identity.api.mappers import display_name_pb, profile_pb
from identity.app.profiles import ProfileInput, Profiles


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
