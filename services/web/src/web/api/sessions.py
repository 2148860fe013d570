"""Cookie sessions: sign-in and refresh go through the gateway, which keeps both tokens in httpOnly,
Secure, SameSite=Strict cookies that page scripts cannot read, and refreshes the access token when
it is about to expire.

identity rotates the refresh token on every use and treats a second use of an old one as theft
(the whole session is revoked). Browsers send several requests at once, all with the same expired
access cookie, so the refreshes are single-flight per refresh token on this replica, and the
outcome is remembered for a minute for the requests that arrive with the old cookies a moment
later. That memory is a cache, not state: losing it (a restart) costs at most one reuse refusal.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web
from google.protobuf.timestamp_pb2 import Timestamp
from parta.identity.v1 import auth_pb2

from web.api.context import Gateway
from web.domain import tokens
from web.domain.errors import ApiError, gateway_error, not_signed_in
from web.methods import REFRESH_SESSION

ACCESS_COOKIE = "parta_at"
REFRESH_COOKIE = "parta_rt"
COOKIE_PATH = "/api"
REMEMBER_SECONDS = 60.0
REMEMBER_MAX = 10_000
SESSION_INVALID = "SESSION_INVALID"
# Reasons that only repeat a status code's name: not worth passing on as a session reason.
GENERIC = frozenset({"", "UNAUTHENTICATED", "INVALID_ARGUMENT", "NOT_FOUND", "PERMISSION_DENIED"})


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    access_expires_at: Timestamp


class SessionKeeper:
    def __init__(self, gateway: Gateway):
        self._gateway = gateway
        self._flights: dict[str, asyncio.Future[Tokens]] = {}
        self._recent: OrderedDict[str, tuple[float, Tokens]] = OrderedDict()

    async def access_token(self, request: web.Request) -> tuple[str | None, Tokens | None]:
        """The token to forward and, when it was refreshed here, the new cookies to set."""
        access = request.cookies.get(ACCESS_COOKIE) or None
        refresh = request.cookies.get(REFRESH_COOKIE) or None
        settings = self._gateway.settings
        if access and not tokens.needs_refresh(access, time.time(), settings.refresh_margin_seconds):
            return access, None
        if not refresh:
            return access, None
        fresh = await self.refresh(request, refresh)
        return fresh.access_token, fresh

    async def live_token(self, request: web.Request) -> tuple[str, Tokens | None]:
        """Like access_token, for calls that cannot be replayed after a refusal (a socket, an
        upload body): a missing or expired token is refused here, before anything is relayed."""
        token, fresh = await self.access_token(request)
        if token is None:
            raise not_signed_in()
        if tokens.needs_refresh(token, time.time(), 0.0):
            raise gateway_error("UNAUTHENTICATED", "TOKEN_EXPIRED", "the access token has expired: sign in again")
        return token, fresh

    async def refresh(self, request: web.Request, refresh_token: str) -> Tokens:
        key = hashlib.sha256(refresh_token.encode()).hexdigest()
        now = time.monotonic()
        remembered = self._recent.get(key)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        flight = self._flights.get(key)
        if flight is not None:
            return await asyncio.shield(flight)
        future: asyncio.Future[Tokens] = asyncio.get_running_loop().create_future()
        self._flights[key] = future
        try:
            result = await self._call_refresh(request, refresh_token)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must log it
            raise
        else:
            future.set_result(result)
            self._remember(key, result)
            return result
        finally:
            del self._flights[key]

    async def _call_refresh(self, request: web.Request, refresh_token: str) -> Tokens:
        gateway = self._gateway
        method = gateway.methods.get(REFRESH_SESSION)
        assert method is not None
        try:
            reply = await gateway.upstreams.unary(
                method,
                auth_pb2.RefreshSessionRequest(refresh_token=refresh_token),
                gateway.metadata(request, None),
                gateway.settings.rpc_timeout_seconds,
            )
        except ApiError as error:
            if error.code in ("UNAUTHENTICATED", "PERMISSION_DENIED", "INVALID_ARGUMENT", "NOT_FOUND"):
                # The session is over (revoked, reused, expired) or the cookie was never one of ours
                # (forged, truncated): the cookies can never work again. identity's session reasons
                # pass through; anything else is SESSION_INVALID (a 401 saying INVALID_ARGUMENT
                # would read as "fix your request").
                reason = error.reason if error.code == "UNAUTHENTICATED" and error.reason not in GENERIC else ""
                raise ApiError(
                    "UNAUTHENTICATED",
                    reason or SESSION_INVALID,
                    "the session has ended: sign in again",
                    clear_session=True,
                ) from None
            raise
        return Tokens(reply.access_token, reply.refresh_token, reply.access_expires_at)

    def _remember(self, key: str, result: Tokens) -> None:
        now = time.monotonic()
        self._recent[key] = (now + REMEMBER_SECONDS, result)
        while self._recent and (len(self._recent) > REMEMBER_MAX or next(iter(self._recent.values()))[0] <= now):
            self._recent.popitem(last=False)

    def set_cookies(self, response: web.StreamResponse, fresh: Tokens) -> None:
        settings = self._gateway.settings
        for name, value in ((ACCESS_COOKIE, fresh.access_token), (REFRESH_COOKIE, fresh.refresh_token)):
            response.set_cookie(
                name,
                value,
                max_age=settings.session_cookie_max_age_seconds,
                path=COOKIE_PATH,
                httponly=True,
                secure=settings.cookie_secure,
                samesite="Strict",
            )

    def clear_cookies(self, response: web.StreamResponse) -> None:
        settings = self._gateway.settings
        for name in (ACCESS_COOKIE, REFRESH_COOKIE):
            response.del_cookie(name, path=COOKIE_PATH, secure=settings.cookie_secure, httponly=True, samesite="Strict")


SESSIONS_KEY: web.AppKey[SessionKeeper] = web.AppKey("sessions", SessionKeeper)
