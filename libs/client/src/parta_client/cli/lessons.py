"""`parta lesson`: lessons of a class."""

from __future__ import annotations

from typing import Annotated

import typer
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2

from parta_client.cli.context import Cli
from parta_client.cli.lookup import class_by_ref, current_school
from parta_client.cli.rooms import (
    add_room_commands,
    create_room,
    room_command,
)
from parta_client.client import Parta, new_request_id

lesson_app = typer.Typer(help="Lessons of a class.", no_args_is_help=True)


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

    async def create(parta: Parta) -> media_signal_pb2.Room:
        school_id = await current_school(cli, parta)
        request = media_signal_pb2.CreateRoomRequest(
            request_id=request_id or new_request_id(),
            school_id=school_id,
            class_id=await class_by_ref(parta, school_id, class_),
            kind=room_events.ROOM_KIND_LESSON,
            title=title,
            waiting_room=waiting_room,
            start_now=now,
        )
        return await create_room(parta, request, at)

    room_command(cli, create)


add_room_commands(
    lesson_app,
    room_events.ROOM_KIND_LESSON,
    listing="Lessons I can join: live first, then by time.",
    class_help="Only this class.",
    start="Start a scheduled lesson (its host).",
    show="A lesson's state, host and class.",
    end="End a lesson for everyone (its host).",
    join="Your grant for a live lesson (its class's students and teachers; admins observe).",
)
