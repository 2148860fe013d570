"""Operators and the vacant admin seat in the CLI: listing vacant schools through every page,
appointing a successor by phone (normalised, masked in the output) or by user id, and the school
view naming the vacancy. A fake SchoolService on port 0 (no infrastructure)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import grpc
import pytest
from parta.common.v1 import types_pb2
from parta.school.v1 import school_pb2, school_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.cli import app
from typer.testing import CliRunner


def vacant(school_id: str, name: str) -> school_pb2.School:
    school = school_pb2.School(school_id=school_id, name=name, region="Тверская область", admin_vacant=True)
    school.admin_vacant_since.FromDatetime(datetime(2026, 11, 1, 12, 0))  # noon: the same date in any timezone
    return school


class FakeSchools(school_pb2_grpc.SchoolServiceServicer):
    def __init__(self) -> None:
        self.appointed: list[school_pb2.AppointAdminRequest] = []
        self.pages: list[str] = []

    async def ListVacantSchools(self, request, context):  # type: ignore[no-untyped-def]
        self.pages.append(request.page.page_token)
        if not request.page.page_token:
            return school_pb2.ListVacantSchoolsResponse(
                schools=[vacant("s-1", "Школа № 3")], page=types_pb2.PageInfo(next_page_token="p2")
            )
        return school_pb2.ListVacantSchoolsResponse(schools=[vacant("s-2", "Школа № 9")])

    async def AppointAdmin(self, request, context):  # type: ignore[no-untyped-def]
        self.appointed.append(request)
        return school_pb2.AppointAdminResponse()

    async def ListMySchools(self, request, context):  # type: ignore[no-untyped-def]
        return school_pb2.ListMySchoolsResponse(schools=[school_pb2.MySchool(school=vacant("s-1", "Школа № 3"))])

    async def GetSchool(self, request, context):  # type: ignore[no-untyped-def]
        return school_pb2.GetSchoolResponse(school=vacant(request.school_id, "Школа № 3"))


@pytest.fixture
async def schools(tmp_path: Path) -> AsyncIterator[tuple[FakeSchools, dict[str, str]]]:
    fake = FakeSchools()
    server = grpc.aio.server()
    school_pb2_grpc.add_SchoolServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    SessionStore(tmp_path, "operator").save(
        Session(user_id="op-1", phone="+79000000001", access_token="a", refresh_token="r")
    )
    env = {"PARTA_HOME": str(tmp_path), **{f"PARTA_{n}_ADDR": f"127.0.0.1:{port}" for n in ("IDENTITY", "SCHOOL")}}
    yield fake, env
    await server.stop(0)


async def parta(env: dict[str, str], *argv: str):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", "operator", *argv], env=env)


async def test_vacant_schools_are_listed_across_pages(schools) -> None:
    fake, env = schools
    result = await parta(env, "school", "vacant")
    assert result.exit_code == 0, result.output
    assert "Школа № 3" in result.stdout and "Школа № 9" in result.stdout and "s-2" in result.stdout
    assert fake.pages == ["", "p2"]
    listed = json.loads((await parta(env, "--json", "school", "vacant")).stdout)
    assert [s["school_id"] for s in listed] == ["s-1", "s-2"] and all(s["admin_vacant"] for s in listed)


async def test_an_operator_appoints_a_successor_by_phone_or_user_id(schools) -> None:
    fake, env = schools
    by_phone = await parta(env, "school", "appoint-admin", "--school", "s-1", "--phone", "8 (999) 123-45-67")
    assert by_phone.exit_code == 0, by_phone.output
    assert fake.appointed[-1] == school_pb2.AppointAdminRequest(school_id="s-1", admin_phone="+79991234567")
    assert "+79991234567" not in by_phone.output and "becomes admin on signing in" in by_phone.stdout
    by_id = await parta(env, "school", "appoint-admin", "u-7", "--school", "s-1")
    assert by_id.exit_code == 0 and fake.appointed[-1] == school_pb2.AppointAdminRequest(school_id="s-1", user_id="u-7")
    both = await parta(env, "school", "appoint-admin", "u-7", "--phone", "+79991234567", "--school", "s-1")
    assert both.exit_code == 2 and len(fake.appointed) == 2


async def test_the_school_view_names_the_vacancy(schools) -> None:
    _, env = schools
    shown = await parta(env, "school", "show", "Школа № 3")
    assert shown.exit_code == 0, shown.output
    assert "vacant since 2026-11-01" in shown.stdout and "an operator appoints a successor" in shown.stdout
