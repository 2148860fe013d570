"""Middlewares (errors as JSON, security headers, metrics, tracing, drain) and the unary JSON routes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry import trace

from web.api.context import REQUEST_ID_KEY, Gateway, gateway_of
from web.api.sessions import ACCESS_COOKIE, REFRESH_COOKIE, SESSIONS_KEY, Tokens
from web.domain import tokens
from web.domain.errors import ApiError, body_too_large, gateway_error, not_signed_in
from web.methods import REFRESH_SESSION, REVOKE_SESSION, VERIFY_CODE, Method

log = structlog.get_logger("web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Fields of sign-in and refresh replies that stay in cookies and never reach page scripts.
TOKEN_FIELDS = ("accessToken", "refreshToken")


def to_json(message: Message) -> dict[str, Any]:
    """Protobuf JSON mapping (lowerCamelCase names, int64 as strings), with every field present."""
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def from_json(body: object, message: Message) -> Message:
    try:
        if not isinstance(body, dict):
            raise json_format.ParseError("the body must be a JSON object")
        return json_format.ParseDict(body, message)
    except RecursionError:
        raise gateway_error("INVALID_ARGUMENT", "INVALID_JSON", "the body is nested too deeply") from None
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise gateway_error("INVALID_ARGUMENT", "INVALID_JSON", f"the body does not fit the request: {exc}") from None


def error_response(request: web.Request, error: ApiError) -> web.Response:
    response = web.json_response(error.body(), status=error.status, headers=error.headers())
    if error.clear_session:
        request.app[SESSIONS_KEY].clear_cookies(response)
    if error.extra_headers.get("Connection") == "close":
        # Drop the connection right after the answer rather than wait for the rest of a body.
        response.force_close()
    return response


def metric_route(request: web.Request) -> str:
    """The route's name for metrics and logs: a known method, or the route pattern — never a name
    the client made up (that would grow the metrics without bound)."""
    info = request.match_info
    if "service" in info and "method" in info:
        known = gateway_of(request).methods.get(f"/{info['service']}/{info['method']}")
        return known.path.lstrip("/") if known is not None else "unknown-method"
    route = request.match_info.route.resource
    return route.canonical if route is not None else "unmatched"


@web.middleware
async def edge_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, metrics, one span per request, and every failure as the JSON error body."""
    gateway = gateway_of(request)
    request[REQUEST_ID_KEY] = uuid.uuid4().hex
    structlog.contextvars.bind_contextvars(request_id=request[REQUEST_ID_KEY])
    started = time.perf_counter()
    api = request.path.startswith("/api/") or request.path == "/api"
    status = 500
    gateway.begin()
    try:
        if gateway.tracer is not None and api:
            with gateway.tracer.start_as_current_span(
                f"{request.method} {metric_route(request)}", kind=trace.SpanKind.SERVER
            ) as span:
                response = await _guarded(request, handler, api)
                span.set_attribute("http.status_code", response.status)
        else:
            response = await _guarded(request, handler, api)
        status = response.status
        return response
    finally:
        gateway.end()
        if api:
            gateway.metrics.observe_rpc(metric_route(request), str(status), time.perf_counter() - started)
        structlog.contextvars.unbind_contextvars("request_id")


async def _guarded(request: web.Request, handler: Handler, api: bool) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        if error.status >= 500:
            log.warning("request_failed", route=metric_route(request), grpc_code=error.code, reason=error.reason)
        return error_response(request, error)
    except web.HTTPRequestEntityTooLarge as exc:
        return error_response(request, body_too_large(getattr(exc, "max_size", 0) or 0))
    except web.HTTPMethodNotAllowed as exc:
        refusal = gateway_error("UNIMPLEMENTED", "METHOD_NOT_ALLOWED", f"{request.method} is not allowed", status=405)
        refusal.extra_headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return error_response(request, refusal)
    except web.HTTPNotFound:
        if not api:
            raise
        return error_response(request, gateway_error("NOT_FOUND", "NO_SUCH_ROUTE", "no such route"))
    except web.HTTPException:
        raise
    except (ConnectionResetError, OSError) as exc:
        # The browser went away mid-request; nobody reads the answer.
        log.info("client_gone", route=metric_route(request), error=type(exc).__name__)
        return web.Response(status=499)
    except Exception:
        log.exception("request_crashed", route=metric_route(request))
        return error_response(request, gateway_error("INTERNAL", "INTERNAL", "internal error"))


