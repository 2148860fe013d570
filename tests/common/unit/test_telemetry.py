"""Optional tracing: switched by the environment, one server span per RPC continuing the caller's
trace, status mapping, log correlation, and the trace carried into event envelopes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import empty_pb2
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from parta.testing.v1 import echo_pb2, echo_pb2_grpc
from parta_common.events.envelope import make_envelope
from parta_common.telemetry import (
    Tracing,
    build_tracing,
    context_from_traceparent,
    current_traceparent,
    tracing_enabled,
    tracing_from_env,
)
from parta_common.testing.echo import echo_runner
from parta_common.testing.fakes import LogCapture, TokenMint

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
CALLER_TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


def test_tracing_is_off_without_an_otlp_endpoint():
    assert tracing_from_env("chat", environ={}) is None
    assert not tracing_enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "})


def test_the_sdk_kill_switch_wins_over_an_endpoint():
    assert not tracing_enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_SDK_DISABLED": "true"})


async def test_an_endpoint_switches_tracing_on_with_the_service_identity():
    environ = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1"}
    tracing = tracing_from_env("chat", replica_id="chat-7", environ=environ)
    assert tracing is not None
    try:
        attributes = tracing.provider.resource.attributes
        assert attributes["service.name"] == "parta-chat"
        assert attributes["service.instance.id"] == "chat-7"
    finally:
        await tracing.shutdown()


def test_a_malformed_traceparent_starts_a_new_trace():
    assert context_from_traceparent("") is None
    assert context_from_traceparent("00-not-a-trace-01") is None
    assert context_from_traceparent(CALLER_TRACEPARENT) is not None


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(spans: InMemorySpanExporter) -> Tracing:
    return build_tracing("echo", SimpleSpanProcessor(spans), replica_id="echo-1")


@pytest.fixture
async def echo(tracing: Tracing) -> AsyncIterator[tuple[echo_pb2_grpc.EchoServiceStub, TokenMint]]:
    keys = TokenMint()
    runner = echo_runner(verifier=keys.verifier(), tracer=tracing.tracer)
    port = await runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield echo_pb2_grpc.EchoServiceStub(channel), keys
    await channel.close()
    await runner.stop()


async def _server_spans(spans: InMemorySpanExporter, method: str, count: int = 1) -> list[ReadableSpan]:
    """The server spans of `method`, once `count` have finished: the server ends a span after the
    status is on its way, so the client can hold the reply first (seen under load in make test-unit)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        found = [s for s in spans.get_finished_spans() if s.name.endswith(f"/{method}")]
        if len(found) >= count or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.01)


async def test_a_call_gets_a_server_span_that_continues_the_callers_trace(echo, spans):
    stub, _ = echo
    await stub.Echo(echo_pb2.EchoRequest(text="hi"), metadata=[("traceparent", CALLER_TRACEPARENT)])
    (span,) = await _server_spans(spans, "Echo")
    assert span.kind is SpanKind.SERVER
    assert f"{span.context.trace_id:032x}" == CALLER_TRACE
    assert span.parent is not None and f"{span.parent.span_id:016x}" == CALLER_SPAN
    assert span.attributes["rpc.system"] == "grpc"
    assert span.attributes["rpc.service"] == "parta.testing.v1.EchoService"
    assert span.attributes["rpc.method"] == "Echo"
    assert span.attributes["rpc.grpc.status_code"] == 0
    assert span.status.status_code is StatusCode.UNSET


async def test_a_call_without_a_caller_trace_starts_its_own(echo, spans):
    stub, _ = echo
    await stub.Echo(echo_pb2.EchoRequest(text="hi"))
    (span,) = await _server_spans(spans, "Echo")
    assert span.parent is None and span.context.trace_id != 0


async def test_caller_errors_leave_the_span_status_unset(echo, spans):
    stub, keys = echo
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.Fail(
            echo_pb2.FailRequest(mode="not_found"), metadata=[("authorization", f"Bearer {keys.token('u1')}")]
        )
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.Fail(echo_pb2.FailRequest(mode="not_found"))  # no token at all
    not_found, unauthenticated = await _server_spans(spans, "Fail", 2)
    assert not_found.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert unauthenticated.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert not_found.status.status_code is StatusCode.UNSET
    assert unauthenticated.status.status_code is StatusCode.UNSET


async def test_a_server_fault_marks_the_span_failed_without_the_exception_text(echo, spans):
    stub, keys = echo
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Fail(echo_pb2.FailRequest(mode="boom"), metadata=[("authorization", f"Bearer {keys.token('u1')}")])
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    (span,) = await _server_spans(spans, "Fail")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.INTERNAL.value[0]
    assert span.attributes["exception.type"] == "RuntimeError"
    exported = repr(span.to_json())
    assert "hunter2" not in exported and "secret internal detail" not in exported


async def test_log_lines_of_a_call_carry_its_trace_id(echo, spans):
    stub, keys = echo
    logs = LogCapture()
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.Fail(
            echo_pb2.FailRequest(mode="not_found"),
            metadata=[("authorization", f"Bearer {keys.token('u1')}"), ("traceparent", CALLER_TRACEPARENT)],
        )
    rejected = [e for e in logs.events if e.get("event") == "rpc_rejected"]
    assert rejected and rejected[0]["trace_id"] == CALLER_TRACE


async def test_an_event_written_inside_a_span_carries_that_span(tracing, spans):
    with tracing.tracer.start_as_current_span("write") as span:
        envelope = _envelope()
        assert envelope.traceparent == current_traceparent()
    context = span.get_span_context()
    assert envelope.traceparent == f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    assert context.trace_flags.sampled


def test_an_event_written_without_tracing_carries_no_trace():
    assert _envelope().traceparent == ""


def _envelope():  # type: ignore[no-untyped-def]
    return make_envelope(
        empty_pb2.Empty(),
        aggregate_type="thing",
        aggregate_id="t1",
        aggregate_version=1,
        producer="test",
        occurred_at=datetime(2026, 9, 1, tzinfo=UTC),
    )
