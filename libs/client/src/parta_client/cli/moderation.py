"""`parta reports`, `block`/`unblock`/`blocked`, `held`, `urgent-notifications`: the school's report
queue, a personal block list of direct messages, and quiet hours' held messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer
from parta.chat.v1 import chat_pb2

from parta_client.cli.context import Cli, grid, out, when
from parta_client.cli.lookup import chat_by_ref, current_school, display_names, person_by_ref
from parta_client.client import Parta
from parta_client.resolve import UsageError

reports_app = typer.Typer(help="Reported messages: the school's queue (admins, class heads) and yours.")
held_app = typer.Typer(help="Messages quiet hours hold (school admins).", no_args_is_help=True)

ACTIONS: dict[int, str] = {
    chat_pb2.REPORT_ACTION_DISMISS: "dismissed",
    chat_pb2.REPORT_ACTION_DELETE_MESSAGE: "message deleted",
    chat_pb2.REPORT_ACTION_MUTE_AUTHOR: "author muted",
    chat_pb2.REPORT_ACTION_REMOVE_FROM_CHAT: "author removed",
}
STATES: dict[int, str] = {
    chat_pb2.REPORT_STATE_OPEN: "open",
    chat_pb2.REPORT_STATE_DISMISSED: "dismissed",
    chat_pb2.REPORT_STATE_ACTIONED: "actioned",
}
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds from "90", "30m", "12h" or "7d"."""
    value = text.strip().lower()
    unit = UNITS.get(value[-1:], 0)
    digits = value[:-1] if unit else value
    if not digits.isdigit():
        raise UsageError(f"not a duration: {text!r} (e.g. 30m, 12h, 7d)")
    return int(digits) * (unit or 1)


def _outcome(actions: Sequence[int]) -> str:
    return ", ".join(ACTIONS.get(a, "?") for a in actions)


@reports_app.command("list")
def reports_list(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Decided reports too.")] = False,
    limit: Annotated[int, typer.Option(help="How many (1..100), newest first.")] = 50,
) -> None:
    """The school's report queue: the message as reported, who reported it, when and why."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        reply = await parta.chats.ListReports(
            chat_pb2.ListReportsRequest(school_id=school_id, include_closed=all_, limit=limit)
        )
        names = await display_names(
            parta,
            [
                u
                for r in reply.reports
                for u in (r.reporter_user_id, r.message.sender_user_id, *(d.moderator_user_id for d in r.decisions))
            ],
        )

        def human() -> None:
            # One block per report: the message as reported is the point, so it is never cut.
            console = out()
            for r in reply.reports:
                author = names.get(r.message.sender_user_id, r.message.sender_user_id)
                reporter = names.get(r.reporter_user_id, r.reporter_user_id)
                console.print(
                    f"{r.report_id}  {STATES.get(r.state, '?')}  {when(r.reported_at)}  {r.chat_id} #{r.message.seq}",
                    markup=False,
                )
                console.print(f"  from {author}, reported by {reporter}: {r.reason}", markup=False)
                console.print(f"  > {r.message.text}", markup=False)
                for d in r.decisions:
                    decided = f"  {_outcome(list(d.actions))} by {names.get(d.moderator_user_id, d.moderator_user_id)}"
                    console.print(f"{decided} {when(d.decided_at)}: {d.note}", markup=False)

        cli.emit(reply, human)

    cli.run(action)


@reports_app.command("mine")
def reports_mine(ctx: typer.Context) -> None:
    """Your own reports and what the school did about them."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        reply = await parta.chats.ListMyReports(chat_pb2.ListMyReportsRequest())

        def human() -> None:
            table = grid("report", "reported", "state", "outcome", "decided", "chat", "seq")
            for r in reply.reports:
                table.add_row(
                    r.report_id,
                    when(r.reported_at),
                    STATES.get(r.state, "?"),
                    _outcome(list(r.outcome)),
                    when(r.decided_at) if r.decided_at.seconds else "",
                    r.chat_id,
                    str(r.seq),
                )
            out().print(table)

        cli.emit(reply, human)

    cli.run(action)


def _decide(cli: Cli, report_id: str, actions: Sequence[int], note: str, mute_seconds: int = 0) -> None:
    async def action(parta: Parta) -> None:
        reply = await parta.chats.ActOnReport(
            chat_pb2.ActOnReportRequest(
                report_id=report_id,
                actions=actions,  # type: ignore[arg-type]
                note=note,
                mute_seconds=mute_seconds,
            )
        )
        cli.emit(reply, lambda: out().print(f"Report {report_id}: {_outcome(actions)}.", markup=False))

    cli.run(action)


@reports_app.command("dismiss")
def reports_dismiss(
    ctx: typer.Context,
    report_id: str,
    note: Annotated[str, typer.Option(help="Why (kept with the decision).")],
) -> None:
    """Dismiss a report: nothing to do about it."""
    _decide(Cli.of(ctx), report_id, [chat_pb2.REPORT_ACTION_DISMISS], note)


