"""`parta broadcast`: a few presenters on stage, many viewers."""

from __future__ import annotations

from typing import Annotated

import typer
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2

from parta_client.cli.context import Cli
from parta_client.cli.lookup import class_by_ref, current_school, people_by_ref
from parta_client.cli.rooms import (
    NO_MEDIA,
    RoomId,
    act_on_person,
    add_room_commands,
    create_room,
    room_command,
    room_people,
)
from parta_client.client import Parta, new_request_id

broadcast_app = typer.Typer(
    help=f"Broadcasts: a few presenters on stage, many viewers (parents' meetings, assemblies). {NO_MEDIA}",
    no_args_is_help=True,
)


@broadcast_app.command("schedule")
def broadcast_schedule(
    ctx: typer.Context,
    title: Annotated[str, typer.Option(help="e.g. Родительское собрание 5А.")],
    class_: Annotated[str, typer.Option("--class", help="A class's (its parents); default: the school.")] = "",
    at: Annotated[str, typer.Option(help="When: +1h, or 2026-12-01T18:00 (school's time).")] = "",
    now: Annotated[bool, typer.Option("--now", help="Start it right away.")] = False,
    presenter: Annotated[
        list[str] | None, typer.Option("--presenter", help="On stage from the start (id or name); repeatable.")
    ] = None,
    max_participants: Annotated[int, typer.Option("--max-participants", help="0: the default (300).")] = 0,
    waiting_room: Annotated[bool, typer.Option("--waiting-room")] = False,
    request_id: Annotated[str, typer.Option("--request-id", help="Idempotency key (a retry returns the room).")] = "",
) -> None:
    """Schedule a broadcast (verified staff; a class's one: its teachers or an admin)."""
    cli = Cli.of(ctx)

    async def create(parta: Parta) -> media_signal_pb2.Room:
        school_id = await current_school(cli, parta)
        class_id = await class_by_ref(parta, school_id, class_) if class_ else ""
        request = media_signal_pb2.CreateRoomRequest(
            request_id=request_id or new_request_id(),
            school_id=school_id,
            class_id=class_id,
            kind=room_events.ROOM_KIND_BROADCAST,
            title=title,
            max_participants=max_participants,
            waiting_room=waiting_room,
            presenter_user_ids=await people_by_ref(parta, school_id, presenter or []),
            start_now=now,
        )
        return await create_room(parta, request, at)

    room_command(cli, create)


add_room_commands(
    broadcast_app,
    room_events.ROOM_KIND_BROADCAST,
    listing="Broadcasts I can watch or present in.",
    class_help="Only this class's meetings.",
    start="Go live (the host).",
    show="A broadcast's state, host, audience and presenters.",
    end="End a broadcast for everyone (the host).",
    join="Your grant for a live broadcast: host, presenter (publish) or viewer (subscribe only).",
)


@broadcast_app.command("people")
def broadcast_people(ctx: typer.Context, room_id: RoomId) -> None:
    """Who is in a live broadcast: on stage, viewers, raised hands.

    Joins briefly without media. Hosts also see the waiting room.
    """
    room_people(Cli.of(ctx), room_id)


@broadcast_app.command("stage")
def broadcast_stage(
    ctx: typer.Context,
    room_id: RoomId,
    person: Annotated[str, typer.Argument(help="Who (id or name); they must be in the broadcast now.")],
    off: Annotated[bool, typer.Option("--off", help="Take them off the stage (back to viewer).")] = False,
) -> None:
    """Put someone who is watching on stage (publish) or take them off (the host; joins briefly, no media)."""
    verb = media_signal_pb2.HOST_ACTION_TYPE_DEMOTE if off else media_signal_pb2.HOST_ACTION_TYPE_PROMOTE
    done = "is off the stage" if off else "is on stage"
    act_on_person(Cli.of(ctx), room_id, person, verb, done, noun="broadcast")
