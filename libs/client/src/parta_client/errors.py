"""Failed calls as something a person can read: status code, the service's stable reason, field violations."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

DETAILS_KEY = "grpc-status-details-bin"


class NotSignedIn(Exception):
    """No session for this profile (or it was revoked): `parta login` first."""


@dataclass(frozen=True)
class CallError:
    code: str
    message: str
    reason: str = ""
    violations: list[tuple[str, str]] = field(default_factory=list)
    retry_after_seconds: float | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        head = f"{self.code} {self.reason}" if self.reason and self.reason != self.code else self.code
        return f"{head}: {self.message}" if self.message else head


def describe(error: grpc.RpcError) -> CallError:
    """Reads ErrorInfo / BadRequest / RetryInfo from the status details the services attach."""
    code_obj = error.code() if hasattr(error, "code") else None
    code = code_obj.name if isinstance(code_obj, grpc.StatusCode) else "UNKNOWN"
    message = (error.details() if hasattr(error, "details") else "") or ""
    reason, violations, retry, meta = "", [], None, {}
    trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailing or ():
        if key != DETAILS_KEY or not isinstance(value, bytes):
            continue
        status = status_pb2.Status()
        try:
            status.ParseFromString(value)
        except DecodeError:
            continue  # a garbled detail must not hide the status itself
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason = info.reason
                meta = dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations = [(v.field, v.description) for v in bad.field_violations]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info_retry = error_details_pb2.RetryInfo()
                detail.Unpack(info_retry)
                retry = info_retry.retry_delay.seconds + info_retry.retry_delay.nanos / 1e9
    if code == "UNAVAILABLE" and not reason:
        message = message or "service unreachable"
    return CallError(code, message, reason, violations, retry, meta)


class Refused(Exception):
    """A refusal that arrives inside a stream (signalling's ErrorResponse), reported like a failed call."""

    def __init__(self, failure: CallError):
        super().__init__(failure.line())
        self.failure = failure


_CODE_NAMES: dict[int, str] = {status.value[0]: status.name for status in grpc.StatusCode}


def code_name(code: int) -> str:
    """google.rpc.Code value → its name (UNKNOWN for a value grpc does not know)."""
    return _CODE_NAMES.get(code, "UNKNOWN")


def reason_of(error: grpc.RpcError) -> str:
    return describe(error).reason
