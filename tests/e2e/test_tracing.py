"""Tracing switched on by the environment, across real processes: a sign-in at identity continues
the caller's trace, the event it writes goes through the outbox and Kafka, and school's consumer
span joins the same trace as a child of identity's span. Spans reach an OTLP receiver over gRPC."""

from __future__ import annotations

import uuid

import grpc
import pytest
from opentelemetry.proto.trace.v1 import trace_pb2
from parta.identity.v1 import auth_pb2, auth_pb2_grpc
from parta_common.testing.otlp import OtlpReceiver

from tests.e2e.harness import Stack
from tests.e2e.identity_client import random_phone, read_code


@pytest.fixture
async def receiver():
    async with OtlpReceiver() as r:
        yield r


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):
    s = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        yield s
    finally:
        s.stop_all()


async def test_one_trace_runs_from_an_rpc_through_kafka_to_another_service(stack: Stack, receiver: OtlpReceiver):
    tracing = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    identity = await stack.start("identity", extra=tracing)
    await stack.start("school", extra=tracing)

    trace_id, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    traced = [("traceparent", f"00-{trace_id}-{caller_span}-01")]
    phone = random_phone()
    async with grpc.aio.insecure_channel(identity.address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        sent = await stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone), timeout=10)
        code = await read_code(stack.sms_file, phone)
        signed = await stub.VerifyCode(
            auth_pb2.VerifyCodeRequest(challenge_id=sent.challenge_id, code=code, device_name="tracing"),
            metadata=traced,
            timeout=10,
        )
    assert signed.is_new_user  # so identity wrote UserRegistered inside this call

    (verify,) = await receiver.wait_for(lambda s: s.service == "parta-identity" and s.span.name.endswith("/VerifyCode"))
    assert verify.trace_id == trace_id and verify.parent_span_id == caller_span
    assert verify.span.kind == trace_pb2.Span.SPAN_KIND_SERVER
    assert verify.attribute("rpc.grpc.status_code") == 0

    consumed = await receiver.wait_for(
        lambda s: s.service == "parta-school" and s.trace_id == trace_id and s.attribute("parta.event_type")
    )
    assert {s.attribute("parta.event_type") for s in consumed} >= {"parta.identity.v1.UserRegistered"}
    for span in consumed:
        assert span.span.kind == trace_pb2.Span.SPAN_KIND_CONSUMER
        assert span.parent_span_id == verify.span_id
        assert span.attribute("messaging.system") == "kafka"

    # Neither the phone nor the code nor the token may reach the trace backend.
    exported = b"".join(receiver.payloads)
    for secret in (phone, code, signed.access_token, signed.refresh_token):
        assert secret.encode() not in exported
