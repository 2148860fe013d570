"""The gateway's mapping pieces: gRPC status → HTTP status and error body, close codes and reasons,
the google.rpc details read back from a real status, CSRF decisions, token peeks, the frame bucket,
the exposed method table, download headers and the CSP."""

from __future__ import annotations

import base64
import json

import grpc
import pytest
from parta_common import errors
from parta_common.grpc.status import to_rpc_status
from web.api.files import content_disposition
from web.api.http import content_security_policy
from web.domain import tokens
from web.domain.errors import (
    MAX_CLOSE_REASON_BYTES,
    ApiError,
    FieldViolation,
    http_status_for,
    ws_close_code_for,
)
from web.domain.origin import csrf_refusal
from web.domain.rate import TokenBucket
from web.methods import DOWNLOAD, HIDDEN, PUBLIC, UPLOAD, MethodTable
from web.rpc_errors import STATUS_DETAILS_KEY, api_error_from


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("INVALID_ARGUMENT", 400),
        ("UNAUTHENTICATED", 401),
        ("PERMISSION_DENIED", 403),
        ("NOT_FOUND", 404),
        ("ALREADY_EXISTS", 409),
        ("ABORTED", 409),
        ("FAILED_PRECONDITION", 409),
        ("RESOURCE_EXHAUSTED", 429),
        ("UNAVAILABLE", 503),
        ("DEADLINE_EXCEEDED", 504),
        ("INTERNAL", 500),
        ("UNKNOWN", 500),
        ("SOMETHING_NEW", 500),
    ],
)
def test_status_table(code: str, status: int) -> None:
    assert http_status_for(code) == status


def test_close_codes_carry_the_grpc_code_number() -> None:
    assert ws_close_code_for("UNAUTHENTICATED") == 4016
    assert ws_close_code_for("ABORTED") == 4010
    assert ws_close_code_for("RESOURCE_EXHAUSTED") == 4008
    assert ws_close_code_for("nonsense") == 4002


def test_error_body_and_retry_after() -> None:
    error = ApiError(
        "INVALID_ARGUMENT", "TEXT_TOO_LONG", "too long", field_violations=(FieldViolation("text", "≤ 4000"),)
    )
    assert error.status == 400 and error.headers() == {}
    assert error.body() == {
        "code": "INVALID_ARGUMENT",
        "reason": "TEXT_TOO_LONG",
        "message": "too long",
        "fieldViolations": [{"field": "text", "description": "≤ 4000"}],
    }
    limited = ApiError("RESOURCE_EXHAUSTED", "CODE_COOLDOWN", "wait", retry_after_seconds=12.2)
    assert limited.headers() == {"Retry-After": "13"} and limited.body()["retryAfterSeconds"] == 13
    down = ApiError("UNAVAILABLE", "UNAVAILABLE", "down")  # no RetryInfo: still told when to come back
    assert down.status == 503 and down.headers() == {"Retry-After": "1"}
    assert ApiError("INVALID_ARGUMENT", "BODY_TOO_LARGE", "big", http_status=413).status == 413


def test_close_reason_is_json_that_fits_a_close_frame() -> None:
    error = ApiError(
        "INVALID_ARGUMENT",
        "SOME_REASON",
        "очень длинное сообщение " * 40,
        field_violations=tuple(FieldViolation(f"f{i}", "bad") for i in range(10)),
    )
    reason = error.close_reason()
    assert len(reason.encode()) <= MAX_CLOSE_REASON_BYTES
    parsed = json.loads(reason)
    assert parsed["code"] == "INVALID_ARGUMENT" and parsed["reason"] == "SOME_REASON"
    short = ApiError("UNAUTHENTICATED", "SESSION_REVOKED", "session was revoked")
    assert json.loads(short.close_reason()) == short.body()


def _rpc_error(domain_error: errors.DomainError) -> grpc.aio.AioRpcError:
    status = to_rpc_status(domain_error)
    trailing = grpc.aio.Metadata((STATUS_DETAILS_KEY, status.SerializeToString()))
    return grpc.aio.AioRpcError(grpc.StatusCode(_code(status.code)), grpc.aio.Metadata(), trailing, status.message)


def _code(number: int) -> tuple[int, str]:
    return next(c.value for c in grpc.StatusCode if c.value[0] == number)


