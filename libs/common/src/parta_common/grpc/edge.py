"""One server interceptor for the edge concerns of every RPC, in this order:
request ids → metrics → authentication → domain-error mapping → the servicer.

Everything runs inside the wrapped behaviour, so contextvars are set in the task that runs the
servicer, for unary and streaming calls alike.
"""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc
import structlog

from parta_common.auth import Principal, TokenVerifier
from parta_common.errors import DomainError, InvalidArgument, Unauthenticated
from parta_common.grpc import context as ctx
from parta_common.grpc.status import code_of, internal_status, status_code_name, to_grpc_status
from parta_common.metrics import ServiceMetrics

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


class EdgeInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no type stubs
    def __init__(
        self,
        *,
        verifier: TokenVerifier | None,
        public_methods: Iterable[str] = (),
        metrics: ServiceMetrics | None = None,
        principal_check: PrincipalCheck | None = None,
    ):
        self._verifier = verifier
        self._public = ALWAYS_PUBLIC | frozenset(public_methods)
        self._metrics = metrics
        self._principal_check = principal_check

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
        return _wrap(handler, lambda context: self._enter(method, metadata, context), method, self._metrics)

    async def _enter(self, method: str, metadata: dict[str, str], context: grpc.aio.ServicerContext) -> None:
        request_id = metadata.get("x-request-id") or uuid.uuid4().hex
        correlation = metadata.get("x-correlation-id") or request_id
        structlog.contextvars.bind_contextvars(rpc=method, request_id=request_id, correlation_id=correlation)
        ctx.current_correlation_id.set(correlation)
        ctx.current_peer.set(context.peer() or "")
        ctx.current_principal.set(None)
        if method in self._public:
            # Public RPCs still learn who calls when a valid token is sent (e.g. sign-out).
            token = _bearer(metadata)
            if token and self._verifier is not None:
                try:
                    ctx.current_principal.set(await self._verifier.verify(token))
                except Unauthenticated:
                    pass
            return
        if self._verifier is None:
            raise Unauthenticated("authentication is not configured", reason="UNAUTHENTICATED")
        token = _bearer(metadata)
        if not token:
            raise Unauthenticated("missing bearer token", reason="TOKEN_MISSING")
        principal = await self._verifier.verify(token)
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
    if isinstance(error, DomainError):
        status = to_grpc_status(error)
        log.info("rpc_rejected", grpc_code=status_code_name(code_of(error)), reason=error.reason)
    else:
        log.error("rpc_failed", exc_info=error)
        status = internal_status()
    await context.abort(status.code, status.details, status.trailing_metadata)


def _record(metrics: ServiceMetrics | None, method: str, started: float, context: grpc.aio.ServicerContext) -> None:
    if metrics is None:
        return
    code = context.code()
    name = code.name if isinstance(code, grpc.StatusCode) else "OK" if code in (None, 0) else str(code)
    metrics.observe_rpc(method, name, time.perf_counter() - started)


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


def _wrap(
    handler: grpc.RpcMethodHandler, enter: Enter, method: str, metrics: ServiceMetrics | None
) -> grpc.RpcMethodHandler:
    def unary_response(behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def run(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                await enter(context)
                return await behavior(_checked(request_or_iterator), context)
            except (DomainError, Exception) as error:
                if _is_abort(error):
                    raise
                await _fail(context, error, method)
            finally:
                _record(metrics, method, started, context)
                structlog.contextvars.unbind_contextvars("rpc", "request_id", "correlation_id", "user_id")

        return run

    def stream_response(behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def run(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            try:
                await enter(context)
                result = behavior(_checked(request_or_iterator), context)
                if inspect.isasyncgen(result):
                    async for item in result:
                        yield item
                else:
                    await result
            except (DomainError, Exception) as error:
                if _is_abort(error):
                    raise
                await _fail(context, error, method)
            finally:
                _record(metrics, method, started, context)
                structlog.contextvars.unbind_contextvars("rpc", "request_id", "correlation_id", "user_id")

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
