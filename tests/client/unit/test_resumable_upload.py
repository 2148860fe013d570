"""`parta file upload` of a large file, and `upload_file(resumable=True)`: a stream that breaks with
UNAVAILABLE goes on from the offset chat reports, a bounded number of times; small files stay plain.
A fake FileService on port 0 (no infrastructure); chat's side is tested in
tests/chat/integration/test_resumable_uploads.py."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

import grpc
import pytest
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta_client import Session, SessionStore, uploads
from parta_client.cli import app
from parta_client.uploads import upload_file
from typer.testing import CliRunner

pytestmark = pytest.mark.unit

BLOCK = 100_000  # what the fake keeps of a broken stream: whole blocks


class BreakingFiles(chat_pb2_grpc.FileServiceServicer):
    """Keeps whole blocks; the first `breaks` streams end UNAVAILABLE after `break_after` bytes."""

    def __init__(self, breaks: int, break_after: int) -> None:
        self.breaks, self.break_after = breaks, break_after
        self.stored = b""
        self.metadata: list[chat_pb2.UploadMetadata] = []
        self.starts: list[int] = []
        self.status_calls = 0

    async def UploadFile(self, request_iterator, context):  # type: ignore[no-untyped-def]
        first = await anext(aiter(request_iterator))
        meta = first.metadata
        self.metadata.append(meta)
        await context.send_initial_metadata((uploads.ACCEPTED,))
        received = b""
        start = None
        async for part in request_iterator:
            if start is None:
                start = part.chunk.offset
                self.starts.append(start)
                if start != len(self.stored):
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "chunk.offset")
            received += part.chunk.data
            if self.breaks and len(received) >= self.break_after:
                self.breaks -= 1
                whole = len(received) - len(received) % BLOCK
                self.stored += received[:whole]
                await context.abort(grpc.StatusCode.UNAVAILABLE, "connection lost")
        self.stored += received
        assert len(self.stored) == meta.size_bytes
        info = chat_pb2.FileInfo(
            file_id="f-1",
            filename=meta.filename,
            size_bytes=meta.size_bytes,
            sha256_hex=hashlib.sha256(self.stored).hexdigest(),
        )
        return chat_pb2.UploadFileResponse(file=info)

    async def GetUploadStatus(self, request, context):  # type: ignore[no-untyped-def]
        self.status_calls += 1
        return chat_pb2.GetUploadStatusResponse(received_bytes=len(self.stored), size_bytes=0)


async def serve(files: BreakingFiles) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    chat_pb2_grpc.add_FileServiceServicer_to_server(files, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "resume_pause", lambda attempt: 0.0)


async def test_the_cli_uploads_a_large_file_resumably_across_broken_streams(tmp_path: Path) -> None:
    data = os.urandom(uploads.RESUMABLE_ABOVE + 1_234_567)
    path = tmp_path / "lesson.mp4"
    path.write_bytes(data)
    files = BreakingFiles(breaks=2, break_after=3_000_000)
    server, port = await serve(files)
    try:
        SessionStore(tmp_path, "me").save(
            Session(user_id="u-1", phone="+79000000002", access_token="a", refresh_token="r")
        )
        env = {
            "PARTA_HOME": str(tmp_path),
            **{f"PARTA_{n}_ADDR": f"127.0.0.1:{port}" for n in ("IDENTITY", "SCHOOL", "CHAT")},
        }
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["-p", "me", "--json", "file", "upload", str(path)], env=env
        )
    finally:
        await server.stop(0)
    assert result.exit_code == 0, (result.output, result.exception)
    assert json.loads(result.stdout)["file"]["sha256_hex"] == hashlib.sha256(data).hexdigest()
    assert files.stored == data
    assert [m.resumable for m in files.metadata] == [True, True, True]
    assert len({m.request_id for m in files.metadata}) == 1
    # Each resume starts where the broken stream's whole blocks end (3,145,728 bytes sent: 3,100,000 kept).
    assert files.starts == [0, 3_100_000, 6_200_000] and files.status_calls == 2


async def test_small_files_stay_plain_and_resumes_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(os.urandom(700_000))
    plain = BreakingFiles(breaks=0, break_after=0)
    server, port = await serve(plain)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = chat_pb2_grpc.FileServiceStub(channel)
            await upload_file(stub, path, "r-1", "text/plain", timeout=10)
    finally:
        await server.stop(0)
    assert [m.resumable for m in plain.metadata] == [False]
    broken = BreakingFiles(breaks=100, break_after=BLOCK)
    server, port = await serve(broken)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = chat_pb2_grpc.FileServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await upload_file(stub, path, "r-2", "text/plain", timeout=10, resumable=True, resumes=2)
    finally:
        await server.stop(0)
    # The last failure as grpc reported it: a write into a call chat ended is INTERNAL (grpc#36066).
    assert err.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)
    assert len(broken.metadata) == 3 and broken.status_calls == 2
    assert broken.starts == [0, 200_000, 400_000]  # 262,144 bytes a stream: 200,000 kept
