"""One server interceptor for the edge concerns of every RPC, in this order:
trace span (when tracing is on) → request ids and the client's address → metrics →
authentication (verified-token cache → revocation deny-set → the service's own check) →
domain-error mapping → the servicer.

Open server streams are registered per session: when the deny-set learns that a session was
revoked (or its account deleted), the edge ends those streams UNAUTHENTICATED.

Everything runs inside the wrapped behaviour, so contextvars are set in the task that runs the
servicer, for unary and streaming calls alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

import grpc
import structlog
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from parta_common.auth import Principal, TokenVerifier
from parta_common.errors import DomainError, InvalidArgument, Unauthenticated, Unavailable
from parta_common.grpc import context as ctx
from parta_common.grpc.forwarded import Network, client_address
from parta_common.grpc.status import code_of, internal_status, status_code_name, to_grpc_status
from parta_common.metrics import ServiceMetrics
from parta_common.outages import outage_of, store_budget
from parta_common.revocation import RevocationList, RevokedKind, account_deleted, session_revoked
from parta_common.telemetry import TRACEPARENT, context_from_traceparent, trace_id_of

log = structlog.get_logger("parta.grpc")

# RPCs every client may call without a token.
ALWAYS_PUBLIC = frozenset(
    {
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    }
)

PrincipalCheck = Callable[[Principal], Awaitable[None]]


def _metadata(details: grpc.HandlerCallDetails) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in details.invocation_metadata or ():
        if isinstance(value, str):
            out[key.lower()] = value
    return out


DRAINING_REASON = "SERVER_DRAINING"


def _draining_error() -> Unavailable:
    # Retry at once: the client's next attempt reaches another replica (this one left the endpoints).
    return Unavailable(
        "this replica is shutting down; reconnect or retry", reason=DRAINING_REASON, retry_after_seconds=0.0
    )


class _Calls:
    """The calls in flight at this edge, so a drain can end streams at once and wait for unary calls."""

    def __init__(self) -> None:
        self.draining = False
        self.unary = 0
        self.streams: set[asyncio.Task[Any]] = set()
        self.ended: set[asyncio.Task[Any]] = set()
        self.changed = asyncio.Event()

    def done(self) -> None:
        self.changed.set()

    async def drain(self, grace: float) -> None:
        self.draining = True
        for task in list(self.streams):
            self.ended.add(task)
            task.cancel(DRAINING_REASON)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.unary or self.streams:
            self.changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning("drain_grace_exceeded", unary=self.unary, streams=len(self.streams))
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=remaining)


class _OpenStream:
    __slots__ = ("error", "principal", "task", "yielding")

    def __init__(self, principal: Principal, task: asyncio.Task[Any]):
        self.principal = principal
        self.task = task
        self.error: Unauthenticated | None = None
        # True while a response is handed to grpc: a cancellation then would land in grpc's own
        # send path (which does not end the call our way), so the wrapper checks `error` as soon
        # as grpc asks for the next response instead.
        self.yielding = False


class StreamRegistry:
    """Open server streams by session and by user, so a revocation can end them at once."""

    def __init__(self) -> None:
        self._by_session: dict[str, set[_OpenStream]] = {}
        self._by_user: dict[str, set[_OpenStream]] = {}

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_session.values())

    def open(self, principal: Principal) -> _OpenStream | None:
        task = asyncio.current_task()
        if task is None:
            return None
        stream = _OpenStream(principal, task)
        self._by_session.setdefault(principal.session_id, set()).add(stream)
        self._by_user.setdefault(principal.user_id, set()).add(stream)
        return stream

    def close(self, stream: _OpenStream) -> None:
        for table, key in ((self._by_session, stream.principal.session_id), (self._by_user, stream.principal.user_id)):
            streams = table.get(key)
            if streams is not None:
                streams.discard(stream)
                if not streams:
                    del table[key]

    def revoked(self, kind: RevokedKind, key: str) -> None:
        """A RevocationList listener: cancel the streams; each ends itself with the error."""
        table = self._by_session if kind is RevokedKind.SESSION else self._by_user
        error = session_revoked() if kind is RevokedKind.SESSION else account_deleted()
        for stream in list(table.get(key, ())):
            if stream.error is None:
                stream.error = error
                if not stream.yielding:
                    stream.task.cancel()


class EdgeInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no type stubs
    def __init__(
        self,
        *,
        verifier: TokenVerifier | None,
        public_methods: Iterable[str] = (),
        metrics: ServiceMetrics | None = None,
        principal_check: PrincipalCheck | None = None,
        tracer: Tracer | None = None,
        revocations: RevocationList | None = None,
        trusted_proxies: tuple[Network, ...] = (),
    ):
        self._verifier = verifier
        self._public = ALWAYS_PUBLIC | frozenset(public_methods)
        self._metrics = metrics
        self._principal_check = principal_check
        self._tracer = tracer
        self._calls = _Calls()
        self._revocations = revocations
        self._trusted_proxies = trusted_proxies
        self.streams = StreamRegistry()
        if revocations is not None:
            revocations.subscribe(self.streams.revoked)

    async def drain(self, grace: float) -> None:
        """Shutdown, before the server stops: refuse new calls with UNAVAILABLE `SERVER_DRAINING`,
        end every open stream the same way at once (clients reconnect elsewhere; a stream would
        otherwise hold the drain for the whole grace and then end CANCELLED), and wait up to
        `grace` seconds for the unary calls in flight to complete."""
        await self._calls.drain(grace)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        metadata = _metadata(handler_call_details)
        return _wrap(
            handler,
            lambda context: self._enter(method, metadata, context),
            method,
            self._metrics,
            lambda: self._span(method, metadata),
            self._calls,
            method not in ALWAYS_PUBLIC,
            self.streams,
        )

    def _span(self, method: str, metadata: dict[str, str]) -> AbstractContextManager[Span | None]:
        if self._tracer is None:
            return contextlib.nullcontext()
        service, _, name = method.lstrip("/").partition("/")
        return self._tracer.start_as_current_span(
            method.lstrip("/"),
            context=context_from_traceparent(metadata.get(TRACEPARENT, "")),
            kind=SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
            # Exception texts may quote secrets or personal data; _finish_span records the type only.
            record_exception=False,
            set_status_on_exception=False,
        )

    async def _enter(self, method: str, metadata: dict[str, str], context: grpc.aio.ServicerContext) -> None:
        request_id = metadata.get("x-request-id") or uuid.uuid4().hex
        correlation = metadata.get("x-correlation-id") or request_id
        structlog.contextvars.bind_contextvars(rpc=method, request_id=request_id, correlation_id=correlation)
        ctx.current_correlation_id.set(correlation)
        peer = context.peer() or ""
        ctx.current_peer.set(peer)
        ctx.current_client_address.set(client_address(peer, metadata, self._trusted_proxies))
        ctx.current_principal.set(None)
        if method in self._public:
            # Public RPCs still learn who calls when a valid token is sent (e.g. sign-out).
            token = _bearer(metadata)
            if token and self._verifier is not None:
                try:
                    principal = await self._verifier.verify(token)
                    if self._revocations is not None:
                        self._revocations.check(principal)
                    ctx.current_principal.set(principal)
                except Unauthenticated:
                    pass
            return
        if self._verifier is None:
            raise Unauthenticated("authentication is not configured", reason="UNAUTHENTICATED")
        token = _bearer(metadata)
        if not token:
            raise Unauthenticated("missing bearer token", reason="TOKEN_MISSING")
        principal = await self._verifier.verify(token)
        if self._revocations is not None:
            self._revocations.check(principal)  # after the cache: revocation always wins
        if self._principal_check is not None:
            await self._principal_check(principal)
        ctx.current_principal.set(principal)
        structlog.contextvars.bind_contextvars(user_id=principal.user_id)


def _bearer(metadata: dict[str, str]) -> str:
    value = metadata.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


Enter = Callable[[grpc.aio.ServicerContext], Awaitable[None]]


async def _fail(context: grpc.aio.ServicerContext, error: BaseException, method: str) -> None:
    outage = None if isinstance(error, DomainError) else outage_of(error)
    if isinstance(error, DomainError):
        status = to_grpc_status(error)
        log.info("rpc_rejected", grpc_code=status_code_name(code_of(error)), reason=error.reason)
    elif outage is not None:
        # A dependency is down or slower than the caller's deadline: the client may retry (same
        # request id), so this is UNAVAILABLE with RetryInfo, never INTERNAL.
        status = to_grpc_status(outage)
        log.warning("rpc_dependency_unavailable", reason=outage.reason, error=type(error).__name__)
    else:
        log.error("rpc_failed", exc_info=error)
        status = internal_status()
    await context.abort(status.code, status.details, status.trailing_metadata)


def _time_remaining(context: grpc.aio.ServicerContext) -> float | None:
    remaining = context.time_remaining()
    # grpc reports "no deadline" as None or as a huge number, depending on the version.
    return remaining if isinstance(remaining, float | int) and remaining < 86_400 else None


def _status_code(context: grpc.aio.ServicerContext) -> grpc.StatusCode | None:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    return grpc.StatusCode.OK if code in (None, 0) else None


def _record(metrics: ServiceMetrics | None, method: str, started: float, context: grpc.aio.ServicerContext) -> None:
    if metrics is None:
        return
    code = _status_code(context)
    metrics.observe_rpc(method, code.name if code is not None else str(context.code()), time.perf_counter() - started)


# Codes that mean the server failed (OpenTelemetry's RPC conventions); the others are the caller's
# doing, such as INVALID_ARGUMENT or PERMISSION_DENIED, and leave the span's status unset.
_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def _start_span(span: Span | None) -> None:
    if span is not None:
        # Log lines of this call carry the trace id, so an operator can jump from a log to its trace.
        structlog.contextvars.bind_contextvars(trace_id=trace_id_of(span))


def _finish_span(span: Span | None, context: grpc.aio.ServicerContext, error: BaseException | None) -> None:
    if span is None:
        return
    code = _status_code(context)
    if error is not None and not _is_abort(error) and not isinstance(error, DomainError):
        code = grpc.StatusCode.INTERNAL
        span.set_attribute("exception.type", type(error).__name__)
    if code is not None:
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code in _SERVER_FAULTS:
            span.set_status(Status(StatusCode.ERROR, code.name))


class _Malformed:
    """Stands in for a request whose bytes did not parse, so the edge can answer INVALID_ARGUMENT
    (after authentication) instead of grpc's UNKNOWN with the parser's exception text."""


_MALFORMED = _Malformed()


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:
            return _MALFORMED

    return parse


def _malformed_error() -> InvalidArgument:
    return InvalidArgument([], message="the request is not a valid message", reason="MALFORMED_REQUEST")


async def _checked_stream(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        if request is _MALFORMED:
            raise _malformed_error()
        yield request


def _checked(request_or_iterator: Any) -> Any:
    if request_or_iterator is _MALFORMED:
        raise _malformed_error()
    if hasattr(request_or_iterator, "__aiter__"):
        return _checked_stream(request_or_iterator)
    return request_or_iterator


_CALL_LOG_KEYS = ("rpc", "request_id", "correlation_id", "user_id", "trace_id")


def _wrap(
    handler: grpc.RpcMethodHandler,
    enter: Enter,
    method: str,
    metrics: ServiceMetrics | None,
    open_span: Callable[[], AbstractContextManager[Span | None]],
    calls: _Calls,
    refused_while_draining: bool,
    streams: StreamRegistry,
) -> grpc.RpcMethodHandler:
    def unary_response(behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def run(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            calls.unary += 1
            with open_span() as span:
                failure: BaseException | None = None
                try:
                    _start_span(span)
                    if calls.draining and refused_while_draining:
                        raise _draining_error()
                    await enter(context)
                    with store_budget(_time_remaining(context)):
                        return await behavior(_checked(request_or_iterator), context)
                except (DomainError, Exception) as error:
                    failure = error
                    if _is_abort(error):
                        raise
                    await _fail(context, error, method)
                finally:
                    calls.unary -= 1
                    calls.done()
                    _record(metrics, method, started, context)
                    _finish_span(span, context, failure)
                    structlog.contextvars.unbind_contextvars(*_CALL_LOG_KEYS)

        return run

    def stream_response(behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def run(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            task = asyncio.current_task()
            if task is not None:
                calls.streams.add(task)
            with open_span() as span:
                failure: BaseException | None = None
                stream = None
                try:
                    _start_span(span)
                    if calls.draining:
                        raise _draining_error()
                    await enter(context)
                    principal = ctx.current_principal.get()
                    if principal is not None:
                        stream = streams.open(principal)
                    result = behavior(_checked(request_or_iterator), context)
                    if inspect.isasyncgen(result):
                        async for item in result:
                            if stream is None:
                                yield item
                                continue
                            stream.yielding = True
                            try:
                                yield item
                            finally:
                                stream.yielding = False
                            if stream.error is not None:
                                raise stream.error
                    else:
                        await result
                    if stream is not None and stream.error is not None:
                        raise stream.error  # the servicer swallowed the cancellation
                except (DomainError, Exception) as error:
                    failure = error
                    if _is_abort(error):
                        raise
                    await _fail(context, error, method)
                except asyncio.CancelledError:
                    if stream is not None and stream.error is not None:
                        # Ended by a revocation of its session or account.
                        failure = stream.error
                        if task is not None:
                            task.uncancel()
                        await _fail(context, stream.error, method)
                    elif task is None or task not in calls.ended:
                        raise  # the client went away, or the server is stopping hard
                    else:
                        # Ended by the drain: tell the client to reconnect instead of a bare CANCELLED.
                        task.uncancel()
                        await _fail(context, _draining_error(), method)
                finally:
                    if stream is not None:
                        streams.close(stream)
                    if task is not None:
                        calls.streams.discard(task)
                        calls.ended.discard(task)
                    calls.done()
                    _record(metrics, method, started, context)
                    _finish_span(span, context, failure)
                    structlog.contextvars.unbind_contextvars(*_CALL_LOG_KEYS)

        return run

    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            unary_response(handler.unary_unary), _tolerant(handler.request_deserializer), handler.response_serializer
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            unary_response(handler.stream_unary), _tolerant(handler.request_deserializer), handler.response_serializer
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            stream_response(handler.unary_stream), _tolerant(handler.request_deserializer), handler.response_serializer
        )
    return grpc.stream_stream_rpc_method_handler(
        stream_response(handler.stream_stream), _tolerant(handler.request_deserializer), handler.response_serializer
    )


def _is_abort(error: BaseException) -> bool:
    # context.abort() raises AbortError; it already carries the status we want the client to see.
    return isinstance(error, grpc.aio.AbortError)
