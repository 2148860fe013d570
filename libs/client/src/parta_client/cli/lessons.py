"""`parta lesson`: lessons of a class, and the host's controls of a live one (mute, remove, admit, lock)."""

from __future__ import annotations

from typing import Annotated

import typer
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2

from parta_client.cli.context import Cli
from parta_client.cli.lookup import class_by_ref, current_school
from parta_client.cli.rooms import (
    RoomId,
    act_on_person,
    act_on_room,
    add_room_commands,
    create_room,
    room_command,
    room_people,
)
from parta_client.client import Parta, new_request_id

lesson_app = typer.Typer(help="Lessons of a class.", no_args_is_help=True)

Person = Annotated[str, typer.Argument(help="Who (id or name); they must be in the lesson now.")]


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


@lesson_app.command("people")
def lesson_people(ctx: typer.Context, room_id: RoomId) -> None:
    """Who is in a live lesson (the host also sees the waiting room; joins briefly, no media)."""
    room_people(Cli.of(ctx), room_id)


TRACKS = {
    "audio": media_signal_pb2.TRACK_KIND_AUDIO,
    "video": media_signal_pb2.TRACK_KIND_VIDEO,
    "": media_signal_pb2.TRACK_KIND_UNSPECIFIED,
}


@lesson_app.command("mute")
def lesson_mute(
    ctx: typer.Context,
    room_id: RoomId,
    person: Person,
    track: Annotated[str, typer.Option(help="audio or video (default: both).")] = "",
    off: Annotated[bool, typer.Option("--off", help="Lift your mute (they cannot lift it alone).")] = False,
) -> None:
    """Mute someone's microphone and/or camera in the SFU (the host; joins briefly, no media)."""
    if track not in TRACKS:
        raise typer.BadParameter("audio or video", param_hint="--track")
    verb = media_signal_pb2.HOST_ACTION_TYPE_UNMUTE if off else media_signal_pb2.HOST_ACTION_TYPE_MUTE
    done = f"is {'unmuted' if off else 'muted'} ({track or 'audio and video'})"
    act_on_person(Cli.of(ctx), room_id, person, verb, done, TRACKS[track], noun="lesson")


@lesson_app.command("remove")
def lesson_remove(ctx: typer.Context, room_id: RoomId, person: Person) -> None:
    """Remove someone from the lesson (every device; they may not rejoin while it is live)."""
    act_on_person(Cli.of(ctx), room_id, person, media_signal_pb2.HOST_ACTION_TYPE_REMOVE, "was removed", noun="lesson")


@lesson_app.command("admit")
def lesson_admit(
    ctx: typer.Context,
    room_id: RoomId,
    person: Annotated[str, typer.Argument(help="Who (id or name), waiting to be let in.")],
) -> None:
    """Let someone in from the waiting room (lessons scheduled with --waiting-room)."""
    act_on_person(Cli.of(ctx), room_id, person, media_signal_pb2.HOST_ACTION_TYPE_ADMIT, "was let in", noun="lesson")


@lesson_app.command("lock")
def lesson_lock(
    ctx: typer.Context,
    room_id: RoomId,
    off: Annotated[bool, typer.Option("--off", help="Unlock it.")] = False,
) -> None:
    """Lock a live lesson: no newcomer joins until unlocked; those who were in may come back, the waiting room
    can still be admitted."""
    verb = media_signal_pb2.HOST_ACTION_TYPE_UNLOCK if off else media_signal_pb2.HOST_ACTION_TYPE_LOCK
    act_on_room(Cli.of(ctx), room_id, verb, "is unlocked" if off else "is locked")
