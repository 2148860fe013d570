"""`parta school locale show|set`: set sends UpdateSchool with only the locale in the mask; show
prints the school's locale ("ru" when the school has none yet). A fake SchoolService on port 0."""

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
        self.school = school_pb2.School(school_id="s-1", name="Школа № 3")
        self.updates: list[school_pb2.UpdateSchoolRequest] = []

    async def ListMySchools(self, request, context):  # type: ignore[no-untyped-def]
        return school_pb2.ListMySchoolsResponse(schools=[school_pb2.MySchool(school=self.school)])

    async def GetSchool(self, request, context):  # type: ignore[no-untyped-def]
        return school_pb2.GetSchoolResponse(school=self.school)

    async def UpdateSchool(self, request, context):  # type: ignore[no-untyped-def]
        self.updates.append(request)
        if request.school.locale not in ("ru", "en"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "school.locale: must be one of: ru, en")
        self.school.locale = request.school.locale
        return school_pb2.UpdateSchoolResponse(school=self.school)


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


async def test_set_sends_only_the_locale_and_show_prints_it(schools) -> None:  # type: ignore[no-untyped-def]
    fake, env = schools
    before = await parta(env, "school", "locale", "show")
    assert before.exit_code == 0 and before.stdout.strip() == "ru", before.output
    result = await parta(env, "school", "locale", "set", "en")
    assert result.exit_code == 0, result.output
    sent = fake.updates[0]
    assert (sent.school.school_id, sent.school.locale, list(sent.update_mask.paths)) == ("s-1", "en", ["locale"])
    assert sent.school.name == ""  # nothing else travels
    after = await parta(env, "school", "locale", "show")
    assert after.stdout.strip() == "en"
    assert json.loads((await parta(env, "--json", "school", "locale", "show")).stdout)["locale"] == "en"
    refused = await parta(env, "school", "locale", "set", "fr")
    assert refused.exit_code != 0 and "locale" in refused.output
