"""A failed upstream call as the browser sees it: the google.rpc details the services' kit
attaches (ErrorInfo, BadRequest, RetryInfo) read into an ApiError. Shared by api/ (streams it
reads itself) and adapters/ (unary calls), like chat's pb.py."""

from __future__ import annotations

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from web.domain.errors import ApiError, FieldViolation

STATUS_DETAILS_KEY = "grpc-status-details-bin"


def api_error_from(error: grpc.aio.AioRpcError) -> ApiError:
    """The google.rpc details the services' kit attaches (ErrorInfo, BadRequest, RetryInfo)."""
    code = error.code().name
    message = error.details() or ""
    reason = ""
    info_metadata: dict[str, str] = {}
    violations: list[FieldViolation] = []
    retry: float | None = None
    for key, value in error.trailing_metadata() or ():
        if key != STATUS_DETAILS_KEY or not isinstance(value, bytes):
            continue
        status = status_pb2.Status.FromString(value)
        message = status.message or message
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            bad = error_details_pb2.BadRequest()
            retry_info = error_details_pb2.RetryInfo()
            if detail.Unpack(info):
                reason = info.reason
                info_metadata = dict(info.metadata)
            elif detail.Unpack(bad):
                violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
            elif detail.Unpack(retry_info):
                retry = _seconds(retry_info.retry_delay)
    if code in ("INTERNAL", "UNKNOWN", "DATA_LOSS"):
        message = "internal error"  # whatever else the text says is not the browser's business
    return ApiError(
        code=code,
        reason=reason or code,
        message=message,
        field_violations=tuple(violations),
        retry_after_seconds=retry,
        metadata=info_metadata,
    )


def _seconds(duration: duration_pb2.Duration) -> float:
    return duration.seconds + duration.nanos / 1e9
