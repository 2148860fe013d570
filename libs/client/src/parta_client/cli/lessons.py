"""`parta lesson`: lessons of a class."""

from __future__ import annotations

from typing import Annotated

import typer
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2
from parta.school.v1 import school_pb2

from parta_client.cli.context import Cli, out, when
from parta_client.cli.lookup import class_by_ref, current_school
from parta_client.cli.rooms import ENDED_OPTION, ROOM_STATES, Reveal, RoomId, join_room, list_rooms
from parta_client.client import Parta, new_request_id
from parta_client.resolve import parse_when

lesson_app = typer.Typer(help="Lessons of a class.", no_args_is_help=True)


def show_room(room: media_signal_pb2.Room) -> None:
    state = ROOM_STATES.get(room.state, "?")
    at = when(room.started_at) or when(room.scheduled_for)
    out().print(f"{room.title} — {state} {at} (room {room.room_id})")


@lesson_app.command("schedule")
def lesson_schedule(
    ctx: typer.Context,
    class_: Annotated[str, typer.Option("--class", help="The class.")],
    title: Annotated[str, typer.Option(help="e.g. Математика.")],
    at: Annotated[str, typer.Option(help="When: +1h, or 2026-12-01T09:00 (school's time).")] = "",
    now: Annotated[bool, typer.Option("--now", help="Start it right away.")] = False,
    waiting_room: Annotated[bool, typer.Option("--waiting-room")] = False,
    request_id: Annotated[str, typer.Option("--request-id")] = "",
) -> None:
    """Schedule a lesson for a class (its verified teachers, admins)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        class_id = await class_by_ref(parta, school_id, class_)
        request = media_signal_pb2.CreateRoomRequest(
            request_id=request_id or new_request_id(),
            school_id=school_id,
            class_id=class_id,
            kind=room_events.ROOM_KIND_LESSON,
            title=title,
            waiting_room=waiting_room,
            start_now=now,
        )
        if at:
            school = (await parta.schools.GetSchool(school_pb2.GetSchoolRequest(school_id=school_id))).school
            request.scheduled_for.FromDatetime(parse_when(at, school.timezone).replace(tzinfo=None))
        reply = await parta.rooms.CreateRoom(request)
        cli.emit(reply.room, lambda: show_room(reply.room))

    cli.run(action)


@lesson_app.command("start")
def lesson_start(ctx: typer.Context, room_id: str) -> None:
    """Start a scheduled lesson (its host)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        reply = await parta.rooms.StartRoom(media_signal_pb2.StartRoomRequest(room_id=room_id))
        cli.emit(reply.room, lambda: show_room(reply.room))

    cli.run(action)


@lesson_app.command("end")
def lesson_end(ctx: typer.Context, room_id: str) -> None:
    """End a lesson for everyone (its host)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        reply = await parta.rooms.EndRoom(media_signal_pb2.EndRoomRequest(room_id=room_id))
        cli.emit(reply.room, lambda: show_room(reply.room))

    cli.run(action)


@lesson_app.command("list")
def lesson_list(
    ctx: typer.Context,
    class_: Annotated[str, typer.Option("--class", help="Only this class.")] = "",
    ended: Annotated[bool, ENDED_OPTION] = False,
) -> None:
    """Lessons I can join: live first, then by time."""
    cli = Cli.of(ctx)
    list_rooms(cli, room_events.ROOM_KIND_LESSON, class_, ended)


@lesson_app.command("show")
def lesson_show(ctx: typer.Context, room_id: str) -> None:
    """A lesson's state."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        reply = await parta.rooms.GetRoom(media_signal_pb2.GetRoomRequest(room_id=room_id))
        cli.emit(reply.room, lambda: show_room(reply.room))

    cli.run(action)


@lesson_app.command("join")
def lesson_join(ctx: typer.Context, room_id: RoomId, reveal: Reveal = False) -> None:
    """Your grant for a live lesson (its class's students and teachers; admins observe)."""
    cli = Cli.of(ctx)
    cli.run(lambda parta: join_room(cli, parta, room_id, reveal))
