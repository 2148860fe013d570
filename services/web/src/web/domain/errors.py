"""gRPC status → HTTP status and the JSON error body, in one table (docs/web.md lists it)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

# grpc status code numbers (google.rpc.Code), so a WebSocket close code can carry one: 4000 + n.
GRPC_CODES: dict[str, int] = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}

HTTP_STATUS: dict[str, int] = {
    "OK": 200,
    "INVALID_ARGUMENT": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "FAILED_PRECONDITION": 409,
    "RESOURCE_EXHAUSTED": 429,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
    # The browser has gone; nobody reads this status, but the access log should not say 500.
    "CANCELLED": 499,
}
# Statuses whose response says when to come back (Retry-After), 1 s when the service gave no RetryInfo.
RETRY_STATUSES = frozenset({429, 503})
DEFAULT_RETRY_SECONDS = 1.0
# A WebSocket close reason is at most 123 bytes of UTF-8 (RFC 6455 §5.5: 125-byte control payload).
MAX_CLOSE_REASON_BYTES = 123
WS_NORMAL_CLOSE = 1000
WS_GOING_AWAY = 1001
WS_ERROR_BASE = 4000


def http_status_for(code: str) -> int:
    """INTERNAL, UNKNOWN, DATA_LOSS and anything new are 500: the body still names the gRPC code."""
    return HTTP_STATUS.get(code, 500)


def ws_close_code_for(code: str) -> int:
    return WS_ERROR_BASE + GRPC_CODES.get(code, GRPC_CODES["UNKNOWN"])


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


@dataclass
class ApiError(Exception):
    """What the browser gets when a call fails: a gRPC code name, the ErrorInfo reason, the message,
    field violations, and when to retry. `http_status` overrides the table for the gateway's own
    refusals that have no gRPC twin (413 body too large, 405, 411)."""

    code: str
    reason: str
    message: str
    field_violations: tuple[FieldViolation, ...] = ()
    retry_after_seconds: float | None = None
    http_status: int | None = None
    # The session cookies are dead (refresh refused): the response clears them.
    clear_session: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)
    # ErrorInfo.metadata: for the gateway's own use (e.g. a room's owner replica), not sent on.
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code} {self.reason}: {self.message}")

    @property
    def status(self) -> int:
        return self.http_status if self.http_status is not None else http_status_for(self.code)

    def retry_after(self) -> int | None:
        """Whole seconds for the Retry-After header (rounded up, at least 1), or None."""
        if self.retry_after_seconds is None and self.status not in RETRY_STATUSES:
            return None
        seconds = DEFAULT_RETRY_SECONDS if self.retry_after_seconds is None else self.retry_after_seconds
        return max(1, math.ceil(seconds))

    def body(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "reason": self.reason, "message": self.message}
        if self.field_violations:
            out["fieldViolations"] = [{"field": v.field, "description": v.description} for v in self.field_violations]
        retry = self.retry_after()
        if retry is not None:
            out["retryAfterSeconds"] = retry
        return out

    def headers(self) -> dict[str, str]:
        out = dict(self.extra_headers)
        retry = self.retry_after()
        if retry is not None:
            out["Retry-After"] = str(retry)
        return out

    def close_code(self) -> int:
        return ws_close_code_for(self.code)

    def close_reason(self) -> str:
        """The body as JSON that fits a close frame: violations dropped first, then the message cut."""
        body = self.body()
        text = _compact(body)
        if len(text.encode()) <= MAX_CLOSE_REASON_BYTES:
            return text
        body.pop("fieldViolations", None)
        message = str(body.get("message", ""))
        while True:
            text = _compact(body)
            if len(text.encode()) <= MAX_CLOSE_REASON_BYTES or not message:
                break
            message = message[: max(0, len(message) - max(1, len(text.encode()) - MAX_CLOSE_REASON_BYTES))]
            body["message"] = message
        if len(text.encode()) > MAX_CLOSE_REASON_BYTES:
            text = _compact({"code": self.code, "reason": self.reason[:60]})
        return text


def _compact(body: dict[str, object]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def gateway_error(code: str, reason: str, message: str, *, status: int | None = None) -> ApiError:
    return ApiError(code=code, reason=reason, message=message, http_status=status)


def not_signed_in() -> ApiError:
    return gateway_error("UNAUTHENTICATED", "NOT_SIGNED_IN", "sign in first")


def body_too_large(limit: int) -> ApiError:
    return gateway_error("INVALID_ARGUMENT", "BODY_TOO_LARGE", f"the body is limited to {limit} bytes", status=413)
