"""`parta chats`, `send`, `history`, `follow`: chats and their messages."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Annotated

import typer
from parta.chat.v1 import chat_pb2
from parta.chat.v1 import events_pb2 as chat_events

from parta_client.cli.context import Cli, err, grid, out, to_plain, when
from parta_client.cli.lookup import chat_by_ref, chats_of, display_names, school_by_ref
from parta_client.client import Parta, new_request_id

chats_app = typer.Typer(help="Your chats.", no_args_is_help=True)


CHAT_KINDS = {
    chat_events.CHAT_KIND_SCHOOL_CHANNEL: "school channel",
    chat_events.CHAT_KIND_STAFF_CHANNEL: "staff channel",
    chat_events.CHAT_KIND_CLASS: "class",
    chat_events.CHAT_KIND_CLASS_PARENTS: "class parents",
    chat_events.CHAT_KIND_GROUP: "group",
    chat_events.CHAT_KIND_DIRECT: "direct",
}


@chats_app.command("list")
def chats_list(ctx: typer.Context) -> None:
    """Your chats with unread counts."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await school_by_ref(parta, cli.school) if cli.school else ""
        views = await chats_of(parta, school_id)

        def human() -> None:
            table = grid("chat", "kind", "members", "unread", "can post", "chat id")
            for v in views:
                table.add_row(
                    v.chat.title,
                    CHAT_KINDS.get(v.chat.kind, "?"),
                    str(v.chat.member_count),
                    str(v.unread_count or ""),
                    "yes" if v.can_post else "",
                    v.chat.chat_id,
                )
            out().print(table)

        cli.emit(views, human)

    cli.run(action)


def system_text(note: chat_events.SystemNote, names: dict[str, str], lang: str = "") -> str:
    """A system note in the reader's language: Russian unless PARTA_LANG says English ("en").
    The person's current name wins over the one written into the note."""
    english = (lang or os.environ.get("PARTA_LANG", "ru")).lower().startswith("en")
    match note.kind:
        case chat_events.SYSTEM_KIND_MEMBER_JOINED:
            name = names.get(note.subject_user_id) or note.subject_name
            if english:
                return f"{name} joined" if name else "A new member joined"
            return f"В чате новый участник: {name}" if name else "В чате новый участник"
        case chat_events.SYSTEM_KIND_LESSON_STARTED:
            if english:
                return f"Lesson started: {note.title}" if note.title else "Lesson started"
            return f"Урок начался: {note.title}" if note.title else "Урок начался"
        case chat_events.SYSTEM_KIND_LESSON_ENDED:
            if english:
                return f"Lesson ended, {note.count} attended"
            return f"Урок закончился, присутствовали: {note.count}"
        case (
            chat_events.SYSTEM_KIND_LESSON_SCHEDULED
            | chat_events.SYSTEM_KIND_LESSON_CHANGED
            | chat_events.SYSTEM_KIND_LESSON_CANCELLED
        ):
            return _lesson_text(note, english)
        case chat_events.SYSTEM_KIND_MATERIAL_PUBLISHED:
            if not note.title:  # its publisher's account was erased (docs/chat.md "Erasure")
                return "Material published" if english else "Опубликован материал"
            return f"Material published: «{note.title}»" if english else f"Опубликован материал: «{note.title}»"
    return ""


_LESSON_PREFIX = {
    chat_events.SYSTEM_KIND_LESSON_SCHEDULED: ("", "Lesson "),
    chat_events.SYSTEM_KIND_LESSON_CHANGED: ("Урок изменён: ", "Lesson changed: "),
    chat_events.SYSTEM_KIND_LESSON_CANCELLED: ("Урок отменён: ", "Lesson cancelled: "),
}
_MONTHS_GENITIVE = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip


def _lesson_text(note: chat_events.SystemNote, english: bool) -> str:
    """A timetable lesson on the school's wall clock (`local_time`, "2026-12-08 09:00")."""
    russian, en = _LESSON_PREFIX[note.kind]
    when = note.local_time
    if len(when) != 16:
        return f"{en if english else russian}{note.title}".strip()
    if english:
        return f"{en}{note.title} at {when[11:]}, {when[:10]}"
    return f"{russian}{note.title} в {when[11:]}, {int(when[8:10])} {_MONTHS_GENITIVE[int(when[5:7]) - 1]}"


def _people(messages: Sequence[chat_events.MessageSnapshot]) -> list[str]:
    """Whose names the lines show: senders, and the subjects of system notes."""
    ids = [m.sender_user_id for m in messages if m.sender_user_id]
    ids += [m.system_note.subject_user_id for m in messages if m.system_note.subject_user_id]
    return ids


def message_line(message: chat_events.MessageSnapshot, names: dict[str, str]) -> str:
    who = "system" if message.system else names.get(message.sender_user_id, message.sender_user_id[:8])
    if message.author_erased:
        who = "deleted account"  # the author's account was erased (issue 17): nothing of theirs is left
    note = system_text(message.system_note, names) if message.HasField("system_note") else ""
    text = "(deleted)" if message.deleted else note or message.text
    files = f" [files: {', '.join(message.file_ids)}]" if message.file_ids else ""
    edited = " (edited)" if message.edited_at.seconds else ""
    return f"#{message.seq} {when(message.sent_at)} {who}: {text}{files}{edited}"


