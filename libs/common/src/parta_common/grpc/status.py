"""The one place where domain errors become gRPC status with ErrorInfo and BadRequest details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from parta_common import errors

DOMAIN = "parta.school"
UNAVAILABLE_RETRY_SECONDS = 1.0

_CODES: list[tuple[type[errors.DomainError], int]] = [
    (errors.InvalidArgument, code_pb2.INVALID_ARGUMENT),
    (errors.NotFound, code_pb2.NOT_FOUND),
    (errors.AlreadyExists, code_pb2.ALREADY_EXISTS),
    (errors.FailedPrecondition, code_pb2.FAILED_PRECONDITION),
    (errors.Aborted, code_pb2.ABORTED),
    (errors.PermissionDenied, code_pb2.PERMISSION_DENIED),
    (errors.Unauthenticated, code_pb2.UNAUTHENTICATED),
    (errors.ResourceExhausted, code_pb2.RESOURCE_EXHAUSTED),
    (errors.Unavailable, code_pb2.UNAVAILABLE),
]


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def code_of(error: errors.DomainError) -> int:
    for cls, code in _CODES:
        if isinstance(error, cls):
            return int(code)
    return int(code_pb2.FAILED_PRECONDITION)


def to_rpc_status(error: errors.DomainError) -> status_pb2.Status:
    details = [_pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=error.metadata))]
    if isinstance(error, errors.InvalidArgument):
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                        for v in error.violations
                    ]
                )
            )
        )
    retry_after = error.retry_after_seconds if isinstance(error, errors.ResourceExhausted) else None
    if isinstance(error, errors.Unavailable):
        # Every UNAVAILABLE tells the client when to retry, so SDKs back off instead of hammering.
        retry_after = UNAVAILABLE_RETRY_SECONDS if error.retry_after_seconds is None else error.retry_after_seconds
    if retry_after is not None:
        seconds = max(0.0, retry_after)
        delay = duration_pb2.Duration(seconds=int(seconds), nanos=int((seconds % 1) * 1e9))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    return status_pb2.Status(code=code_of(error), message=error.message, details=details)


def to_grpc_status(error: errors.DomainError) -> grpc.Status:
    return rpc_status.to_status(to_rpc_status(error))


def internal_status() -> grpc.Status:
    return rpc_status.to_status(
        status_pb2.Status(
            code=code_pb2.INTERNAL,
            message="internal error",
            details=[_pack(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=DOMAIN))],
        )
    )


def status_code_name(code: int) -> str:
    return str(code_pb2.Code.Name(code))
