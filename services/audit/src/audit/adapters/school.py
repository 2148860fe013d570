"""Who administers a school, asked of school itself (MembershipService/CheckPermission with
ACTION_MANAGE_SCHOOL, which only admins hold) as the caller: their own authorization header goes
along, so school authenticates and authorizes the question exactly like one from the client — the
audit service holds no secret that could ask about anyone else. Authoritative at the moment of the
call (a removed admin is refused at once), not an eventually consistent projection."""

from __future__ import annotations

import grpc
from parta.school.v1 import school_pb2 as pb
from parta.school.v1 import school_pb2_grpc as pb_grpc
from parta_common.errors import PermissionDenied, Unauthenticated, Unavailable
from parta_common.grpc.context import correlation_id
from parta_common.outages import RETRY_AFTER_SECONDS

REFUSALS = frozenset({grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT})


class GrpcSchoolAdmins:
    def __init__(self, address: str, *, timeout: float = 5.0):
        self._address = address
        self._timeout = timeout
        self._channel: grpc.aio.Channel | None = None

    def _stub(self) -> pb_grpc.MembershipServiceStub:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self._address)
        return pb_grpc.MembershipServiceStub(self._channel)

    async def is_admin(self, user_id: str, school_id: str, credentials: str) -> bool:
        metadata = [("authorization", credentials)]
        if correlation_id():
            metadata.append(("x-correlation-id", correlation_id()))
        try:
            reply = await self._stub().CheckPermission(
                pb.CheckPermissionRequest(user_id=user_id, school_id=school_id, action=pb.ACTION_MANAGE_SCHOOL),
                metadata=tuple(metadata),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in REFUSALS:
                raise PermissionDenied(
                    "only the school's admins read its audit trail", reason="NOT_SCHOOL_ADMIN"
                ) from error
            if error.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise Unauthenticated("school did not accept the credentials", reason="UNAUTHENTICATED") from error
            raise Unavailable(
                "school cannot confirm the caller's role now", retry_after_seconds=RETRY_AFTER_SECONDS
            ) from error
        return bool(reply.allowed)

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()
