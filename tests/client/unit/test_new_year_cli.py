"""`parta school new-year`: sends the year for the current school and prints what moved up and what
graduated. A fake SchoolService on port 0 (no infrastructure)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from parta.school.v1 import school_pb2, school_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.cli import app
from typer.testing import CliRunner


class FakeSchools(school_pb2_grpc.SchoolServiceServicer):
    def __init__(self) -> None:
        self.started: list[school_pb2.StartAcademicYearRequest] = []

    async def ListMySchools(self, request, context):  # type: ignore[no-untyped-def]
        school = school_pb2.School(school_id="s-1", name="Школа № 3", academic_year="2026/2027")
        return school_pb2.ListMySchoolsResponse(schools=[school_pb2.MySchool(school=school)])

    async def StartAcademicYear(self, request, context):  # type: ignore[no-untyped-def]
        self.started.append(request)
        return school_pb2.StartAcademicYearResponse(
            school=school_pb2.School(school_id=request.school_id, academic_year=request.academic_year),
            previous_academic_year="2026/2027",
            promoted=[
                school_pb2.SchoolClass(class_id="c-5a", grade=6, letter="А", title="6А"),
                school_pb2.SchoolClass(class_id="c-10b", grade=11, letter="Б", title="11Б"),
            ],
            graduated=[school_pb2.SchoolClass(class_id="c-11a", grade=11, letter="А", title="11А", archived=True)],
        )


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


async def test_new_year_prints_the_promoted_and_graduated_classes(schools) -> None:
    fake, env = schools
    result = await parta(env, "school", "new-year", "2027/2028")
    assert result.exit_code == 0, result.output
    assert "2026/2027 → 2027/2028" in result.stdout
    assert "5А" in result.stdout and "6А" in result.stdout and "10Б" in result.stdout
    assert "graduated" in result.stdout and "c-11a" in result.stdout
    assert "2 moved up, 1 graduated" in result.stdout
    assert [(r.school_id, r.academic_year) for r in fake.started] == [("s-1", "2027/2028")]
    assert fake.started[0].request_id  # a retry-safe id is always sent
    shown = json.loads((await parta(env, "--json", "school", "new-year", "2027/2028")).stdout)
    assert [c["title"] for c in shown["graduated"]] == ["11А"]
