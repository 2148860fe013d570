"""`parta poll`: polls in a chat (create, vote, show, close)."""

from __future__ import annotations

from typing import Annotated

import typer
from parta.chat.v1 import chat_pb2
from parta.school.v1 import school_pb2

from parta_client.cli.context import Cli, grid, out, when
from parta_client.cli.lookup import chat_by_ref
from parta_client.client import Parta, new_request_id
from parta_client.resolve import UsageError, parse_when

poll_app = typer.Typer(help="Polls: ask a chat a question, vote, see the results.", no_args_is_help=True)

ChatRef = Annotated[str, typer.Argument(help="Chat id, title (5А) or school.")]
Seq = Annotated[int, typer.Argument(help="The poll's message seq.")]


def print_poll(poll: chat_pb2.Poll) -> None:
    flags = [
        "multiple choice" if poll.multiple_choice else "one choice",
        "anonymous" if poll.anonymous else "named",
        "one vote per family" if poll.per_family else "one vote per person",
    ]
    state = "closed" if poll.closed else f"closes {when(poll.closes_at)}" if poll.closes_at.seconds else "open"
    out().print(f"#{poll.seq} {poll.question}  ({', '.join(flags)}; {state})", markup=False)
    table = grid("#", "option", "votes", "voters")
    mine = set(poll.my_choices)
    for i, option in enumerate(poll.options):
        votes = str(option.votes) if poll.results_visible else "–"
        mark = " ✓" if i in mine else ""
        table.add_row(str(i + 1), option.text + mark, votes, ", ".join(option.voter_user_ids))
    out().print(table)
    if poll.results_visible:
        out().print(f"{poll.voter_count} voted.")
    else:
        out().print("Results after you vote." if not poll.results_after_close else "Results after the poll closes.")


@poll_app.command("create")
def poll_create(
    ctx: typer.Context,
    chat: ChatRef,
    question: str,
    option: Annotated[list[str], typer.Option("--option", help="An answer; 2 to 10, repeatable.")],
    multiple: Annotated[bool, typer.Option("--multiple", help="Several choices allowed.")] = False,
    anonymous: Annotated[bool, typer.Option("--anonymous", help="Nobody sees who voted for what.")] = False,
    per_family: Annotated[bool, typer.Option("--per-family", help="One vote per family (guardians).")] = False,
    after_close: Annotated[bool, typer.Option("--results-after-close", help="Results only once closed.")] = False,
    closes: Annotated[str, typer.Option(help="Closing time: +2d, or 2026-12-01T18:00 (school's time).")] = "",
) -> None:
    """Create a poll (class teachers and admins)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(cli, parta, chat)
        request = chat_pb2.CreatePollRequest(
            chat_id=chat_id,
            client_message_id=new_request_id(),
            question=question,
            options=option,
            multiple_choice=multiple,
            anonymous=anonymous,
            per_family=per_family,
            results_after_close=after_close,
        )
        if closes:
            view = (await parta.chats.GetChat(chat_pb2.GetChatRequest(chat_id=chat_id))).chat
            school = (await parta.schools.GetSchool(school_pb2.GetSchoolRequest(school_id=view.chat.school_id))).school
            request.closes_at.FromDatetime(parse_when(closes, school.timezone).replace(tzinfo=None))
        reply = await parta.polls.CreatePoll(request)
        cli.emit(reply, lambda: print_poll(reply.poll))

    cli.run(action)


@poll_app.command("vote")
def poll_vote(
    ctx: typer.Context,
    chat: ChatRef,
    seq: Seq,
    choice: Annotated[list[int], typer.Argument(help="Option numbers (1-based), as `poll show` lists them.")],
) -> None:
    """Vote (final: the same vote again is fine, a different one is refused)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        if any(c < 1 for c in choice):
            raise UsageError("option numbers start at 1")
        chat_id = await chat_by_ref(cli, parta, chat)
        reply = await parta.polls.Vote(
            chat_pb2.VoteRequest(chat_id=chat_id, seq=seq, option_indexes=[c - 1 for c in choice])
        )
        cli.emit(reply, lambda: print_poll(reply.poll))

    cli.run(action)


@poll_app.command("show")
def poll_show(ctx: typer.Context, chat: ChatRef, seq: Seq) -> None:
    """A poll, your vote and the results when you may see them."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(cli, parta, chat)
        reply = await parta.polls.GetPoll(chat_pb2.GetPollRequest(chat_id=chat_id, seq=seq))
        cli.emit(reply, lambda: print_poll(reply.poll))

    cli.run(action)


@poll_app.command("close")
def poll_close(ctx: typer.Context, chat: ChatRef, seq: Seq) -> None:
    """Close a poll now (its author and the chat's moderators)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(cli, parta, chat)
        reply = await parta.polls.ClosePoll(chat_pb2.ClosePollRequest(chat_id=chat_id, seq=seq))
        cli.emit(reply, lambda: print_poll(reply.poll))

    cli.run(action)
