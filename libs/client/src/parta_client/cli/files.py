"""`parta file`: files in your personal storage, a chat's files, removing them, the school's quota."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Annotated

import typer
from parta.chat.v1 import chat_pb2

from parta_client.cli.context import Cli, out
from parta_client.cli.lookup import chat_by_ref, current_school
from parta_client.client import Parta, new_request_id
from parta_client.resolve import UsageError
from parta_client.uploads import RESUMABLE_ABOVE, upload_file

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
    """Upload a file to your personal storage (and optionally send it into a chat). Files over 8 MiB
    upload resumably: after a broken connection the upload goes on where it stopped."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        reply = await upload_file(
            parta.files,
            path,
            new_request_id(),
            content_type or guess_type(path),
            timeout=UPLOAD_SECONDS,
            resumable=path.stat().st_size > RESUMABLE_ABOVE,
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
def file_list(
    ctx: typer.Context,
    chat: Annotated[str, typer.Option(help="The files shared in this chat instead of your storage.")] = "",
    kind: Annotated[str, typer.Option(help="With --chat: media or documents (default both).")] = "",
) -> None:
    """Your personal storage, or (--chat) the documents and media shared in a chat."""
    cli = Cli.of(ctx)
    kinds = {
        "": chat_pb2.FILE_KIND_UNSPECIFIED,
        "media": chat_pb2.FILE_KIND_MEDIA,
        "documents": chat_pb2.FILE_KIND_DOCUMENT,
    }
    if kind not in kinds:
        raise typer.BadParameter("--kind is media or documents")

    async def action(parta: Parta) -> None:
        if chat:
            chat_id = await chat_by_ref(cli, parta, chat)
            shared: list[chat_pb2.FileInfo] = []
            token = ""
            while True:
                page = await parta.files.ListChatFiles(
                    chat_pb2.ListChatFilesRequest(chat_id=chat_id, kind=kinds[kind], page_size=100, page_token=token)
                )
                shared.extend(page.files)
                token = page.next_page_token
                if not token:
                    break

            def shown() -> None:
                for info in shared:
                    show_file(info)
                if not shared:
                    out().print("No files in this chat.")

            cli.emit({"files": shared}, shown)
            return
        reply = await parta.files.ListFiles(chat_pb2.ListFilesRequest(page_size=100))

        def human() -> None:
            for info in reply.files:
                show_file(info)
            out().print(f"{reply.quota_used_bytes} of {reply.quota_bytes} bytes used")

        cli.emit(reply, human)

    cli.run(action)


@file_app.command("delete")
def file_delete(ctx: typer.Context, file_id: str) -> None:
    """Delete one of your files: out of your storage and out of every message it was sent with."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        reply = await parta.files.DeleteFile(chat_pb2.DeleteFileRequest(file_id=file_id))
        cli.emit(reply, lambda: out().print(f"Deleted. {reply.quota_used_bytes} of {reply.quota_bytes} bytes used."))

    cli.run(action)


@file_app.command("remove")
def file_remove(ctx: typer.Context, chat: str, seq: int, file_id: str) -> None:
    """Take a file off message SEQ of CHAT (its author, or a moderator); it stays in its owner's storage."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(cli, parta, chat)
        reply = await parta.files.RemoveAttachment(
            chat_pb2.RemoveAttachmentRequest(chat_id=chat_id, seq=seq, file_id=file_id)
        )
        cli.emit(reply.message, lambda: out().print(f"Removed from message #{reply.message.seq}."))

    cli.run(action)


_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def parse_size(text: str) -> int:
    """ "500M", "2G", "1048576" → bytes."""
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = value[-1:] if value[-1:] in ("K", "M", "G") else ""
    number = value[: -1 if unit else None]
    try:
        return int(float(number) * _UNITS[unit])
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a size like 500M or 2G") from None


def show_quota(quota: chat_pb2.FileQuota) -> None:
    source = "set by the school" if quota.set_by_school else "the default"
    out().print(
        f"{quota.quota_bytes} bytes per person ({source}); the school may choose "
        f"{quota.min_quota_bytes}..{quota.max_quota_bytes}; files up to {quota.max_file_bytes} bytes",
        markup=False,
    )


@file_app.command("quota")
def file_quota(
    ctx: typer.Context,
    set_to: Annotated[
        str, typer.Option("--set", help='Admins: each person\'s quota, e.g. 500M or 2G; "0" = default.')
    ] = "",
) -> None:
    """The current school's per-person storage quota (admins)."""
    cli = Cli.of(ctx)
    wanted = parse_size(set_to) if set_to else None

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        if wanted is None:
            quota = (await parta.files.GetFileQuota(chat_pb2.GetFileQuotaRequest(school_id=school_id))).quota
        else:
            request = chat_pb2.SetFileQuotaRequest(school_id=school_id, quota_bytes=wanted)
            quota = (await parta.files.SetFileQuota(request)).quota
        cli.emit(quota, lambda: show_quota(quota))

    cli.run(action)
