"""`parta school policy show|set`: shows every switch of the current school's policy and sends only
the switches named. A fake SchoolService on port 0 (no infrastructure)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from parta.school.v1 import events_pb2 as school_events
from parta.school.v1 import school_pb2, school_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.cli import app
from typer.testing import CliRunner


class FakeSchools(school_pb2_grpc.SchoolServiceServicer):
    def __init__(self) -> None:
        self.policy = school_events.CommunicationPolicy(
            students_reach_classmates=True, parents_reach_parents=True, calls_with_students=True
        )
        self.set_requests: list[school_pb2.SetSchoolPolicyRequest] = []

    async def ListMySchools(self, request, context):  # type: ignore[no-untyped-def]
        school = school_pb2.School(school_id="s-1", name="Школа № 3")
        return school_pb2.ListMySchoolsResponse(schools=[school_pb2.MySchool(school=school)])

    async def GetSchoolPolicy(self, request, context):  # type: ignore[no-untyped-def]
        return school_pb2.GetSchoolPolicyResponse(policy=self.policy)

    async def SetSchoolPolicy(self, request, context):  # type: ignore[no-untyped-def]
        self.set_requests.append(request)
        self.policy.MergeFrom(request.policy)
        return school_pb2.SetSchoolPolicyResponse(policy=self.policy)


@pytest.fixture
async def schools(tmp_path: Path) -> AsyncIterator[tuple[FakeSchools, dict[str, str]]]:
    fake = FakeSchools()
    server = grpc.aio.server()
    school_pb2_grpc.add_SchoolServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    SessionStore(tmp_path, "admin").save(
        Session(user_id="u-1", phone="+79000000002", access_token="a", refresh_token="r")
    )
    env = {"PARTA_HOME": str(tmp_path), **{f"PARTA_{n}_ADDR": f"127.0.0.1:{port}" for n in ("IDENTITY", "SCHOOL")}}
    yield fake, env
    await server.stop(0)


async def parta(env: dict[str, str], *argv: str):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", "admin", *argv], env=env)


async def test_set_sends_only_the_named_switches_and_show_prints_them_all(schools) -> None:
    fake, env = schools
    result = await parta(env, "school", "policy", "set", "--no-students-reach-classmates")
    assert result.exit_code == 0, result.output
    sent = fake.set_requests[0]
    assert sent.school_id == "s-1"
    assert [(f.name, v) for f, v in sent.policy.ListFields()] == [("students_reach_classmates", False)]
    shown = await parta(env, "school", "policy", "show")
    assert shown.exit_code == 0, shown.output
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in shown.stdout.splitlines() if "│" in line]
    lines = {row[0]: row[1] for row in cells if row[0]}
    assert lines["students-reach-classmates"] == "off"
    assert lines["parents-reach-parents"] == "on" and lines["calls-with-students"] == "on"
    as_json = json.loads((await parta(env, "--json", "school", "policy", "show")).stdout)
    assert as_json["students_reach_classmates"] is False


async def test_set_without_a_switch_is_a_usage_error(schools) -> None:
    fake, env = schools
    result = await parta(env, "school", "policy", "set")
    assert result.exit_code == 2
    assert fake.set_requests == []
