"""`parta --trace`: every call of the command carries W3C trace context with one trace id (printed
on stderr), each call its own parent span; without the option no trace context is sent."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from parta.school.v1 import school_pb2, school_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.cli import app
from typer.testing import CliRunner

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")


class FakeSchools(school_pb2_grpc.SchoolServiceServicer):
    def __init__(self) -> None:
        self.traceparents: list[str] = []

    async def ListMySchools(self, request, context):  # type: ignore[no-untyped-def]
        metadata = dict(context.invocation_metadata())
        self.traceparents.append(metadata.get("traceparent", ""))
        school = school_pb2.School(school_id="s-1", name="Школа № 3")
        return school_pb2.ListMySchoolsResponse(schools=[school_pb2.MySchool(school=school)])

    async def GetSchool(self, request, context):  # type: ignore[no-untyped-def]
        self.traceparents.append(dict(context.invocation_metadata()).get("traceparent", ""))
        return school_pb2.GetSchoolResponse(school=school_pb2.School(school_id="s-1", name="Школа № 3"))


@pytest.fixture
async def schools(tmp_path: Path) -> AsyncIterator[tuple[FakeSchools, dict[str, str]]]:
    fake = FakeSchools()
    server = grpc.aio.server()
    school_pb2_grpc.add_SchoolServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    SessionStore(tmp_path, "irina").save(
        Session(user_id="u-1", phone="+79000000002", access_token="a", refresh_token="r")
    )
    yield fake, {"PARTA_HOME": str(tmp_path), "PARTA_SCHOOL_ADDR": f"127.0.0.1:{port}"}
    await server.stop(0)


async def parta(env: dict[str, str], *argv: str):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", "irina", *argv], env=env)


async def test_one_trace_id_for_every_call_of_the_command(schools) -> None:
    fake, env = schools
    result = await parta(env, "--trace", "school", "show", "s-1")
    assert result.exit_code == 0, result.output
    printed = re.search(r"trace ([0-9a-f]{32})", result.stderr)
    assert printed is not None
    parsed = [TRACEPARENT.match(value) for value in fake.traceparents]
    assert len(parsed) >= 2 and all(parsed)
    assert {m.group(1) for m in parsed if m} == {printed.group(1)}
    assert len({m.group(2) for m in parsed if m}) == len(parsed)  # a span id per call


async def test_no_trace_context_without_the_option(schools) -> None:
    fake, env = schools
    result = await parta(env, "school", "show", "s-1")
    assert result.exit_code == 0, result.output
    assert fake.traceparents and set(fake.traceparents) == {""}
    assert "trace " not in result.stderr
