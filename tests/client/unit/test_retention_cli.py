"""`parta school retention show|set|chats` against fake SchoolService and RetentionService servers on
port 0 (no infrastructure): set sends both values, show prints them, chats lists the stages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.school.v1 import events_pb2 as school_events
from parta.school.v1 import school_pb2, school_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.cli import app
from typer.testing import CliRunner

pytestmark = pytest.mark.unit


class FakeSchools(school_pb2_grpc.SchoolServiceServicer):
    def __init__(self) -> None:
        self.retention = school_events.RetentionPolicy(keep_days=365, archive_grace_days=30)
        self.set_requests: list[school_pb2.SetRetentionPolicyRequest] = []

    async def ListMySchools(self, request, context):  # type: ignore[no-untyped-def]
        school = school_pb2.School(school_id="s-1", name="Школа № 3")
        return school_pb2.ListMySchoolsResponse(schools=[school_pb2.MySchool(school=school)])

    async def GetRetentionPolicy(self, request, context):  # type: ignore[no-untyped-def]
        return school_pb2.GetRetentionPolicyResponse(retention=self.retention)

    async def SetRetentionPolicy(self, request, context):  # type: ignore[no-untyped-def]
        self.set_requests.append(request)
        self.retention = school_events.RetentionPolicy(
            keep_days=request.retention.keep_days or 365, archive_grace_days=request.retention.archive_grace_days or 30
        )
        return school_pb2.SetRetentionPolicyResponse(retention=self.retention)


class FakeRetention(chat_pb2_grpc.RetentionServiceServicer):
    async def ListRetainedChats(self, request, context):  # type: ignore[no-untyped-def]
        archived = chat_pb2.RetainedChat(
            chat_id="cls-11a", title="11А", stage=chat_pb2.RETENTION_STAGE_ARCHIVED, archive_file_id="f-arch"
        )
        archived.counts.messages = 120
        kept = chat_pb2.RetainedChat(chat_id="par-11a", title="11А — родители", stage=chat_pb2.RETENTION_STAGE_KEPT)
        return chat_pb2.ListRetainedChatsResponse(chats=[archived, kept])


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[FakeSchools, dict[str, str]]]:
    fake = FakeSchools()
    server = grpc.aio.server()
    school_pb2_grpc.add_SchoolServiceServicer_to_server(fake, server)
    chat_pb2_grpc.add_RetentionServiceServicer_to_server(FakeRetention(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    SessionStore(tmp_path, "admin").save(
        Session(user_id="u-1", phone="+79000000002", access_token="a", refresh_token="r")
    )
    addresses = {f"PARTA_{n}_ADDR": f"127.0.0.1:{port}" for n in ("IDENTITY", "SCHOOL", "CHAT")}
    yield fake, {"PARTA_HOME": str(tmp_path), **addresses}
    await server.stop(0)


async def parta(env: dict[str, str], *argv: str):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", "admin", *argv], env=env)


async def test_set_show_and_the_chats_of_ended_years(env) -> None:  # type: ignore[no-untyped-def]
    fake, environ = env
    result = await parta(environ, "school", "retention", "set", "--keep-days", "730", "--grace-days", "14")
    assert result.exit_code == 0, result.output
    sent = fake.set_requests[0]
    assert (sent.school_id, sent.retention.keep_days, sent.retention.archive_grace_days) == ("s-1", 730, 14)
    shown = await parta(environ, "school", "retention", "show")
    assert shown.exit_code == 0 and "730 days" in shown.stdout and "14 days" in shown.stdout
    as_json = json.loads((await parta(environ, "--json", "school", "retention", "show")).stdout)
    assert as_json == {"keep_days": 730, "archive_grace_days": 14}
    chats = await parta(environ, "school", "retention", "chats")
    assert chats.exit_code == 0, chats.output
    assert "archived" in chats.stdout and "kept" in chats.stdout and "f-arch" in chats.stdout
    missing = await parta(environ, "school", "retention", "set")
    assert missing.exit_code == 2 and len(fake.set_requests) == 1
