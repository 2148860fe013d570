"""`Parta`: one channel per service, stubs that carry the access token, sign-in and token refresh.

    async with Parta(store=SessionStore(parta_home(), "default")) as parta:
        await parta.sign_in("+70000000001", DevSmsFile(".cache/run/dev-sms.jsonl"))
        reply = await parta.schools.ListMySchools(school_pb2.ListMySchoolsRequest())

Every stub call gets `authorization: Bearer <access token>` (except the public sign-in RPCs) and a
default deadline. The access token is refreshed shortly before it expires, and a unary call that still
comes back UNAUTHENTICATED is retried once after a refresh. Refreshes are serialised: identity rotates
refresh tokens and treats a reused one as theft (the whole session is revoked), so two concurrent
calls must never present the same refresh token twice.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import grpc
from parta.audit.v1 import audit_pb2_grpc
from parta.chat.v1 import chat_pb2_grpc
from parta.chat.v1 import exports_pb2_grpc as chat_exports_pb2_grpc
from parta.identity.v1 import (
    account_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    guardians_pb2_grpc,
    profiles_pb2_grpc,
)
from parta.identity.v1 import exports_pb2_grpc as identity_exports_pb2_grpc
from parta.media_signal.v1 import media_signal_pb2_grpc
from parta.school.v1 import school_pb2_grpc, timetable_pb2_grpc

from parta_client.config import Endpoints
from parta_client.devsms import DevSmsFile, normalize_phone
from parta_client.errors import NotSignedIn, describe
from parta_client.session import Session, SessionStore

# Methods that take no token (the token, code or refresh token in the request is the credential).
PUBLIC_METHODS = frozenset(
    {
        "/parta.identity.v1.AuthService/RequestCode",
        "/parta.identity.v1.AuthService/VerifyCode",
        "/parta.identity.v1.AuthService/RefreshSession",
        "/parta.identity.v1.SigningKeyService/ListSigningKeys",
        "/parta.school.v1.InviteService/PreviewInvite",
    }
)
DEFAULT_TIMEOUT = 15.0
REFRESH_MARGIN_SECONDS = 30.0

CodeSource = Callable[[str], Awaitable[str]]


def new_request_id() -> str:
    return uuid.uuid4().hex


class TokenKeeper:
    """Holds the session, refreshes it through identity, persists every change to the store."""

    def __init__(self, store: SessionStore | None, session: Session | None):
        self.store = store
        self.session = session
        self._lock = asyncio.Lock()
        self._refresh_rpc: Callable[[str], Awaitable[auth_pb2.RefreshSessionResponse]] | None = None

    def bind(self, refresh_rpc: Callable[[str], Awaitable[auth_pb2.RefreshSessionResponse]]) -> None:
        self._refresh_rpc = refresh_rpc

    def set(self, session: Session | None) -> None:
        self.session = session
        if self.store is not None:
            if session is None:
                self.store.clear()
            else:
                self.store.save(session)

    async def token(self) -> str:
        session = self.session
        if session is None:
            raise NotSignedIn("not signed in")
        if session.expires_within(REFRESH_MARGIN_SECONDS):
            await self.refresh(session.access_token)
        current = self.session
        if current is None:
            raise NotSignedIn("not signed in")
        return current.access_token

    async def refresh(self, stale_access_token: str) -> bool:
        """Refreshes unless another caller already replaced `stale_access_token`. False: cannot refresh."""
        async with self._lock:
            session = self.session
            if session is None:
                raise NotSignedIn("not signed in")
            if session.access_token != stale_access_token:
                return True  # someone refreshed while we waited
            if not session.refresh_token or self._refresh_rpc is None:
                return False
            try:
                reply = await self._refresh_rpc(session.refresh_token)
            except grpc.aio.AioRpcError as error:
                if error.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                    # Revoked or reused: this session is over; keep nothing that cannot work.
                    self.set(None)
                    raise NotSignedIn("the session has ended (revoked or expired): sign in again") from error
                raise
            session.access_token = reply.access_token
            session.refresh_token = reply.refresh_token
            session.access_expires_at = _ts(reply.access_expires_at)
            self.set(session)
            return True


def _ts(timestamp: Any) -> float:
    return float(timestamp.seconds) + timestamp.nanos / 1e9 if timestamp.seconds else 0.0


def new_trace_id() -> str:
    return secrets.token_hex(16)


def _with_auth(
    details: grpc.aio.ClientCallDetails, token: str | None, default_timeout: bool, trace_id: str = ""
) -> Any:
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    if token is not None:
        metadata["authorization"] = f"Bearer {token}"
    if trace_id:
        # W3C trace context, sampled: every call of this client joins one trace, each as its own
        # parent span, so an operator finds the whole command in the trace backend by one id.
        metadata["traceparent"] = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    timeout = details.timeout
    if timeout is None and default_timeout:
        timeout = DEFAULT_TIMEOUT
    return grpc.aio.ClientCallDetails(details.method, timeout, metadata, details.credentials, details.wait_for_ready)


def _method_name(details: grpc.aio.ClientCallDetails) -> str:
    method = details.method
    return method.decode() if isinstance(method, bytes) else str(method)


RETRIED_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})
RETRY_ATTEMPTS = 5
RETRY_FIRST_DELAY = 0.1
RETRY_MAX_DELAY = 2.0
RETRY_MIN_BUDGET = 0.2  # no retry that could not finish before the deadline
_READ_PREFIXES = ("Get", "List", "Preview", "Check", "Export")
_IDEMPOTENCY_FIELDS = ("request_id", "client_message_id")


def _retryable(method: str, request: Any) -> bool:
    """Reads, and writes that carry a client-chosen request id (the server returns the first
    result on a repeat), may be sent again; anything else might be applied twice."""
    name = method.rsplit("/", 1)[-1]
    if name.startswith(_READ_PREFIXES):
        return True
    for field in _IDEMPOTENCY_FIELDS:
        try:
            if getattr(request, field):
                return True
        except AttributeError:
            continue
    return False


def _locally_cancelled(error: grpc.aio.AioRpcError) -> bool:
    # The application cancelled its own call: not the server's doing, never retried.
    return "Locally cancelled" in (error.details() or "")


def _retry_delay(error: grpc.aio.AioRpcError, fallback: float) -> float:
    """Our backoff, or the server's RetryInfo delay when that is longer (a draining replica says 0:
    another replica may answer at once, but with one address the backoff still paces the retries)."""
    hint = describe(error).retry_after_seconds or 0.0
    return min(max(hint, fallback), RETRY_MAX_DELAY)


def _with_timeout(details: grpc.aio.ClientCallDetails, timeout: float) -> Any:
    return grpc.aio.ClientCallDetails(
        details.method, max(timeout, 0.001), details.metadata, details.credentials, details.wait_for_ready
    )


class _AuthUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]  # grpc ships no type stubs
    def __init__(self, keeper: TokenKeeper, trace_id: str = ""):
        self.keeper = keeper
        self.trace_id = trace_id

    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        if not _retryable(_method_name(client_call_details), request):
            return await self._once(continuation, client_call_details, request)
        # Idempotent (a read, or a create/send carrying its request id): a replica that is draining
        # or lost its store answers UNAVAILABLE, and grpc may cancel a call caught by a server's
        # stop; both are retried with the same request, so the same client id, within the deadline.
        timeout = client_call_details.timeout or DEFAULT_TIMEOUT
        deadline = asyncio.get_running_loop().time() + timeout
        delay = RETRY_FIRST_DELAY
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            remaining = deadline - asyncio.get_running_loop().time()
            details = _with_timeout(client_call_details, remaining)
            try:
                return await self._once(continuation, details, request)
            except grpc.aio.AioRpcError as error:
                wait = _retry_delay(error, delay)
                if (
                    error.code() not in RETRIED_CODES
                    or _locally_cancelled(error)
                    or attempt == RETRY_ATTEMPTS
                    or deadline - asyncio.get_running_loop().time() <= wait + RETRY_MIN_BUDGET
                ):
                    raise
            await asyncio.sleep(wait)
            delay = min(delay * 2, RETRY_MAX_DELAY)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _once(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        if _method_name(client_call_details) in PUBLIC_METHODS:
            return await continuation(_with_auth(client_call_details, None, True, self.trace_id), request)
        token = await self.keeper.token()
        call = await continuation(_with_auth(client_call_details, token, True, self.trace_id), request)
        try:
            return await call
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNAUTHENTICATED or not await self.keeper.refresh(token):
                raise
        # The access token was rejected (expired early, key rotated): one retry with a fresh one.
        token = await self.keeper.token()
        return await (await continuation(_with_auth(client_call_details, token, True, self.trace_id), request))


class _AuthStream:
    """Streams are not replayable, so they only get the (proactively refreshed) token."""

    def __init__(self, keeper: TokenKeeper, trace_id: str = ""):
        self.keeper = keeper
        self.trace_id = trace_id

    async def _details(self, details: grpc.aio.ClientCallDetails) -> Any:
        public = _method_name(details) in PUBLIC_METHODS
        return _with_auth(details, None if public else await self.keeper.token(), False, self.trace_id)


# grpc.aio files each interceptor under the first kind it is an instance of, so one object per kind.
class _AuthUnaryStream(_AuthStream, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]  # grpc ships no type stubs
    async def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await continuation(await self._details(client_call_details), request)


class _AuthStreamUnary(_AuthStream, grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]  # grpc ships no type stubs
    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return await continuation(await self._details(client_call_details), request_iterator)


class _AuthStreamStream(_AuthStream, grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]  # grpc ships no type stubs
    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return await continuation(await self._details(client_call_details), request_iterator)


class Parta:
    """The async SDK. Use as `async with Parta(...) as parta:`; stubs are attributes (`parta.chats`)."""

    def __init__(
        self,
        endpoints: Endpoints | None = None,
        store: SessionStore | None = None,
        session: Session | None = None,
        *,
        trace_id: str = "",
    ):
        """`trace_id` (32 hex digits, see new_trace_id): every call carries it as W3C trace context,
        so with tracing on in the services the whole session is one trace."""
        self.trace_id = trace_id
        self.endpoints = endpoints or Endpoints.from_env()
        self.store = store
        self.keeper = TokenKeeper(store, session if session is not None else (store.load() if store else None))
        self._channels: dict[str, grpc.aio.Channel] = {}

    # -- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Parta:
        self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _channel(self, address: str) -> grpc.aio.Channel:
        interceptors = [
            _AuthUnaryUnary(self.keeper, self.trace_id),
            _AuthUnaryStream(self.keeper, self.trace_id),
            _AuthStreamUnary(self.keeper, self.trace_id),
            _AuthStreamStream(self.keeper, self.trace_id),
        ]
        return grpc.aio.insecure_channel(
            address,
            interceptors=interceptors,
            options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)],
        )

    def open(self) -> None:
        for name in ("identity", "school", "chat", "media_signal", "audit"):
            self._channels[name] = self._channel(getattr(self.endpoints, name))
        identity = self._channels["identity"]
        school = self._channels["school"]
        chat = self._channels["chat"]
        media = self._channels["media_signal"]
        self.auth = auth_pb2_grpc.AuthServiceStub(identity)
        self.profiles = profiles_pb2_grpc.ProfileServiceStub(identity)
        self.guardians = guardians_pb2_grpc.GuardianServiceStub(identity)
        self.account = account_pb2_grpc.AccountServiceStub(identity)
        self.schools = school_pb2_grpc.SchoolServiceStub(school)
        self.classes = school_pb2_grpc.ClassServiceStub(school)
        self.members = school_pb2_grpc.MembershipServiceStub(school)
        self.invites = school_pb2_grpc.InviteServiceStub(school)
        self.join_requests = school_pb2_grpc.JoinRequestServiceStub(school)
        self.timetables = timetable_pb2_grpc.TimetableServiceStub(school)
        self.school_info = school_pb2_grpc.SchoolInfoServiceStub(school)
        self.chats = chat_pb2_grpc.ChatServiceStub(chat)
        self.files = chat_pb2_grpc.FileServiceStub(chat)
        self.announcements = chat_pb2_grpc.AnnouncementServiceStub(chat)
        self.polls = chat_pb2_grpc.PollServiceStub(chat)
        self.materials = chat_pb2_grpc.MaterialServiceStub(chat)
        self.rooms = media_signal_pb2_grpc.RoomServiceStub(media)
        self.signal = media_signal_pb2_grpc.SignalServiceStub(media)
        self.attendance = media_signal_pb2_grpc.AttendanceServiceStub(media)
        self.audit = audit_pb2_grpc.AuditServiceStub(self._channels["audit"])
        # Family export: identity starts one, chat assembles and reports it (docs/cli.md, parta export).
        self.exports = identity_exports_pb2_grpc.ExportServiceStub(identity)
        self.export_progress = chat_exports_pb2_grpc.ExportServiceStub(chat)

        async def refresh(refresh_token: str) -> auth_pb2.RefreshSessionResponse:
            reply: auth_pb2.RefreshSessionResponse = await self.auth.RefreshSession(
                auth_pb2.RefreshSessionRequest(refresh_token=refresh_token)
            )
            return reply

        self.keeper.bind(refresh)

    def signal_at(self, address: str) -> media_signal_pb2_grpc.SignalServiceStub:
        """The signalling stub of the replica that owns a room (CreateJoinToken's `signal_address`):
        rooms are pinned to one media-signal replica, and a join elsewhere is refused."""
        if not address or address == self.endpoints.media_signal:
            return self.signal
        key = f"media_signal@{address}"
        if key not in self._channels:
            self._channels[key] = self._channel(address)
        return media_signal_pb2_grpc.SignalServiceStub(self._channels[key])

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()

    # -- session ---------------------------------------------------------------------------------

    @property
    def session(self) -> Session | None:
        return self.keeper.session

    def require_session(self) -> Session:
        if self.keeper.session is None:
            raise NotSignedIn("not signed in")
        return self.keeper.session

    def save_session(self) -> None:
        self.keeper.set(self.keeper.session)

    async def request_code(self, phone: str, request_id: str | None = None) -> auth_pb2.RequestCodeResponse:
        reply: auth_pb2.RequestCodeResponse = await self.auth.RequestCode(
            auth_pb2.RequestCodeRequest(phone=phone, request_id=request_id or new_request_id())
        )
        return reply

    async def verify_code(
        self, phone: str, challenge_id: str, code: str, device_name: str = "parta-cli"
    ) -> auth_pb2.VerifyCodeResponse:
        reply: auth_pb2.VerifyCodeResponse = await self.auth.VerifyCode(
            auth_pb2.VerifyCodeRequest(challenge_id=challenge_id, code=code, device_name=device_name)
        )
        previous = self.keeper.session
        self.keeper.set(
            Session(
                user_id=reply.user_id,
                phone=normalize_phone(phone),
                access_token=reply.access_token,
                refresh_token=reply.refresh_token,
                access_expires_at=_ts(reply.access_expires_at),
                session_id=reply.session_id,
                # Same person signing in again keeps their chosen school.
                school_id=previous.school_id if previous and previous.user_id == reply.user_id else "",
            )
        )
        return reply

    async def sign_in(
        self, phone: str, codes: DevSmsFile | CodeSource, device_name: str = "parta-cli"
    ) -> auth_pb2.VerifyCodeResponse:
        """Request a code, get it (from the dev SMS file or a callback such as a prompt), verify it."""
        mark = codes.mark() if isinstance(codes, DevSmsFile) else 0
        sent = await self.request_code(phone)
        if isinstance(codes, DevSmsFile):
            code = await codes.wait_code(phone, after_line=mark)
        else:
            code = await codes(phone)
        return await self.verify_code(phone, sent.challenge_id, code.strip(), device_name)

    async def sign_out(self) -> None:
        """Revokes this session at identity (best effort) and forgets it locally."""
        session = self.keeper.session
        if session is None:
            return
        try:
            if session.session_id:
                await self.auth.RevokeSession(auth_pb2.RevokeSessionRequest(session_id=session.session_id))
        finally:
            self.keeper.set(None)

    @staticmethod
    def now() -> float:
        return datetime.now(UTC).timestamp()