def content_security_policy(host: str) -> str:
    # connect-src names this host's WebSocket origins exactly (a bare `ws:` would allow any host).
    sockets = f"ws://{host} wss://{host}" if host else ""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob: mediastream:",
            "font-src 'self'",
            f"connect-src 'self' {sockets}".strip(),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response, pages, API answers, errors and WebSocket handshakes alike."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(request.host))
    headers["X-Content-Type-Options"] = "nosniff"
    # Invite links (/join/<token>) must not leak to other sites through Referer.
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(self), microphone=(self), display-capture=(self), geolocation=()"
    if gateway_of(request).settings.environment.value == "production":
        headers["Strict-Transport-Security"] = "max-age=31536000"
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")


async def read_body(request: web.Request, limit: int, idle_seconds: float, total_seconds: float) -> bytes:
    """The whole body, however many TCP segments it comes in, up to `limit` bytes. A client that
    sends nothing for `idle_seconds`, or has not finished in `total_seconds`, is refused (408)."""
    if request.content_length is not None and request.content_length > limit:
        raise body_too_large(limit)
    parts: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(total_seconds):
            while True:
                part = await asyncio.wait_for(request.content.readany(), idle_seconds)
                if not part:
                    break
                size += len(part)
                if size > limit:
                    raise body_too_large(limit)
                parts.append(part)
    except TimeoutError:
        raise body_too_slow() from None
    return b"".join(parts)


def body_too_slow() -> ApiError:
    error = gateway_error("DEADLINE_EXCEEDED", "BODY_TOO_SLOW", "the request body did not arrive in time", status=408)
    error.extra_headers["Connection"] = "close"
    return error


async def read_json(request: web.Request, limit: int) -> object:
    settings = gateway_of(request).settings
    raw = await read_body(request, limit, settings.body_seconds, settings.body_seconds)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: nesting deeper than the parser's stack ({"a":{"a":… thousands deep).
        raise gateway_error("INVALID_ARGUMENT", "INVALID_JSON", "the body is not JSON") from None


async def unary(request: web.Request) -> web.StreamResponse:
    """POST /api/<full.service.Name>/<Method>: JSON in, JSON out."""
    gateway = gateway_of(request)
    gateway.refuse_if_draining()
    method = gateway.methods.unary(request.match_info["service"], request.match_info["method"])
    if method is None:
        raise gateway_error("NOT_FOUND", "NO_SUCH_METHOD", "no such method (or not a unary one)")
    gateway.check_csrf(request)
    payload = await read_json(request, gateway.settings.max_body_bytes)
    message = from_json(payload, method.request())
    if method.path == VERIFY_CODE:
        return await _sign_in(request, gateway, method, message)
    if method.path == REFRESH_SESSION:
        return await _refresh(request, gateway)
    reply, fresh = await call_with_session(request, gateway, method, message)
    response = web.json_response(to_json(reply))
    if fresh is not None:
        request.app[SESSIONS_KEY].set_cookies(response, fresh)
    return response


