"""A minimal OTLP/gRPC trace receiver on loopback: where the services' exporters send spans in the
tracing end-to-end test and the tracing benchmark, in place of an OpenTelemetry Collector (none is
installable offline here). It speaks the real OTLP protocol and keeps what it receives."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    span: trace_pb2.Span

    @property
    def trace_id(self) -> str:
        return self.span.trace_id.hex()

    @property
    def span_id(self) -> str:
        return self.span.span_id.hex()

    @property
    def parent_span_id(self) -> str:
        return self.span.parent_span_id.hex()

    def attribute(self, key: str) -> Any:
        for item in self.span.attributes:
            if item.key == key:
                value = item.value
                return getattr(value, value.WhichOneof("value") or "string_value")
        return None


@dataclass
class OtlpReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    spans: list[ReceivedSpan] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)
    port: int = 0
    _server: grpc.aio.Server | None = None

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.aio.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.payloads.append(request.SerializeToString())
        for resource_spans in request.resource_spans:
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), ""
            )
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(ReceivedSpan(service, span) for span in scope_spans.spans)
        return trace_service_pb2.ExportTraceServiceResponse()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> OtlpReceiver:
        self._server = grpc.aio.server()
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)  # type: ignore[no-untyped-call]
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            await self._server.stop(0)

    async def wait_for(self, predicate: Callable[[ReceivedSpan], Any], timeout: float = 30.0) -> list[ReceivedSpan]:
        """Spans matching `predicate`, once at least one has arrived."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [s for s in self.spans if predicate(s)]
            if found:
                return found
            if asyncio.get_running_loop().time() > deadline:
                seen = sorted({(s.service, s.span.name) for s in self.spans})
                raise TimeoutError(f"no matching span in {timeout}s; received: {seen}")
            await asyncio.sleep(0.1)
