"""`parta file list --chat | delete | remove | quota`: what each sends and shows. Fake chat and school
services on port 0 (no infrastructure); the rules themselves are tested against the real service in
tests/chat/integration/test_files.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from parta.chat.v1 import chat_pb2, chat_pb2_grpc, events_pb2
from parta.school.v1 import school_pb2, school_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.cli import app
from parta_client.cli.files import parse_size
from typer.testing import CliRunner

CHAT = "cls-5a"


class FakeSchools(school_pb2_grpc.SchoolServiceServicer):
    async def ListMySchools(self, request, context):  # type: ignore[no-untyped-def]
        school = school_pb2.School(school_id="s-1", name="Школа № 3")
        return school_pb2.ListMySchoolsResponse(schools=[school_pb2.MySchool(school=school)])


class FakeChats(chat_pb2_grpc.ChatServiceServicer):
    async def ListChats(self, request, context):  # type: ignore[no-untyped-def]
        chat = events_pb2.ChatSnapshot(chat_id=CHAT, title="5А", kind=events_pb2.CHAT_KIND_CLASS)
        return chat_pb2.ListChatsResponse(chats=[chat_pb2.ChatView(chat=chat)])


class FakeFiles(chat_pb2_grpc.FileServiceServicer):
    def __init__(self) -> None:
        self.requests: list[object] = []
        self.quota = 0

    async def ListChatFiles(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        if not request.page_token:
            return chat_pb2.ListChatFilesResponse(
                files=[chat_pb2.FileInfo(file_id="f-2", filename="урок.mp4")], next_page_token="p2"
            )
        return chat_pb2.ListChatFilesResponse(files=[chat_pb2.FileInfo(file_id="f-1", filename="план.pdf")])

    async def DeleteFile(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        return chat_pb2.DeleteFileResponse(quota_used_bytes=10, quota_bytes=1000)

    async def RemoveAttachment(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        if request.seq == 99:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "only the author or a moderator")
        return chat_pb2.RemoveAttachmentResponse(
            message=events_pb2.MessageSnapshot(
                chat_id=request.chat_id, seq=request.seq, removed_file_ids=[request.file_id]
            )
        )

    def _quota(self) -> chat_pb2.FileQuota:
        return chat_pb2.FileQuota(
            school_id="s-1",
            quota_bytes=self.quota or 1 << 30,
            set_by_school=bool(self.quota),
            min_quota_bytes=100 << 20,
            max_quota_bytes=10 << 30,
            max_file_bytes=256 << 20,
        )

    async def GetFileQuota(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        return chat_pb2.GetFileQuotaResponse(quota=self._quota())

    async def SetFileQuota(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        self.quota = request.quota_bytes
        return chat_pb2.SetFileQuotaResponse(quota=self._quota())


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[FakeFiles, dict[str, str]]]:
    files = FakeFiles()
    server = grpc.aio.server()
    school_pb2_grpc.add_SchoolServiceServicer_to_server(FakeSchools(), server)
    chat_pb2_grpc.add_ChatServiceServicer_to_server(FakeChats(), server)
    chat_pb2_grpc.add_FileServiceServicer_to_server(files, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    SessionStore(tmp_path, "me").save(Session(user_id="u-1", phone="+79000000002", access_token="a", refresh_token="r"))
    env = {
        "PARTA_HOME": str(tmp_path),
        **{f"PARTA_{n}_ADDR": f"127.0.0.1:{port}" for n in ("IDENTITY", "SCHOOL", "CHAT")},
    }
    yield files, env
    await server.stop(0)


async def parta(env: dict[str, str], *argv: str):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", "me", *argv], env=env)


async def test_list_a_chats_files_every_page_by_kind(stack) -> None:  # type: ignore[no-untyped-def]
    files, env = stack
    result = await parta(env, "--json", "file", "list", "--chat", CHAT, "--kind", "media")
    assert result.exit_code == 0, result.output
    assert [f["file_id"] for f in json.loads(result.stdout)["files"]] == ["f-2", "f-1"]
    sent = [r for r in files.requests if isinstance(r, chat_pb2.ListChatFilesRequest)]
    assert [(r.chat_id, r.kind, r.page_token) for r in sent] == [
        (CHAT, chat_pb2.FILE_KIND_MEDIA, ""),
        (CHAT, chat_pb2.FILE_KIND_MEDIA, "p2"),
    ]
    assert (await parta(env, "file", "list", "--chat", CHAT, "--kind", "videos")).exit_code == 2


async def test_delete_and_remove_send_what_was_named(stack) -> None:  # type: ignore[no-untyped-def]
    files, env = stack
    deleted = await parta(env, "file", "delete", "f-1")
    assert deleted.exit_code == 0 and "10 of 1000 bytes used" in deleted.stdout, deleted.output
    removed = await parta(env, "file", "remove", CHAT, "7", "f-2")
    assert removed.exit_code == 0 and "#7" in removed.stdout, removed.output
    refused = await parta(env, "file", "remove", CHAT, "99", "f-2")
    assert refused.exit_code != 0 and "PERMISSION_DENIED" in refused.output
    assert [type(r).__name__ for r in files.requests] == [
        "DeleteFileRequest",
        "RemoveAttachmentRequest",
        "RemoveAttachmentRequest",
    ]
    assert files.requests[1] == chat_pb2.RemoveAttachmentRequest(chat_id=CHAT, seq=7, file_id="f-2")


async def test_quota_shows_and_sets_sizes(stack) -> None:  # type: ignore[no-untyped-def]
    files, env = stack
    shown = await parta(env, "file", "quota")
    assert shown.exit_code == 0 and "the default" in shown.stdout, shown.output
    changed = await parta(env, "file", "quota", "--set", "500M")
    assert changed.exit_code == 0 and "set by the school" in changed.stdout, changed.output
    assert files.requests[-1] == chat_pb2.SetFileQuotaRequest(school_id="s-1", quota_bytes=500 << 20)
    assert (await parta(env, "file", "quota", "--set", "lots")).exit_code == 2


def test_sizes() -> None:
    assert [parse_size(s) for s in ("0", "1048576", "500M", "2G", "1.5G", "512KiB", "10mb")] == [
        0,
        1 << 20,
        500 << 20,
        2 << 30,
        3 << 29,
        512 << 10,
        10 << 20,
    ]
