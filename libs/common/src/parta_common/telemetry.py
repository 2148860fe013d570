"""Optional OpenTelemetry tracing, switched on by the standard OTEL_* environment.

Off by default: no tracer provider and no exporter exist, and the edge and the event consumer skip
span work entirely. On when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is
set and OTEL_SDK_DISABLED is not "true": spans go over OTLP/gRPC in batches; the SDK itself reads
the rest of the standard variables (OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_EXPORTER_OTLP_HEADERS …).

One trace follows a request across services: the edge continues the caller's W3C `traceparent`
metadata, every event written through the outbox carries the producing span in its envelope, and
the consumer that handles the event continues from it.

Spans carry method names, status codes, topics and ids only: no tokens, phones or message bodies,
and no user ids (a trace backend is usually kept longer and seen by more people than the logs).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import Span, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")

# Only W3C trace context is propagated: baggage could carry anything a caller puts in it.
_propagator = TraceContextTextMapPropagator()


@dataclass
class Tracing:
    """A service's own tracer provider (never the process-global one, so tests can run several)."""

    provider: TracerProvider
    tracer: Tracer

    async def shutdown(self) -> None:
        # Flushing exports over the network and blocks; keep the event loop free meanwhile.
        await asyncio.to_thread(self.provider.shutdown)


def tracing_enabled(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def tracing_from_env(service: str, *, replica_id: str = "", environ: Mapping[str, str] | None = None) -> Tracing | None:
    """The service's tracing when the environment switches it on, else None."""
    environ = os.environ if environ is None else environ
    if not tracing_enabled(environ):
        return None
    # Imported here: the exporter pulls in its own protobuf modules, which a service with tracing
    # off should not pay for at start-up.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return build_tracing(service, BatchSpanProcessor(OTLPSpanExporter()), replica_id=replica_id)


def build_tracing(service: str, processor: SpanProcessor, *, replica_id: str = "") -> Tracing:
    attributes = {"service.name": f"parta-{service}", "service.namespace": "parta"}
    if replica_id:
        attributes["service.instance.id"] = replica_id
    # Resource.create also merges OTEL_RESOURCE_ATTRIBUTES (e.g. deployment.environment=prod).
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(processor)
    return Tracing(provider=provider, tracer=provider.get_tracer("parta_common"))


def context_from_traceparent(traceparent: str) -> Context | None:
    """The remote parent a `traceparent` value names; None when it is absent or malformed."""
    if not traceparent:
        return None
    context = _propagator.extract({TRACEPARENT: traceparent})
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def current_traceparent() -> str:
    """The active span as a `traceparent` value, or "" when no span is recording one."""
    return format_traceparent(trace.get_current_span())


def format_traceparent(span: Span) -> str:
    context = span.get_span_context()
    if not context.is_valid:
        return ""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def trace_id_of(span: Span) -> str:
    context = span.get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else ""
