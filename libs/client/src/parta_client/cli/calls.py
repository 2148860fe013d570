"""`parta call`: calls — peer-to-peer for up to 4 people, group calls through the media server
(Janus) for more (up to 100): a staff meeting, a class call (`--chat` with the class chat)."""

from __future__ import annotations

from typing import Annotated

import grpc
import typer
from parta.chat.v1 import chat_pb2
from parta.chat.v1 import events_pb2 as chat_events
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2
from parta.school.v1 import events_pb2 as school_events

from parta_client.cli.context import Cli, err
from parta_client.cli.lookup import all_members, chat_by_ref, current_school, display_names, people_by_ref
from parta_client.cli.rooms import (
    NO_MEDIA,
    Reveal,
    add_room_commands,
    print_join,
)
from parta_client.client import Parta, new_request_id
from parta_client.errors import describe
from parta_client.resolve import UsageError

call_app = typer.Typer(
    help=f"Calls: peer-to-peer for up to 4 people, group calls through the media server for 5 to 100. {NO_MEDIA}",
    no_args_is_help=True,
)
GROUP_CALL_SEATS = 100


async def chat_people(cli: Cli, parta: Parta, chat_ref: str, me: str) -> tuple[chat_pb2.ChatView, list[str]]:
    """Whom a call "with a chat" invites: a direct chat's other person, a class chat's members."""
    chat_id = await chat_by_ref(cli, parta, chat_ref)
    view = (await parta.chats.GetChat(chat_pb2.GetChatRequest(chat_id=chat_id))).chat
    if view.chat.kind == chat_events.CHAT_KIND_DIRECT:
        return view, [view.peer_user_id]
    if view.chat.class_id:
        members = await all_members(parta, view.chat.school_id, view.chat.class_id)
        # The parents' chat of a class calls its parents (and teachers); the class chat its students and teachers.
        parents = view.chat.kind == chat_events.CHAT_KIND_CLASS_PARENTS
        keep = {school_events.CLASS_ROLE_PARENT if parents else school_events.CLASS_ROLE_STUDENT}
        keep |= {school_events.CLASS_ROLE_CLASS_HEAD, school_events.CLASS_ROLE_SUBJECT_TEACHER}
        people = [m.user_id for m in members if m.class_role in keep and m.user_id != me]
        return view, list(dict.fromkeys(people))
    raise UsageError(f"the chat {chat_ref!r} does not list its members to the CLI; name the people instead")


@call_app.command("start")
def call_start(
    ctx: typer.Context,
    people: Annotated[list[str] | None, typer.Argument(help="Whom to call: user ids or names.")] = None,
    chat: Annotated[str, typer.Option(help="Call the other person of a direct chat, or a class chat's people.")] = "",
    title: Annotated[str, typer.Option(help="Shown to the people called (default: their names).")] = "",
    ring: Annotated[bool, typer.Option(help="With --chat: post the room id into the chat.")] = True,
    request_id: Annotated[str, typer.Option("--request-id", help="Idempotency key (a retry returns the call).")] = "",
    group: Annotated[
        bool, typer.Option("--group", help="A group call through the media server even for 4 or fewer people.")
    ] = False,
    reveal: Reveal = False,
) -> None:
    """Start a call now and print what a media client needs to join it (room, grant, ICE servers).

    More than 4 people (you included) make a group call through the media server (up to 100);
    a call of 4 stays peer-to-peer and takes nobody more (CALL_FULL).

    The school's policy decides who may call whom; a refused pair is CONTACT_NOT_ALLOWED.

    Students reach classmates and their teachers; adults reach a student as the teacher or guardian.
    """
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        me = parta.require_session().user_id
        view: chat_pb2.ChatView | None = None
        if chat:
            view, invited = await chat_people(cli, parta, chat, me)
            school_id = view.chat.school_id
        else:
            school_id = await current_school(cli, parta)
            invited = []
        invited += await people_by_ref(parta, school_id, people or [])
        invited = [u for u in dict.fromkeys(invited) if u and u != me]
        if not invited:
            raise UsageError("name whom to call (PERSON …, or --chat CHAT)")
        names = await display_names(parta, [me, *invited])
        room_title = title or ", ".join(names.get(u, "?") for u in [me, *invited])[:200]
        reply = await parta.rooms.CreateRoom(
            media_signal_pb2.CreateRoomRequest(
                request_id=request_id or new_request_id(),
                school_id=school_id,
                kind=room_events.ROOM_KIND_CALL,
                title=room_title,
                invited_user_ids=invited,
                start_now=True,
                max_participants=GROUP_CALL_SEATS if group else 0,
            )
        )
        room = reply.room
        grant = await parta.rooms.CreateJoinToken(media_signal_pb2.CreateJoinTokenRequest(room_id=room.room_id))
        if view is not None and ring:
            # The service has no "ringing": the chat is how the people called learn the room id. The
            # message id comes from the room, so a retried command posts it once.
            try:
                await parta.chats.SendMessage(
                    chat_pb2.SendMessageRequest(
                        chat_id=view.chat.chat_id,
                        client_message_id=f"call-{room.room_id}",
                        text=f"📞 {room.title} — join: parta call join {room.room_id}",
                    )
                )
            except grpc.aio.AioRpcError as error:
                err().print(f"warning: the call is on, but the chat refused the notice: {describe(error).line()}")
        print_join(cli, room, grant, names, reveal)

    cli.run(action)


add_room_commands(
    call_app,
    room_events.ROOM_KIND_CALL,
    listing="Calls I host or am invited to.",
    show="A call's state, host and the people invited.",
    end="End a call for everyone (its host).",
    join="Get your grant for a call you were invited to (checked against the school's policy again).",
)
