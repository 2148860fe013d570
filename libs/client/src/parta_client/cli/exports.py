"""`parta export request|status|list`: a data export — mine, or my child's (docs/identity.md,
"Family export"; the archive arrives in my files, docs/chat.md "Data exports")."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import grpc
import typer
from parta.chat.v1 import exports_pb2 as progress_pb2
from parta.identity.v1 import exports_pb2

from parta_client.cli.context import Cli, grid, out, when
from parta_client.client import Parta, new_request_id

export_app = typer.Typer(help="Export your data, or your child's, as one archive in your files.", no_args_is_help=True)

STATES = {
    progress_pb2.DATA_EXPORT_STATE_REQUESTED: "requested",
    progress_pb2.DATA_EXPORT_STATE_DELIVERED: "delivered",
}


def describe(export: progress_pb2.DataExport) -> str:
    if export.state == progress_pb2.DATA_EXPORT_STATE_DELIVERED:
        return (
            f"delivered: file {export.file_id} ({export.size_bytes} bytes) — "
            f"parta file download {export.file_id} export.zip"
        )
    got = ", ".join(export.parts) or "none yet"
    return f"requested: parts {export.parts_received} of {export.parts_total} ({got})"


async def _status(parta: Parta, export_id: str) -> progress_pb2.DataExport:
    reply = await parta.export_progress.GetDataExport(progress_pb2.GetDataExportRequest(export_id=export_id))
    export: progress_pb2.DataExport = reply.export
    return export


@export_app.command("request")
def export_request(
    ctx: typer.Context,
    child: Annotated[str, typer.Option("--child", help="Your child's user id (parta guardian children).")] = "",
    wait: Annotated[float, typer.Option("--wait", help="Wait up to this many seconds for the archive.")] = 0.0,
) -> None:
    """Starts an export of your data (or, with --child, of your child's); prints its id."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        started = await parta.exports.RequestDataExport(
            exports_pb2.RequestDataExportRequest(subject_user_id=child, request_id=new_request_id())
        )
        if wait <= 0:
            cli.emit(started, lambda: out().print(f"export {started.export_id} requested", markup=False))
            return
        deadline = time.monotonic() + wait
        while True:
            try:
                export = await _status(parta, started.export_id)
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                export = None  # chat has not heard of it from identity yet
            if export is not None and export.state == progress_pb2.DATA_EXPORT_STATE_DELIVERED:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"export {started.export_id} is not delivered yet: parta export status {started.export_id}"
                )
            await asyncio.sleep(0.5)
        cli.emit(export, lambda: out().print(f"export {started.export_id} {describe(export)}", markup=False))

    cli.run(action)


@export_app.command("status")
def export_status(ctx: typer.Context, export_id: Annotated[str, typer.Argument(help="The export's id.")]) -> None:
    """An export's progress: requested (parts k of 4) or delivered (the archive's file id)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        export = await _status(parta, export_id)
        cli.emit(export, lambda: out().print(describe(export), markup=False))

    cli.run(action)


@export_app.command("list")
def export_list(ctx: typer.Context) -> None:
    """Exports you requested, and exports of your data a guardian made."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        reply = await parta.export_progress.ListDataExports(progress_pb2.ListDataExportsRequest())

        def human() -> None:
            table = grid("export", "when", "of", "state")
            for e in reply.requested:
                table.add_row(e.export_id, when(e.requested_at), e.subject_user_id, describe(e))
            out().print(table)
            for e in reply.about_me:
                out().print(e.notice, markup=False)

        cli.emit(reply, human)

    cli.run(action)