@reports_app.command("act")
def reports_act(
    ctx: typer.Context,
    report_id: str,
    note: Annotated[str, typer.Option(help="Why (kept with the decision).")],
    delete: Annotated[bool, typer.Option("--delete", help="Delete the message.")] = False,
    mute: Annotated[str, typer.Option(help="Mute the author in that chat for this long (30m, 12h, 7d).")] = "",
    remove: Annotated[bool, typer.Option("--remove", help="Remove the author from the (group) chat.")] = False,
) -> None:
    """Act on a report: delete the message, mute its author, remove them from a group chat."""
    actions = []
    if delete:
        actions.append(chat_pb2.REPORT_ACTION_DELETE_MESSAGE)
    if mute:
        actions.append(chat_pb2.REPORT_ACTION_MUTE_AUTHOR)
    if remove:
        actions.append(chat_pb2.REPORT_ACTION_REMOVE_FROM_CHAT)
    cli = Cli.of(ctx)
    if not actions:
        raise typer.BadParameter("choose --delete, --mute and/or --remove (or use `parta reports dismiss`)")
    try:
        seconds = parse_duration(mute) if mute else 0
    except UsageError as error:
        raise typer.BadParameter(str(error)) from None
    _decide(cli, report_id, actions, note, seconds)


def block(ctx: typer.Context, person: Annotated[str, typer.Argument(help="User id or name.")]) -> None:
    """Block someone's direct messages to you (they are refused; you can still write to them)."""
    _block(Cli.of(ctx), person, True)


def unblock(ctx: typer.Context, person: Annotated[str, typer.Argument(help="User id or name.")]) -> None:
    """Take someone off your block list."""
    _block(Cli.of(ctx), person, False)


def _block(cli: Cli, person: str, on: bool) -> None:
    async def action(parta: Parta) -> None:
        try:
            user_id = await person_by_ref(parta, await current_school(cli, parta), person)
        except UsageError:
            user_id = person  # not a member you can list (a student, someone who left): the id as given
        if on:
            await parta.chats.BlockUser(chat_pb2.BlockUserRequest(user_id=user_id))
        else:
            await parta.chats.UnblockUser(chat_pb2.UnblockUserRequest(user_id=user_id))
        out().print(f"{'Blocked' if on else 'Unblocked'} {user_id}.", markup=False)

    cli.run(action)


def blocked(ctx: typer.Context) -> None:
    """Your block list and whether urgent messages reach you across quiet hours."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        reply = await parta.chats.GetMyChatSettings(chat_pb2.GetMyChatSettingsRequest())
        names = await display_names(parta, reply.blocked_user_ids)

        def human() -> None:
            for u in reply.blocked_user_ids:
                out().print(f"{names.get(u, '')}  {u}", markup=False)
            out().print(f"Urgent messages reach you at once: {'yes' if reply.urgent_notifications else 'no'}.")

        cli.emit(reply, human)

    cli.run(action)


def urgent_notifications(ctx: typer.Context, state: Annotated[str, typer.Argument(help="on or off")]) -> None:
    """Teachers: whether parents' urgent messages reach you at once outside working hours."""
    if state not in ("on", "off"):
        raise typer.BadParameter("on or off")
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        reply = await parta.chats.SetUrgentNotifications(chat_pb2.SetUrgentNotificationsRequest(enabled=state == "on"))
        cli.emit(reply, lambda: out().print(f"Urgent notifications {state}."))

    cli.run(action)


@held_app.command("list")
def held_list(ctx: typer.Context) -> None:
    """Messages quiet hours still hold in the school (their text is not shown)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        reply = await parta.chats.ListHeldMessages(chat_pb2.ListHeldMessagesRequest(school_id=school_id))
        names = await display_names(parta, [m.sender_user_id for m in reply.messages])

        def human() -> None:
            table = grid("chat", "seq", "from", "until", "urgent")
            for m in reply.messages:
                table.add_row(
                    m.chat_id,
                    str(m.seq),
                    names.get(m.sender_user_id, m.sender_user_id),
                    when(m.held_until),
                    "yes" if m.urgent else "",
                )
            out().print(table)

        cli.emit(reply, human)

    cli.run(action)


@held_app.command("release")
def held_release(
    ctx: typer.Context,
    chat: Annotated[str, typer.Argument(help="Chat id.")],
    seq: Annotated[int, typer.Argument(help="The held message's seq.")],
) -> None:
    """Deliver a held message now."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        chat_id = chat if chat.startswith("dm-") else await chat_by_ref(cli, parta, chat)
        reply = await parta.chats.ReleaseHeldMessage(chat_pb2.ReleaseHeldMessageRequest(chat_id=chat_id, seq=seq))
        cli.emit(reply, lambda: out().print(f"Released #{reply.message.seq}.", markup=False))

    cli.run(action)
