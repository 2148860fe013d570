"""Identity's ProfileService asked about the caller themself, with the caller's own access token: the
fallback of the profile projection (school never holds a credential that could read anyone else's)."""

from __future__ import annotations

import grpc
import structlog
from parta.identity.v1 import profiles_pb2, profiles_pb2_grpc

log = structlog.get_logger("school.identity")

# Codes that mean "identity answered: this caller has no usable profile" (none yet; or the session or
# account is no longer valid there).
_NO_PROFILE = {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAUTHENTICATED}


class GrpcProfileLookup:
    def __init__(self, address: str, *, timeout_seconds: float = 2.0):
        self._address = address
        self._timeout = timeout_seconds
        self._channel: grpc.aio.Channel | None = None

    def _stub(self) -> profiles_pb2_grpc.ProfileServiceStub:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self._address)
        return profiles_pb2_grpc.ProfileServiceStub(self._channel)

    async def has_profile(self, user_id: str, bearer: str) -> bool | None:
        if not self._address or not bearer:
            return None
        try:
            reply = await self._stub().GetMyProfile(
                profiles_pb2.GetMyProfileRequest(),
                metadata=(("authorization", f"Bearer {bearer}"),),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in _NO_PROFILE:
                return False
            log.warning("profile_lookup_failed", code=error.code().name)
            return None
        return reply.profile.user_id == user_id

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
