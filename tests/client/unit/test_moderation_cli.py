"""`parta reports list|mine|dismiss|act`, `block`/`unblock`/`blocked`, `send --urgent --reason`,
`held list|release`, `urgent-notifications`: what each sends and shows. Fake services on port 0."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.chat.v1 import events_pb2 as chat_events
from parta.identity.v1 import profiles_pb2, profiles_pb2_grpc
from parta.school.v1 import events_pb2 as school_events
from parta.school.v1 import school_pb2, school_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.cli import app
from parta_client.cli.moderation import parse_duration
from typer.testing import CliRunner


class FakeSchools(school_pb2_grpc.SchoolServiceServicer):
    async def ListMySchools(self, request, context):  # type: ignore[no-untyped-def]
        school = school_pb2.School(school_id="s-1", name="Школа № 3")
        return school_pb2.ListMySchoolsResponse(schools=[school_pb2.MySchool(school=school)])


class FakeMembers(school_pb2_grpc.MembershipServiceServicer):
    async def ListMembers(self, request, context):  # type: ignore[no-untyped-def]
        return school_pb2.ListMembersResponse(
            members=[school_events.MembershipSnapshot(user_id=u, school_id="s-1") for u in ("u-p", "u-r")]
        )


class FakeProfiles(profiles_pb2_grpc.ProfileServiceServicer):
    async def BatchGetDisplayNames(self, request, context):  # type: ignore[no-untyped-def]
        names = {"u-p": "Полина Иванова", "u-r": "Роман Петров"}
        return profiles_pb2.BatchGetDisplayNamesResponse(
            names=[profiles_pb2.DisplayName(user_id=u, display_name=names[u]) for u in request.user_ids if u in names]
        )


class FakeChat(chat_pb2_grpc.ChatServiceServicer):
    def __init__(self) -> None:
        self.requests: list[object] = []

    async def ListReports(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        message = chat_events.MessageSnapshot(chat_id="par-5a", seq=7, sender_user_id="u-r", text="грубость")
        report = chat_pb2.ReportView(
            report_id="rep-1",
            school_id="s-1",
            chat_id="par-5a",
            reporter_user_id="u-p",
            reason="оскорбление",
            message=message,
            state=chat_pb2.REPORT_STATE_OPEN,
        )
        return chat_pb2.ListReportsResponse(reports=[report])

    async def ActOnReport(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        return chat_pb2.ActOnReportResponse(report=chat_pb2.ReportView(report_id=request.report_id))

    async def ListMyReports(self, request, context):  # type: ignore[no-untyped-def]
        mine = chat_pb2.MyReport(
            report_id="rep-1",
            state=chat_pb2.REPORT_STATE_ACTIONED,
            outcome=[chat_pb2.REPORT_ACTION_DELETE_MESSAGE, chat_pb2.REPORT_ACTION_MUTE_AUTHOR],
        )
        return chat_pb2.ListMyReportsResponse(reports=[mine])

    async def BlockUser(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        return chat_pb2.BlockUserResponse()

    async def UnblockUser(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        return chat_pb2.UnblockUserResponse()

    async def ListChats(self, request, context):  # type: ignore[no-untyped-def]
        chat = chat_events.ChatSnapshot(chat_id="dm-1", title="Ольга Смирнова", kind=chat_events.CHAT_KIND_DIRECT)
        return chat_pb2.ListChatsResponse(chats=[chat_pb2.ChatView(chat=chat)])

    async def SendMessage(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        return chat_pb2.SendMessageResponse(message=chat_events.MessageSnapshot(seq=3, urgent=request.urgent))

    async def ReleaseHeldMessage(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        return chat_pb2.ReleaseHeldMessageResponse(message=chat_events.MessageSnapshot(seq=request.seq))

    async def SetUrgentNotifications(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        return chat_pb2.SetUrgentNotificationsResponse(urgent_notifications=request.enabled)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[tuple[FakeChat, dict[str, str]]]:
    chat = FakeChat()
    server = grpc.aio.server()
    school_pb2_grpc.add_SchoolServiceServicer_to_server(FakeSchools(), server)
    school_pb2_grpc.add_MembershipServiceServicer_to_server(FakeMembers(), server)
    profiles_pb2_grpc.add_ProfileServiceServicer_to_server(FakeProfiles(), server)
    chat_pb2_grpc.add_ChatServiceServicer_to_server(chat, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    SessionStore(tmp_path, "admin").save(
        Session(user_id="u-a", phone="+79000000002", access_token="a", refresh_token="r")
    )
    env = {
        "PARTA_HOME": str(tmp_path),
        **{f"PARTA_{n}_ADDR": f"127.0.0.1:{port}" for n in ("IDENTITY", "SCHOOL", "CHAT")},
    }
    yield chat, env
    await server.stop(0)


async def parta(env: dict[str, str], *argv: str):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", "admin", *argv], env=env)


def test_durations() -> None:
    assert [parse_duration(t) for t in ("90", "30m", "12h", "7d")] == [90, 1800, 43200, 604800]


async def test_the_queue_by_name_and_the_decisions_sent(services) -> None:  # type: ignore[no-untyped-def]
    chat, env = services
    shown = await parta(env, "reports", "list", "--all")
    assert shown.exit_code == 0, shown.output
    assert "Полина Иванова" in shown.stdout and "Роман Петров" in shown.stdout and "грубость" in shown.stdout
    assert chat.requests[-1] == chat_pb2.ListReportsRequest(school_id="s-1", include_closed=True, limit=50)
    acted = await parta(env, "reports", "act", "rep-1", "--delete", "--mute", "1d", "--note", "оскорбил")
    assert acted.exit_code == 0, acted.output
    assert chat.requests[-1] == chat_pb2.ActOnReportRequest(
        report_id="rep-1",
        actions=[chat_pb2.REPORT_ACTION_DELETE_MESSAGE, chat_pb2.REPORT_ACTION_MUTE_AUTHOR],
        note="оскорбил",
        mute_seconds=86400,
    )
    dismissed = await parta(env, "reports", "dismiss", "rep-2", "--note", "шутка")
    assert dismissed.exit_code == 0, dismissed.output
    assert list(chat.requests[-1].actions) == [chat_pb2.REPORT_ACTION_DISMISS]  # type: ignore[attr-defined]
    nothing = await parta(env, "reports", "act", "rep-1", "--note", "x")
    assert nothing.exit_code == 2
    mine = await parta(env, "--json", "reports", "mine")
    assert json.loads(mine.stdout)["reports"][0]["outcome"] == [
        "REPORT_ACTION_DELETE_MESSAGE",
        "REPORT_ACTION_MUTE_AUTHOR",
    ]


async def test_block_urgent_send_and_release(services) -> None:  # type: ignore[no-untyped-def]
    chat, env = services
    blocked = await parta(env, "block", "Роман Петров")
    assert blocked.exit_code == 0, blocked.output
    assert chat.requests[-1] == chat_pb2.BlockUserRequest(user_id="u-r")
    assert (await parta(env, "unblock", "u-r")).exit_code == 0
    assert chat.requests[-1] == chat_pb2.UnblockUserRequest(user_id="u-r")
    sent = await parta(env, "send", "dm-1", "Аня заболела", "--urgent", "--reason", "температура")
    assert sent.exit_code == 0, sent.output
    request = chat.requests[-1]
    assert isinstance(request, chat_pb2.SendMessageRequest)
    assert request.urgent and request.urgent_reason == "температура"
    released = await parta(env, "held", "release", "dm-1", "5")
    assert released.exit_code == 0 and "Released #5." in released.stdout
    assert chat.requests[-1] == chat_pb2.ReleaseHeldMessageRequest(chat_id="dm-1", seq=5)
    assert (await parta(env, "urgent-notifications", "off")).exit_code == 0
    assert chat.requests[-1] == chat_pb2.SetUrgentNotificationsRequest(enabled=False)
