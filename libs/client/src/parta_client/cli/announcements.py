"""`parta announce`: announcements every family confirms (post, status, remind, confirm, list)."""

from __future__ import annotations

from typing import Annotated

import typer
from parta.chat.v1 import chat_pb2
from parta.school.v1 import school_pb2

from parta_client.cli.context import Cli, grid, out, when
from parta_client.cli.lookup import chat_by_ref, display_names
from parta_client.client import Parta, new_request_id
from parta_client.resolve import parse_when

announce_app = typer.Typer(
    help="Announcements every family confirms: post one, see who has not confirmed, remind them.",
    no_args_is_help=True,
)

ChatRef = Annotated[str, typer.Argument(help="Chat id, title (5А) or school.")]
Seq = Annotated[int, typer.Argument(help="The announcement's message seq (#N in `parta announce list`).")]


def _name(names: dict[str, str], user_id: str) -> str:
    return names.get(user_id) or user_id


@announce_app.command("post")
def announce_post(
    ctx: typer.Context,
    chat: ChatRef,
    text: str,
    deadline: Annotated[str, typer.Option(help="Confirm by: +2d, or 2026-12-01T18:00 (school's time).")] = "",
    students: Annotated[
        bool, typer.Option("--students-confirm", help="Students may confirm for their own family.")
    ] = False,
    request_id: Annotated[str, typer.Option("--request-id", help="Idempotency key (a retry returns the first).")] = "",
) -> None:
    """Post an announcement that asks every family to confirm (class teachers and admins)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(cli, parta, chat)
        request = chat_pb2.PostAnnouncementRequest(
            chat_id=chat_id, client_message_id=request_id or new_request_id(), text=text, students_confirm=students
        )
        if deadline:
            view = (await parta.chats.GetChat(chat_pb2.GetChatRequest(chat_id=chat_id))).chat
            school = (await parta.schools.GetSchool(school_pb2.GetSchoolRequest(school_id=view.chat.school_id))).school
            request.deadline.FromDatetime(parse_when(deadline, school.timezone).replace(tzinfo=None))
        reply = await parta.announcements.PostAnnouncement(request)
        a = reply.announcement
        due = f", confirm by {when(a.deadline)}" if a.deadline.seconds else ""
        cli.emit(reply, lambda: out().print(f"Posted #{a.seq}: {a.family_count} families asked to confirm{due}."))

    cli.run(action)


@announce_app.command("status")
def announce_status(ctx: typer.Context, chat: ChatRef, seq: Seq) -> None:
    """How many families confirmed, and who has not (the author and the chat's moderators)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(cli, parta, chat)
        reply = await parta.announcements.GetAnnouncementStatus(
            chat_pb2.GetAnnouncementStatusRequest(chat_id=chat_id, seq=seq)
        )

        people = [u for f in reply.unconfirmed for u in (f.child_user_id, *f.guardian_user_ids)]
        names = await display_names(parta, people) if not cli.json else {}

        def human() -> None:
            a = reply.announcement
            closed = " (deadline passed)" if a.closed else ""
            out().print(f"{a.confirmed_count} of {a.family_count} families confirmed{closed}.", markup=False)
            if not reply.unconfirmed:
                return
            table = grid("child", "guardians", "reminded", "child id")
            for f in reply.unconfirmed:
                guardians = ", ".join(_name(names, g) for g in f.guardian_user_ids)
                table.add_row(_name(names, f.child_user_id), guardians, when(f.reminded_at), f.child_user_id)
            out().print("Not confirmed yet:")
            out().print(table)

        cli.emit(reply, human)

    cli.run(action)


@announce_app.command("remind")
def announce_remind(ctx: typer.Context, chat: ChatRef, seq: Seq) -> None:
    """Remind the families that have not confirmed (a direct message; once per family per day)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(cli, parta, chat)
        reply = await parta.announcements.RemindAnnouncement(
            chat_pb2.RemindAnnouncementRequest(chat_id=chat_id, seq=seq)
        )

        def human() -> None:
            out().print(
                f"Reminded {len(reply.reminded_child_user_ids)} families ({len(reply.reminded_user_ids)} people).",
                markup=False,
            )
            if reply.skipped_child_user_ids:
                out().print(f"{len(reply.skipped_child_user_ids)} families were already reminded today.")
            if reply.unreached_user_ids:
                out().print(f"Not reachable by direct message: {', '.join(reply.unreached_user_ids)}", markup=False)

        cli.emit(reply, human)

    cli.run(action)


@announce_app.command("confirm")
def announce_confirm(ctx: typer.Context, chat: ChatRef, seq: Seq) -> None:
    """Confirm an announcement for your family (every child of yours it asks)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(cli, parta, chat)
        reply = await parta.announcements.ConfirmAnnouncement(
            chat_pb2.ConfirmAnnouncementRequest(chat_id=chat_id, seq=seq)
        )

        people = [u for f in reply.families for u in (f.child_user_id, f.confirmed_by_user_id)]
        names = await display_names(parta, people) if not cli.json else {}

        def human() -> None:
            for f in reply.families:
                child = _name(names, f.child_user_id)
                if f.already_confirmed:
                    by = _name(names, f.confirmed_by_user_id)
                    out().print(f"{child}: already confirmed by {by} at {when(f.confirmed_at)}.", markup=False)
                else:
                    out().print(f"{child}: confirmed.", markup=False)

        cli.emit(reply, human)

    cli.run(action)


@announce_app.command("list")
def announce_list(ctx: typer.Context, chat: ChatRef) -> None:
    """The chat's announcements, newest first, with your family's state."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(cli, parta, chat)
        reply = await parta.announcements.ListAnnouncements(chat_pb2.ListAnnouncementsRequest(chat_id=chat_id))

        def human() -> None:
            table = grid("#", "posted", "deadline", "text", "yours")
            for a in reply.announcements:
                mine = ", ".join("confirmed" if f.confirmed else "to confirm" for f in a.my_families)
                table.add_row(str(a.seq), when(a.posted_at), when(a.deadline), a.text[:60], mine)
            out().print(table)

        cli.emit(reply, human)

    cli.run(action)