async def call_with_session(
    request: web.Request, gateway: Gateway, method: Method, message: Message
) -> tuple[Message, Tokens | None]:
    """Forwards the caller's access token (refreshed first when it is about to expire). A call that
    still meets TOKEN_EXPIRED (clocks differ) is refreshed and retried once: it did not run."""
    sessions = request.app[SESSIONS_KEY]
    token, fresh = await sessions.access_token(request)
    if token is None and not method.public:
        raise not_signed_in()
    timeout = gateway.settings.rpc_timeout_seconds
    try:
        return await gateway.upstreams.unary(method, message, gateway.metadata(request, token), timeout), fresh
    except ApiError as error:
        refresh = request.cookies.get(REFRESH_COOKIE)
        if error.code != "UNAUTHENTICATED" or error.reason != "TOKEN_EXPIRED" or fresh is not None or not refresh:
            raise
    fresh = await sessions.refresh(request, refresh)
    metadata = gateway.metadata(request, fresh.access_token)
    return await gateway.upstreams.unary(method, message, metadata, timeout), fresh


async def _sign_in(request: web.Request, gateway: Gateway, method: Method, message: Message) -> web.Response:
    reply = await gateway.upstreams.unary(
        method, message, gateway.metadata(request, None), gateway.settings.rpc_timeout_seconds
    )
    fresh = Tokens(reply.access_token, reply.refresh_token, reply.access_expires_at)  # type: ignore[attr-defined]
    return _session_reply(request, reply, fresh)


async def _refresh(request: web.Request, gateway: Gateway) -> web.Response:
    """The refresh token comes from its cookie, whatever the body says."""
    refresh = request.cookies.get(REFRESH_COOKIE)
    if not refresh:
        raise not_signed_in()
    fresh = await request.app[SESSIONS_KEY].refresh(request, refresh)
    from parta.identity.v1 import auth_pb2

    reply = auth_pb2.RefreshSessionResponse(access_expires_at=fresh.access_expires_at)
    return _session_reply(request, reply, fresh)


def _session_reply(request: web.Request, reply: Message, fresh: Tokens) -> web.Response:
    body = to_json(reply)
    for name in TOKEN_FIELDS:
        body.pop(name, None)
    response = web.json_response(body)
    request.app[SESSIONS_KEY].set_cookies(response, fresh)
    return response


async def sign_out(request: web.Request) -> web.StreamResponse:
    """POST /api/session/sign-out: ends this session at identity and clears the cookies."""
    gateway = gateway_of(request)
    gateway.check_csrf(request)
    sessions = request.app[SESSIONS_KEY]
    try:
        token, _fresh = await sessions.access_token(request)
        method = gateway.methods.get(REVOKE_SESSION)
        if token and method is not None:
            from parta.identity.v1 import auth_pb2

            await gateway.upstreams.unary(
                method,
                auth_pb2.RevokeSessionRequest(session_id=tokens.session_id(token)),
                gateway.metadata(request, token),
                gateway.settings.rpc_timeout_seconds,
            )
    except ApiError as error:
        # Already over (revoked, expired, unknown): signing out of it is done either way.
        if error.code not in ("UNAUTHENTICATED", "NOT_FOUND", "PERMISSION_DENIED"):
            raise
    response = web.json_response({})
    sessions.clear_cookies(response)
    return response


async def session_probe(request: web.Request) -> web.StreamResponse:
    """GET /api/session: whether this browser holds session cookies at all (the page cannot see
    them, they are httpOnly). Lets the page start on the sign-in screen without a 401 in the console;
    whether the session is still valid shows on the first call."""
    cookies = request.cookies
    return web.json_response({"signedIn": bool(cookies.get(ACCESS_COOKIE) or cookies.get(REFRESH_COOKIE))})


async def healthz(request: web.Request) -> web.StreamResponse:
    """Liveness: the event loop answers."""
    return web.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.StreamResponse:
    """Ready while not draining and identity (sign-in, every token's refresh) is SERVING; the other
    services are reported, and their own calls fail with 503 while they are down."""
    gateway = gateway_of(request)
    names = gateway.upstreams.names()
    answers = await asyncio.gather(*(gateway.upstreams.serving(name) for name in names))
    upstreams = dict(zip(names, answers, strict=True))
    ready = not gateway.draining and upstreams.get("identity", False)
    return web.json_response(
        {"status": "ready" if ready else "not ready", "draining": gateway.draining, "upstreams": upstreams},
        status=200 if ready else 503,
    )
