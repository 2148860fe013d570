"""`parta school retention show|set|chats`: how long chats and files of ended academic years are kept,
and which chats are counting down, archived or purged (admins; docs/chat.md "Retention")."""

from __future__ import annotations

from typing import Annotated

import typer
from parta.chat.v1 import chat_pb2
from parta.school.v1 import events_pb2 as school_events
from parta.school.v1 import school_pb2

from parta_client.cli.context import Cli, grid, out, when
from parta_client.cli.lookup import current_school
from parta_client.client import Parta

retention_app = typer.Typer(
    help="Retention of ended academic years: how long their chats and files are kept (admins).", no_args_is_help=True
)

STAGES = {
    chat_pb2.RETENTION_STAGE_KEPT: "kept",
    chat_pb2.RETENTION_STAGE_ARCHIVED: "archived",
    chat_pb2.RETENTION_STAGE_PURGED: "purged",
}


def show_retention(r: school_events.RetentionPolicy) -> None:
    out().print(
        f"Chats of an ended year are kept {r.keep_days} days after the rollover, then archived "
        f"(read-only, hidden, a JSON archive for admins) and purged {r.archive_grace_days} days later."
    )


@retention_app.command("show")
def retention_show(ctx: typer.Context) -> None:
    """The current school's retention."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        reply = await parta.schools.GetRetentionPolicy(school_pb2.GetRetentionPolicyRequest(school_id=school_id))
        cli.emit(reply.retention, lambda: show_retention(reply.retention))

    cli.run(action)


@retention_app.command("set")
def retention_set(
    ctx: typer.Context,
    keep_days: Annotated[int, typer.Option("--keep-days", help="30..3650; 0 = the default (365).")],
    grace_days: Annotated[int, typer.Option("--grace-days", help="7..365; 0 = the default (30).")] = 0,
) -> None:
    """Set both values (a value left out is the default)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        wanted = school_events.RetentionPolicy(keep_days=keep_days, archive_grace_days=grace_days)
        reply = await parta.schools.SetRetentionPolicy(
            school_pb2.SetRetentionPolicyRequest(school_id=school_id, retention=wanted)
        )
        cli.emit(reply.retention, lambda: show_retention(reply.retention))

    cli.run(action)


@retention_app.command("chats")
def retention_chats(
    ctx: typer.Context, limit: Annotated[int, typer.Option("--limit", help="At most this many (1..100).")] = 50
) -> None:
    """Chats of ended years: their stage, when they are archived and purged, and the archive to download
    (`parta file download <archive id> <path>`)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        reply = await parta.retention.ListRetainedChats(
            chat_pb2.ListRetainedChatsRequest(school_id=school_id, page_size=limit)
        )

        def human() -> None:
            if not reply.chats:
                out().print("No chat of an ended year yet.")
                return
            table = grid("chat id", "title", "stage", "archive", "purge", "messages", "archive id")
            for c in reply.chats:
                table.add_row(
                    c.chat_id,
                    c.title,
                    STAGES.get(c.stage, "?"),
                    when(c.archive_at),
                    when(c.purged_at if c.HasField("purged_at") else c.purge_at),
                    str(c.counts.messages) if c.stage != chat_pb2.RETENTION_STAGE_KEPT else "",
                    c.archive_file_id,
                )
            out().print(table)

        cli.emit(reply, human)

    cli.run(action)