def send(
    ctx: typer.Context,
    chat: Annotated[str, typer.Argument(help="Chat id, title (5А) or school/staff.")],
    text: str,
    file: Annotated[list[str] | None, typer.Option("--file", help="Attach a stored file (id); repeatable.")] = None,
    reply_to: Annotated[int, typer.Option("--reply-to", help="Seq of the message answered.")] = 0,
    urgent: Annotated[
        bool, typer.Option(help="Deliver now despite quiet hours (admins; parents to a teacher, with --reason).")
    ] = False,
    reason: Annotated[str, typer.Option(help="With --urgent: why it cannot wait.")] = "",
) -> None:
    """Send a message."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(cli, parta, chat)
        reply = await parta.chats.SendMessage(
            chat_pb2.SendMessageRequest(
                chat_id=chat_id,
                client_message_id=new_request_id(),
                text=text,
                reply_to_seq=reply_to,
                file_ids=file or [],
                urgent=urgent,
                urgent_reason=reason,
            )
        )

        def human() -> None:
            out().print(f"Sent #{reply.message.seq}.")
            if reply.deliver_at.seconds:
                out().print(f"Quiet hours: delivered to some members at {when(reply.deliver_at)}.")

        cli.emit(reply, human)

    cli.run(action)


def history(
    ctx: typer.Context,
    chat: Annotated[str, typer.Argument(help="Chat id, title or school/staff.")],
    limit: Annotated[int, typer.Option(help="How many messages (1..100).")] = 20,
    before: Annotated[int, typer.Option(help="Only messages before this seq.")] = 0,
) -> None:
    """The latest messages of a chat."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(cli, parta, chat)
        reply = await parta.chats.ListMessages(
            chat_pb2.ListMessagesRequest(chat_id=chat_id, before_seq=before, limit=limit)
        )
        names = await display_names(parta, _people(reply.messages))

        def human() -> None:
            for message in reply.messages:
                out().print(message_line(message, names), markup=False)

        cli.emit(list(reply.messages), human)

    cli.run(action)


async def follow_chat(
    parta: Parta,
    chat_id: str,
    last: int,
    count: int,
    on_live: Callable[[], None] | None = None,
    on_status: Callable[[bool], None] | None = None,
) -> AsyncIterator[chat_events.MessageSnapshot]:
    """The latest `last` messages, then live ones (new, edited, deleted) until `count` new ones (0: forever).

    The subscription resumes after the newest update of the history page, so a message sent between
    reading the page and the stream being set up is not lost. `on_live` is called once the stream
    answered (the service sends the chat's snapshot and a live marker first); `on_status(degraded)`
    when the service says live delivery stopped (its replica cannot reach Kafka) or is back (what
    was missed then follows on the stream).
    """
    page = await parta.chats.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id, limit=max(last, 1)))
    shown: dict[int, int] = {}
    for message in list(page.messages)[-last:] if last else []:
        shown[message.seq] = message.update_seq
        yield message
    cursor = max((m.update_seq for m in page.messages), default=0)
    newest = max((m.seq for m in page.messages), default=0)
    stream = parta.chats.Subscribe(
        chat_pb2.SubscribeRequest(cursors=[chat_pb2.ChatCursor(chat_id=chat_id, update_seq=cursor)])
    )
    fresh = 0
    try:
        async for event in stream:
            if on_live is not None and event.WhichOneof("event") == "live":
                on_live()
                on_live = None
            if on_status is not None and event.WhichOneof("event") == "live_status":
                on_status(event.live_status.state == chat_pb2.LIVE_STATE_DEGRADED)
            if event.chat_id != chat_id or event.WhichOneof("event") != "message":
                continue
            message = event.message
            if shown.get(message.seq, -1) >= message.update_seq:
                continue  # already shown (history and the resumed stream overlap)
            # Edits, deletions and reactions of older messages are shown again but are not "new".
            is_new = message.seq > newest and message.seq not in shown
            shown[message.seq] = message.update_seq
            yield message
            if is_new:
                fresh += 1
                if count and fresh >= count:
                    return
    finally:
        stream.cancel()


def follow(
    ctx: typer.Context,
    chat: Annotated[str, typer.Argument(help="Chat id, title or school/staff.")],
    count: Annotated[int, typer.Option(help="Stop after this many new messages (0: until Ctrl-C).")] = 0,
    last: Annotated[int, typer.Option(help="Show this many recent messages first.")] = 5,
) -> None:
    """Follow a chat live until Ctrl-C (or --count new messages)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        chat_id = await chat_by_ref(cli, parta, chat)
        names: dict[str, str] = {}

        def live() -> None:
            err().print(f"following {chat} live — Ctrl-C to stop", markup=False)
            sys.stderr.flush()

        def status(degraded: bool) -> None:
            if degraded:
                err().print("live delivery degraded: the service cannot reach its event log; waiting", markup=False)
            else:
                err().print("live again: catching up on what was missed", markup=False)
            sys.stderr.flush()

        async for message in follow_chat(parta, chat_id, last, count, on_live=live, on_status=status):
            unknown = [u for u in _people([message]) if u not in names]
            if unknown:
                names.update(await display_names(parta, unknown))
            if cli.json:
                typer.echo(json.dumps(to_plain(message), ensure_ascii=False))
            else:
                out().print(message_line(message, names), markup=False)
            sys.stdout.flush()

    cli.run(action)
