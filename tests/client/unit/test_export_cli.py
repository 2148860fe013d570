"""`parta export request|status|list`: whose data is asked for, the progress in words, the refusal's
reason, `--wait` until the archive is there (fake identity and chat on port 0, no infrastructure)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from parta.chat.v1 import exports_pb2 as progress_pb2
from parta.chat.v1 import exports_pb2_grpc as progress_grpc
from parta.identity.v1 import exports_pb2, exports_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.cli import app
from typer.testing import CliRunner

pytestmark = pytest.mark.unit


class FakeIdentity(exports_pb2_grpc.ExportServiceServicer):
    def __init__(self) -> None:
        self.requests: list[exports_pb2.RequestDataExportRequest] = []

    async def RequestDataExport(self, request, context):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        if request.subject_user_id == "stranger-child":
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "you may not export this person's data")
        return exports_pb2.RequestDataExportResponse(
            export_id=f"e-{len(self.requests)}", subject_user_id=request.subject_user_id or "u-t"
        )


class FakeProgress(progress_grpc.ExportServiceServicer):
    def __init__(self) -> None:
        self.asked = 0

    async def GetDataExport(self, request, context):  # type: ignore[no-untyped-def]
        self.asked += 1
        if request.export_id == "unknown":
            await context.abort(grpc.StatusCode.NOT_FOUND, "export not found")
        if self.asked < 3:  # the parts are still coming in
            export = progress_pb2.DataExport(
                export_id=request.export_id,
                state=progress_pb2.DATA_EXPORT_STATE_REQUESTED,
                parts_received=2,
                parts_total=4,
                parts=["profile", "chat"],
            )
        else:
            export = progress_pb2.DataExport(
                export_id=request.export_id,
                state=progress_pb2.DATA_EXPORT_STATE_DELIVERED,
                parts_received=4,
                parts_total=4,
                file_id="f-zip",
                size_bytes=1234,
            )
        return progress_pb2.GetDataExportResponse(export=export)

    async def ListDataExports(self, request, context):  # type: ignore[no-untyped-def]
        notice = "Анна Иванова выгрузил(а) ваши данные 7 декабря 2026: профиль, …"
        return progress_pb2.ListDataExportsResponse(about_me=[progress_pb2.DataExport(export_id="e-9", notice=notice)])


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[tuple[FakeIdentity, FakeProgress, dict[str, str]]]:
    identity, progress = FakeIdentity(), FakeProgress()
    server = grpc.aio.server()
    exports_pb2_grpc.add_ExportServiceServicer_to_server(identity, server)
    progress_grpc.add_ExportServiceServicer_to_server(progress, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    SessionStore(tmp_path, "p").save(Session(user_id="u-t", phone="+79000000005", access_token="a", refresh_token="r"))
    env = {"PARTA_HOME": str(tmp_path), **{f"PARTA_{n}_ADDR": f"127.0.0.1:{port}" for n in ("IDENTITY", "CHAT")}}
    yield identity, progress, env
    await server.stop(0)


async def parta(env: dict[str, str], *argv: str):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", "p", *argv], env=env)


async def test_request_status_and_list(services) -> None:  # type: ignore[no-untyped-def]
    identity, progress, env = services
    own = await parta(env, "export", "request")
    assert own.exit_code == 0 and "export e-1 requested" in own.stdout, own.output
    child = await parta(env, "export", "request", "--child", "misha")
    assert child.exit_code == 0 and "e-2" in child.stdout
    assert [r.subject_user_id for r in identity.requests] == ["", "misha"]
    assert (
        all(r.request_id for r in identity.requests)
        and identity.requests[0].request_id != identity.requests[1].request_id
    )
    refused = await parta(env, "export", "request", "--child", "stranger-child")
    assert refused.exit_code == 1 and "PERMISSION_DENIED" in refused.stderr

    requested = await parta(env, "export", "status", "e-2")
    assert requested.exit_code == 0 and "requested: parts 2 of 4 (profile, chat)" in requested.stdout
    waited = await parta(env, "export", "request", "--child", "misha", "--wait", "30")
    assert waited.exit_code == 0 and "delivered: file f-zip (1234 bytes)" in waited.stdout, waited.output
    assert progress.asked >= 3
    missing = await parta(env, "export", "status", "unknown")
    assert missing.exit_code == 1 and "NOT_FOUND" in missing.stderr
    listed = await parta(env, "export", "list")
    assert listed.exit_code == 0 and "Анна Иванова выгрузил(а) ваши данные" in listed.stdout
