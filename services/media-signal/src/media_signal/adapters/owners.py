"""The other signalling replicas over gRPC: EndRoom forwarded to the replica that holds a room live.

The call goes to the owner's public RoomService as the original caller (their own authorization
header), so the owner authenticates and authorizes it exactly like a call from the client: no
replica-to-replica secret, and a replica can never do on another more than its caller could.
"""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta.media_signal.v1 import media_signal_pb2_grpc as pb_grpc
from parta_common import errors
from parta_common.grpc.context import correlation_id

from media_signal.app.ports import FORWARDED_BY, OwnerUnreachable

_ERRORS: dict[grpc.StatusCode, type[errors.DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.ABORTED: errors.Aborted,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
}


class GrpcOwnerReplicas:
    def __init__(self, replica: str, *, timeout: float = 5.0):
        self._replica = replica
        self._timeout = timeout
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _stub(self, address: str) -> pb_grpc.RoomServiceStub:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = grpc.aio.insecure_channel(address)
        return pb_grpc.RoomServiceStub(channel)

    async def end_room(self, address: str, room_id: str, credentials: str) -> None:
        metadata = [("authorization", credentials), (FORWARDED_BY, self._replica)]
        if correlation_id():
            metadata.append(("x-correlation-id", correlation_id()))
        try:
            await self._stub(address).EndRoom(
                pb.EndRoomRequest(room_id=room_id), metadata=tuple(metadata), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as error:
            raise _domain_error(error) from error

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close()


def _domain_error(error: grpc.aio.AioRpcError) -> Exception:
    """The owner's answer as the same domain error (reason, metadata and field violations kept), so
    the caller sees what the owner decided; transport failures and the owner's own faults
    (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL …) count as "unreachable"."""
    cls = _ERRORS.get(error.code())
    if cls is None:
        return OwnerUnreachable(f"owner replica: {error.code().name}")
    message = error.details() or "refused by the owner replica"
    reason, metadata, violations = error.code().name, {}, []
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else []:
        info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
        if detail.Unpack(info):
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Unpack(bad):
            violations = [errors.FieldViolation(v.field, v.description) for v in bad.field_violations]
    if cls is errors.InvalidArgument:
        return errors.InvalidArgument(violations, message=message, reason=reason)
    if cls is errors.ResourceExhausted:
        return errors.ResourceExhausted(message, reason=reason)
    return cls(message, reason=reason, metadata=metadata)