def test_google_rpc_details_become_the_body() -> None:
    invalid = api_error_from(
        _rpc_error(errors.InvalidArgument.field("chat_id", "required"))  # type: ignore[attr-defined]
    )
    assert invalid.status == 400 and invalid.code == "INVALID_ARGUMENT"
    assert invalid.field_violations == (FieldViolation("chat_id", "required"),)
    denied = api_error_from(_rpc_error(errors.PermissionDenied("not a member", reason="NOT_A_MEMBER")))
    assert (denied.status, denied.reason, denied.message) == (403, "NOT_A_MEMBER", "not a member")
    limited = api_error_from(_rpc_error(errors.ResourceExhausted("slow down", reason="RATE", retry_after_seconds=2.5)))
    assert limited.status == 429 and limited.headers()["Retry-After"] == "3"
    pinned = api_error_from(
        _rpc_error(
            errors.FailedPrecondition(
                "owned elsewhere", reason="ROOM_PINNED_ELSEWHERE", metadata={"owner_address": "10.1.2.3:50054"}
            )
        )
    )
    # The owner's address is for the gateway (it reopens the stream there), not for the body.
    assert pinned.metadata == {"owner_address": "10.1.2.3:50054"} and "10.1.2.3" not in json.dumps(pinned.body())
    plain = api_error_from(
        grpc.aio.AioRpcError(grpc.StatusCode.INTERNAL, grpc.aio.Metadata(), grpc.aio.Metadata(), "Traceback…")
    )
    assert plain.status == 500 and plain.message == "internal error" and plain.reason == "INTERNAL"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Parta-CSRF": "1", "Origin": "http://app.test:8080"}, None),
        ({"X-Parta-CSRF": "1", "Sec-Fetch-Site": "same-origin"}, None),
        ({"X-Parta-CSRF": "1", "Origin": "http://app.test:8080", "Sec-Fetch-Site": "same-origin"}, None),
        ({"Origin": "http://app.test:8080"}, "CSRF_HEADER_MISSING"),
        ({"X-Parta-CSRF": "yes", "Origin": "http://app.test:8080"}, "CSRF_HEADER_MISSING"),
        ({"X-Parta-CSRF": "1", "Origin": "https://evil.example"}, "CROSS_SITE_REQUEST"),
        ({"X-Parta-CSRF": "1", "Origin": "http://app.test:8080.evil.example"}, "CROSS_SITE_REQUEST"),
        ({"X-Parta-CSRF": "1", "Origin": "null"}, "CROSS_SITE_REQUEST"),
        ({"X-Parta-CSRF": "1", "Sec-Fetch-Site": "same-site"}, "CROSS_SITE_REQUEST"),
        ({"X-Parta-CSRF": "1"}, "ORIGIN_MISSING"),
    ],
)
def test_csrf(headers: dict[str, str], expected: str | None) -> None:
    assert csrf_refusal(headers, host="app.test:8080", allowed_origins=()) == expected


def test_csrf_with_configured_origins_and_websockets() -> None:
    allowed = ("https://parta.example.org",)
    ok = {"X-Parta-CSRF": "1", "Origin": "https://parta.example.org"}
    assert csrf_refusal(ok, host="10.0.0.5:8080", allowed_origins=allowed) is None
    assert csrf_refusal({**ok, "Origin": "http://parta.example.org"}, host="x", allowed_origins=allowed)
    # WebSocket handshakes cannot carry the header; the origin alone decides.
    ws = {"Origin": "http://app.test"}
    assert csrf_refusal(ws, host="app.test", allowed_origins=(), require_header=False) is None
    assert csrf_refusal({"Origin": "http://x"}, host="app.test", allowed_origins=(), require_header=False)


def _jwt(claims: dict[str, object]) -> str:
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'EdDSA'})}.{part(claims)}.sig"


def test_token_peeks() -> None:
    token = _jwt({"exp": 1000, "sid": "s-1"})
    assert tokens.expires_at(token) == 1000 and tokens.session_id(token) == "s-1"
    assert tokens.needs_refresh(token, now=971, margin_seconds=30)
    assert not tokens.needs_refresh(token, now=969, margin_seconds=30)
    assert tokens.needs_refresh("garbage", now=0, margin_seconds=0)
    assert tokens.session_id("a.b.c") == ""


def test_token_bucket() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=4, now=lambda: now[0])
    assert [bucket.take() for _ in range(5)] == [True, True, True, True, False]
    now[0] = 0.5
    assert bucket.take() and not bucket.take()


def test_method_table_is_an_allow_list() -> None:
    table = MethodTable()
    paths = {m.path for m in table.all()}
    assert not paths & HIDDEN
    assert not any("SigningKeyService" in p for p in paths)
    assert PUBLIC - {"/parta.identity.v1.SigningKeyService/ListSigningKeys"} <= paths
    assert table.unary("parta.chat.v1.ChatService", "SendMessage") is not None
    assert table.unary("parta.chat.v1.ChatService", "Subscribe") is None
    assert table.stream("parta.chat.v1.ChatService", "Subscribe") is not None
    assert table.stream("parta.media_signal.v1.SignalService", "Signal") is not None
    assert table.stream("parta.chat.v1.FileService", "UploadFile") is None
    assert table.stream("parta.chat.v1.FileService", "DownloadFile") is None
    assert {UPLOAD, DOWNLOAD} <= paths
    assert table.unary("parta.school.v1.SchoolService", "RegisterSchool") is None
    for name in ("ListAuditEntries", "VerifyAuditChain"):
        method = table.unary("parta.audit.v1.AuditService", name)
        assert method is not None and method.upstream == "audit"
    # Data exports (issue 17): identity authorizes the request, chat reports progress; both need a session.
    request = table.unary("parta.identity.v1.ExportService", "RequestDataExport")
    assert request is not None and request.upstream == "identity" and not request.public
    for name in ("GetDataExport", "ListDataExports"):
        method = table.unary("parta.chat.v1.ExportService", name)
        assert method is not None and method.upstream == "chat" and not method.public


def test_download_headers() -> None:
    assert content_disposition("photo.png", "image/png").startswith("inline;")
    header = content_disposition('Домашка "1".pdf', "application/pdf")
    assert header.startswith('attachment; filename="')
    assert "filename*=UTF-8''%D0%94" in header and '"1"' not in header
    assert content_disposition("x.svg", "image/svg+xml").startswith("attachment;")


def test_content_security_policy() -> None:
    csp = content_security_policy("parta.example.org")
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "connect-src 'self' ws://parta.example.org wss://parta.example.org" in csp
    assert "unsafe" not in csp
