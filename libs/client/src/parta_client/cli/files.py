"""`parta file`: files in your personal storage."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Annotated

import typer
from parta.chat.v1 import chat_pb2

from parta_client.cli.context import Cli, out
from parta_client.cli.lookup import chat_by_ref
from parta_client.client import Parta, new_request_id
from parta_client.resolve import UsageError
from parta_client.uploads import upload_file

file_app = typer.Typer(help="Files in your personal storage.", no_args_is_help=True)

UPLOAD_SECONDS = 300.0


def guess_type(path: Path) -> str:
    import mimetypes

    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def show_file(info: chat_pb2.FileInfo) -> None:
    out().print(
        f"{info.file_id}  {info.filename}  {info.size_bytes} bytes  {info.content_type}  sha256 {info.sha256_hex}",
        markup=False,
    )


@file_app.command("upload")
def file_upload(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    content_type: Annotated[str, typer.Option("--content-type")] = "",
    chat: Annotated[str, typer.Option(help="Also send it into this chat.")] = "",
    text: Annotated[str, typer.Option(help="Message text when sending into a chat.")] = "",
) -> None:
    """Upload a file to your personal storage (and optionally send it into a chat)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        reply = await upload_file(
            parta.files, path, new_request_id(), content_type or guess_type(path), timeout=UPLOAD_SECONDS
        )
        sent = None
        if chat:
            chat_id = await chat_by_ref(cli, parta, chat)
            sent = await parta.chats.SendMessage(
                chat_pb2.SendMessageRequest(
                    chat_id=chat_id,
                    client_message_id=new_request_id(),
                    text=text or path.name,
                    file_ids=[reply.file.file_id],
                )
            )

        def human() -> None:
            show_file(reply.file)
            if sent is not None:
                out().print(f"Sent into the chat as #{sent.message.seq}.")

        cli.emit({"file": reply.file, "message": sent.message if sent else None}, human)

    cli.run(action)


@file_app.command("download")
def file_download(ctx: typer.Context, file_id: str, path: Annotated[Path, typer.Argument(dir_okay=True)]) -> None:
    """Download a file (yours, or shared in one of your chats); checks its SHA-256."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        info: chat_pb2.FileInfo | None = None
        target = path
        digest = hashlib.sha256()
        partial: Path | None = None
        handle = None
        try:
            async for part in parta.files.DownloadFile(chat_pb2.DownloadFileRequest(file_id=file_id), timeout=300):
                if part.WhichOneof("part") == "info":
                    info = part.info
                    if target.is_dir():
                        target = target / Path(info.filename).name
                    partial = target.with_name(f".{target.name}.part")
                    handle = partial.open("wb")
                elif handle is not None:
                    handle.write(part.chunk.data)
                    digest.update(part.chunk.data)
            if handle is not None:
                handle.close()
                handle = None
            if info is None or partial is None:
                raise UsageError("the service sent no file")
            if info.sha256_hex and digest.hexdigest() != info.sha256_hex:
                raise UsageError("download corrupted: SHA-256 does not match; try again")
            os.replace(partial, target)
            partial = None
        finally:
            if handle is not None:
                handle.close()
            if partial is not None:
                partial.unlink(missing_ok=True)
        cli.emit({"file": info, "path": str(target)}, lambda: out().print(f"Saved {target} ({info.size_bytes} bytes)."))

    cli.run(action)


@file_app.command("list")
def file_list(ctx: typer.Context) -> None:
    """Your personal storage."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        reply = await parta.files.ListFiles(chat_pb2.ListFilesRequest(page_size=100))

        def human() -> None:
            for info in reply.files:
                show_file(info)
            out().print(f"{reply.quota_used_bytes} of {reply.quota_bytes} bytes used")

        cli.emit(reply, human)

    cli.run(action)
