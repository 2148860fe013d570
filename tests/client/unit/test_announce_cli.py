"""`parta announce post|status|remind|confirm|list`: the chat found by title, the deadline in the
school's time, names for the families not confirmed, and the reminder limit as an error with its
retry time. Fake services on port 0."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.chat.v1 import events_pb2 as chat_events
from parta.identity.v1 import profiles_pb2, profiles_pb2_grpc
from parta.school.v1 import school_pb2, school_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.cli import app
from typer.testing import CliRunner

CHAT = chat_events.ChatSnapshot(chat_id="par-5a", school_id="s-1", kind=chat_events.CHAT_KIND_CLASS_PARENTS, title="5А")


class FakeSchools(school_pb2_grpc.SchoolServiceServicer):
    async def GetSchool(self, request, context):  # type: ignore[no-untyped-def]
        return school_pb2.GetSchoolResponse(school=school_pb2.School(school_id="s-1", timezone="Europe/Moscow"))


class FakeProfiles(profiles_pb2_grpc.ProfileServiceServicer):
    async def BatchGetDisplayNames(self, request, context):  # type: ignore[no-untyped-def]
        names = {"kid-4": "Вова Смирнов", "g-4": "Ольга Смирнова", "kid-1": "Аня Ли", "g-1": "Пётр Ли"}
        return profiles_pb2.BatchGetDisplayNamesResponse(
            names=[profiles_pb2.DisplayName(user_id=u, display_name=names[u]) for u in request.user_ids if u in names]
        )


class FakeChats(chat_pb2_grpc.ChatServiceServicer):
    async def ListChats(self, request, context):  # type: ignore[no-untyped-def]
        return chat_pb2.ListChatsResponse(chats=[chat_pb2.ChatView(chat=CHAT)])

    async def GetChat(self, request, context):  # type: ignore[no-untyped-def]
        return chat_pb2.GetChatResponse(chat=chat_pb2.ChatView(chat=CHAT))


class FakeAnnouncements(chat_pb2_grpc.AnnouncementServiceServicer):
    def __init__(self) -> None:
        self.requests: list[object] = []
        self.reminded = False

    async def PostAnnouncement(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        a = chat_pb2.Announcement(chat_id=request.chat_id, seq=7, family_count=5, deadline=request.deadline)
        return chat_pb2.PostAnnouncementResponse(announcement=a)

    async def GetAnnouncementStatus(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        missing = [chat_pb2.AnnouncementFamily(child_user_id="kid-4", guardian_user_ids=["g-4"])]
        return chat_pb2.GetAnnouncementStatusResponse(
            announcement=chat_pb2.Announcement(seq=request.seq, family_count=5, confirmed_count=3), unconfirmed=missing
        )

    async def RemindAnnouncement(self, request, context):  # type: ignore[no-untyped-def]
        if self.reminded:
            delay = any_pb2.Any()
            delay.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=3600)))
            status = status_pb2.Status(
                code=code_pb2.RESOURCE_EXHAUSTED, message="every unconfirmed family was reminded today", details=[delay]
            )
            await context.abort_with_status(rpc_status.to_status(status))
        self.reminded = True
        return chat_pb2.RemindAnnouncementResponse(reminded_child_user_ids=["kid-4"], reminded_user_ids=["g-4"])

    async def ConfirmAnnouncement(self, request, context):  # type: ignore[no-untyped-def]
        done = chat_pb2.FamilyConfirmation(child_user_id="kid-1", already_confirmed=True, confirmed_by_user_id="g-1")
        return chat_pb2.ConfirmAnnouncementResponse(families=[done])


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[tuple[FakeAnnouncements, dict[str, str]]]:
    announcements = FakeAnnouncements()
    server = grpc.aio.server()
    school_pb2_grpc.add_SchoolServiceServicer_to_server(FakeSchools(), server)
    profiles_pb2_grpc.add_ProfileServiceServicer_to_server(FakeProfiles(), server)
    chat_pb2_grpc.add_ChatServiceServicer_to_server(FakeChats(), server)
    chat_pb2_grpc.add_AnnouncementServiceServicer_to_server(announcements, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    SessionStore(tmp_path, "head").save(
        Session(user_id="u-h", phone="+79000000003", access_token="a", refresh_token="r")
    )
    env = {
        "PARTA_HOME": str(tmp_path),
        **{f"PARTA_{n}_ADDR": f"127.0.0.1:{port}" for n in ("IDENTITY", "SCHOOL", "CHAT")},
    }
    yield announcements, env
    await server.stop(0)


async def parta(env: dict[str, str], *argv: str):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", "head", *argv], env=env)


async def test_post_status_remind_confirm(services) -> None:
    fake, env = services
    posted = await parta(env, "announce", "post", "5А", "Собрание в четверг", "--deadline", "2026-12-10T18:00")
    assert posted.exit_code == 0, posted.output
    assert "Posted #7: 5 families asked to confirm" in posted.stdout
    request = fake.requests[0]
    assert isinstance(request, chat_pb2.PostAnnouncementRequest) and request.chat_id == "par-5a"
    assert request.deadline.ToDatetime(UTC) == datetime(2026, 12, 10, 15, 0, tzinfo=UTC)  # 18:00 in Moscow
    status = await parta(env, "announce", "status", "5А", "7")
    assert status.exit_code == 0, status.output
    assert "3 of 5 families confirmed" in status.stdout
    assert "Вова Смирнов" in status.stdout and "Ольга Смирнова" in status.stdout
    as_json = json.loads((await parta(env, "--json", "announce", "status", "5А", "7")).stdout)
    assert as_json["unconfirmed"][0]["child_user_id"] == "kid-4"
    reminded = await parta(env, "announce", "remind", "5А", "7")
    assert reminded.exit_code == 0 and "Reminded 1 families (1 people)" in reminded.stdout
    again = await parta(env, "announce", "remind", "5А", "7")
    assert again.exit_code == 1 and "retry after 3600 s" in again.stderr
    confirmed = await parta(env, "announce", "confirm", "5А", "7")
    assert confirmed.exit_code == 0 and "Аня Ли: already confirmed by Пётр Ли" in confirmed.stdout
