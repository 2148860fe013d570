"""What lessons, calls and broadcasts share: creating, listing, starting, ending and printing a room
(`room_command`: one room in, the room with names out), the grant to join it, the commands every kind
of room has (`add_room_commands`), and moderating a live room (who is in it, host actions on a person or
on the room)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC
from typing import Annotated

import typer
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2
from parta.school.v1 import school_pb2

from parta_client.cli.context import Cli, grid, out, when
from parta_client.cli.lookup import class_by_ref, current_school, display_names, every_page
from parta_client.client import Parta
from parta_client.config import Endpoints
from parta_client.resolve import Candidate, UsageError, parse_when, pick
from parta_client.signalling import SignalSession, refused

# The CLI is a control panel for rooms: it creates, starts, ends and shows them and prints the grant a
# media client needs to join, but carries no audio or video itself (that takes WebRTC).
NO_MEDIA = "The CLI sets rooms up and prints what a media client needs to join; it sends no audio or video."


ROOM_STATES = {1: "scheduled", 2: "live", 3: "ended"}


async def rooms_of(
    cli: Cli, parta: Parta, kind: room_events.RoomKind.ValueType, class_ref: str, ended: bool
) -> list[media_signal_pb2.Room]:
    """Every room of one kind in the current school that I could join, through all pages."""
    school_id = await current_school(cli, parta)
    class_id = await class_by_ref(parta, school_id, class_ref) if class_ref else ""
    states = [media_signal_pb2.ROOM_STATE_ENDED] if ended else []
    return await every_page(
        lambda page: parta.rooms.ListRooms(
            media_signal_pb2.ListRoomsRequest(
                school_id=school_id, class_id=class_id, kinds=[kind], states=states, page=page
            )
        ),
        "rooms",
    )


def print_rooms(rooms: list[media_signal_pb2.Room]) -> None:
    table = grid("room id", "title", "state", "when")
    for room in rooms:
        at = when(room.ended_at) if room.state == media_signal_pb2.ROOM_STATE_ENDED else when(room.started_at)
        table.add_row(room.room_id, room.title, ROOM_STATES.get(room.state, "?"), at or when(room.scheduled_for))
    out().print(table)


def list_rooms(cli: Cli, kind: room_events.RoomKind.ValueType, class_ref: str, ended: bool) -> None:
    async def action(parta: Parta) -> None:
        rooms = await rooms_of(cli, parta, kind, class_ref, ended)
        cli.emit(rooms, lambda: print_rooms(rooms))

    cli.run(action)


ENDED_OPTION = typer.Option("--ended", help="Ended ones instead of live and scheduled.")


ROOM_KINDS = {
    room_events.ROOM_KIND_CALL: "call",
    room_events.ROOM_KIND_LESSON: "lesson",
    room_events.ROOM_KIND_BROADCAST: "broadcast",
}
MEDIA_MODES = {media_signal_pb2.MEDIA_MODE_P2P: "peer-to-peer", media_signal_pb2.MEDIA_MODE_SFU: "through the SFU"}
HIDDEN = "hidden"


def grant_words(grants: media_signal_pb2.Grants) -> str:
    words = [
        word
        for word, granted in (
            ("host", grants.is_host),
            ("publish", grants.can_publish),
            ("subscribe", grants.can_subscribe),
            ("data", grants.can_publish_data),
        )
        if granted
    ]
    if grants.can_subscribe and not grants.can_publish:
        words.append("(viewer)")
    return ", ".join(words) or "none"


def redact_join(
    reply: media_signal_pb2.CreateJoinTokenResponse, reveal: bool
) -> media_signal_pb2.CreateJoinTokenResponse:
    """The join grant and TURN passwords are credentials: shown only when asked for (--reveal)."""
    copy = media_signal_pb2.CreateJoinTokenResponse()
    copy.CopyFrom(reply)
    if not reveal:
        copy.token = ""
        for server in copy.ice_servers:
            server.credential = ""
    return copy


def join_lines(
    reply: media_signal_pb2.CreateJoinTokenResponse, signal_fallback: str, reveal: bool, now: float | None = None
) -> list[str]:
    """What a media client needs to join: where to signal, the grant, its expiry, ICE/TURN servers."""
    moment = reply.expires_at.ToDatetime(UTC)
    left = moment.timestamp() - (Parta.now() if now is None else now)
    lines = [
        f"Signalling: {reply.signal_address or signal_fallback} (SignalService.Signal; first message join{{token}})",
        f"Grant: {grant_words(reply.grants)}; expires {moment.astimezone():%H:%M:%S} (in {max(left, 0):.0f} s)",
        f"Token: {reply.token}" if reveal else f"Token: {HIDDEN} ({len(reply.token)} characters; --reveal prints it)",
        "ICE servers:" if reply.ice_servers else "ICE servers: none (the service has no STUN/TURN configured)",
    ]
    for server in reply.ice_servers:
        line = f"  {' '.join(server.urls)}"
        if server.username:
            line += f"  username {server.username}  credential {server.credential if reveal else HIDDEN}"
        lines.append(line)
    return lines


def room_lines(room: media_signal_pb2.Room, names: dict[str, str]) -> list[str]:
    def who(user_id: str) -> str:
        return names.get(user_id) or user_id

    kind = ROOM_KINDS.get(room.kind, "room")
    state = ROOM_STATES.get(room.state, "?")
    lines = [f"{room.title} — {kind}, {state}, {MEDIA_MODES.get(room.media_mode, '?')} (room {room.room_id})"]
    lines.append(f"Host: {who(room.host_user_id)}")
    if room.class_id:
        lines.append(f"Class: {room.class_id}")
    elif room.kind == room_events.ROOM_KIND_BROADCAST:
        lines.append("Audience: the whole school")
    if room.invited_user_ids:
        lines.append(f"Invited: {', '.join(who(u) for u in room.invited_user_ids)}")
    if room.presenter_user_ids:
        lines.append(f"Presenters: {', '.join(who(u) for u in room.presenter_user_ids)}")
    times = [
        (label, when(ts))
        for label, ts in (("scheduled", room.scheduled_for), ("started", room.started_at), ("ended", room.ended_at))
    ]
    shown = [f"{label} {value}" for label, value in times if value]
    if shown:
        lines.append(", ".join(shown).capitalize())
    extra = f"At most {room.max_participants} participants"
    lines.append(extra + (", waiting room" if room.waiting_room else ""))
    if room.screen_share == media_signal_pb2.SCREEN_SHARE_POLICY_HOSTS:
        lines.append("Screen sharing: the host, and whom the host allows")
    return lines


def print_lines(lines: Iterable[str]) -> None:
    console = out()
    for line in lines:
        console.print(line, markup=False)


async def room_names(parta: Parta, room: media_signal_pb2.Room) -> dict[str, str]:
    return await display_names(parta, [room.host_user_id, *room.invited_user_ids, *room.presenter_user_ids])


def print_join(
    cli: Cli,
    room: media_signal_pb2.Room,
    reply: media_signal_pb2.CreateJoinTokenResponse,
    names: dict[str, str],
    reveal: bool,
) -> None:
    def human() -> None:
        console = out()
        for line in room_lines(room, names):
            console.print(line, markup=False)
        for line in join_lines(reply, Endpoints.from_env().media_signal, reveal):
            console.print(line, markup=False)
        console.print("Join with a media client (WebRTC); the CLI carries no audio or video.", markup=False)

    cli.emit({"room": room, "join": redact_join(reply, reveal), "revealed": reveal}, human)


async def join_room(cli: Cli, parta: Parta, room_id: str, reveal: bool) -> None:
    room = (await parta.rooms.GetRoom(media_signal_pb2.GetRoomRequest(room_id=room_id))).room
    reply = await parta.rooms.CreateJoinToken(media_signal_pb2.CreateJoinTokenRequest(room_id=room_id))
    print_join(cli, room, reply, await room_names(parta, room), reveal)


def room_command(cli: Cli, call: Callable[[Parta], Awaitable[media_signal_pb2.Room]]) -> None:
    """Schedule/start/end/show: one room in, the room (with names) out."""

    async def action(parta: Parta) -> None:
        room = await call(parta)
        names = await room_names(parta, room)
        cli.emit(room, lambda: print_lines(room_lines(room, names)))

    cli.run(action)


async def create_room(parta: Parta, request: media_signal_pb2.CreateRoomRequest, at: str) -> media_signal_pb2.Room:
    """CreateRoom; `at` (+1h, or 2026-12-01T09:00 in the school's time zone) schedules it."""
    if at:
        school = (await parta.schools.GetSchool(school_pb2.GetSchoolRequest(school_id=request.school_id))).school
        request.scheduled_for.FromDatetime(parse_when(at, school.timezone).replace(tzinfo=None))
    room: media_signal_pb2.Room = (await parta.rooms.CreateRoom(request)).room
    return room


async def get_room(parta: Parta, room_id: str) -> media_signal_pb2.Room:
    reply = await parta.rooms.GetRoom(media_signal_pb2.GetRoomRequest(room_id=room_id))
    room: media_signal_pb2.Room = reply.room
    return room


async def start_room(parta: Parta, room_id: str) -> media_signal_pb2.Room:
    reply = await parta.rooms.StartRoom(media_signal_pb2.StartRoomRequest(room_id=room_id))
    room: media_signal_pb2.Room = reply.room
    return room


async def end_room(parta: Parta, room_id: str) -> media_signal_pb2.Room:
    reply = await parta.rooms.EndRoom(media_signal_pb2.EndRoomRequest(room_id=room_id))
    room: media_signal_pb2.Room = reply.room
    return room


Reveal = Annotated[
    bool, typer.Option("--reveal", help="Print the join token and TURN passwords (credentials; for a media client).")
]
RoomId = Annotated[str, typer.Argument(help="The room id (printed when it was created).")]


def add_room_commands(
    group: typer.Typer,
    kind: room_events.RoomKind.ValueType,
    *,
    listing: str,
    show: str,
    end: str,
    join: str,
    start: str = "",
    class_help: str = "",
) -> None:
    """The commands every kind of room has, written once: `list` (with `--class` when `class_help`
    says what it filters), `start` (kinds that are scheduled first), `show`, `end` and `join`; each
    argument is the command's help."""
    if class_help:

        @group.command("list", help=listing)
        def list_of_class(
            ctx: typer.Context,
            class_: str = typer.Option("", "--class", help=class_help),
            ended: Annotated[bool, ENDED_OPTION] = False,
        ) -> None:
            list_rooms(Cli.of(ctx), kind, class_, ended)

    else:

        @group.command("list", help=listing)
        def list_all(ctx: typer.Context, ended: Annotated[bool, ENDED_OPTION] = False) -> None:
            list_rooms(Cli.of(ctx), kind, "", ended)

    if start:

        @group.command("start", help=start)
        def start_one(ctx: typer.Context, room_id: RoomId) -> None:
            room_command(Cli.of(ctx), lambda parta: start_room(parta, room_id))

    @group.command("show", help=show)
    def show_one(ctx: typer.Context, room_id: RoomId) -> None:
        room_command(Cli.of(ctx), lambda parta: get_room(parta, room_id))

    @group.command("end", help=end)
    def end_one(ctx: typer.Context, room_id: RoomId) -> None:
        room_command(Cli.of(ctx), lambda parta: end_room(parta, room_id))

    @group.command("join", help=join)
    def join_one(ctx: typer.Context, room_id: RoomId, reveal: Reveal = False) -> None:
        cli = Cli.of(ctx)
        cli.run(lambda parta: join_room(cli, parta, room_id, reveal))


# -- moderating a live room (lessons and broadcasts): the CLI joins briefly without media, acts, leaves --


def participant_row(p: media_signal_pb2.Participant, names: dict[str, str]) -> list[str]:
    waiting = p.status == media_signal_pb2.PARTICIPANT_STATUS_WAITING
    role = "host" if p.grants.is_host else "on stage" if p.grants.can_publish else "viewer"
    muted = [track for track, on in (("audio", p.audio_muted), ("video", p.video_muted)) if on]
    return [
        names.get(p.user_id) or p.user_id,
        "waiting" if waiting else role,
        "raised" if p.hand_raised else "",
        "yes" if p.publishing else "",
        ", ".join(muted),
        p.participant_id,
    ]


def room_people(cli: Cli, room_id: str) -> None:
    """Who is in a live room (hosts also see the waiting room); the CLI's own seat is left out."""

    async def action(parta: Parta) -> None:
        async with SignalSession(parta, room_id) as session:
            me = session.participant_id
            present = [p for p in session.participants.values() if p.participant_id != me]
        names = await display_names(parta, (p.user_id for p in present))

        def human() -> None:
            table = grid("person", "role", "hand", "publishing", "muted", "participant id")
            for p in present:
                table.add_row(*participant_row(p, names))
            out().print(table)

        cli.emit(present, human)

    cli.run(action)


def applies_to(verb: int, seat: media_signal_pb2.Participant) -> bool:
    """Which of a person's seats (one per device) a host action applies to: admit the waiting ones,
    remove every one, the rest act on those inside."""
    waiting = seat.status == media_signal_pb2.PARTICIPANT_STATUS_WAITING
    if verb == media_signal_pb2.HOST_ACTION_TYPE_ADMIT:
        return waiting
    return verb == media_signal_pb2.HOST_ACTION_TYPE_REMOVE or not waiting


def act_on_person(
    cli: Cli,
    room_id: str,
    person: str,
    verb: media_signal_pb2.HostActionType.ValueType,
    done: str,
    track: media_signal_pb2.TrackKind.ValueType = media_signal_pb2.TRACK_KIND_UNSPECIFIED,
    noun: str = "room",
) -> None:
    """One host action on every device a person is in the room with (the host; joins briefly).

    `person` is named among the people in the room now (id or name; `noun` names the room in the
    refusal); `done` completes "<name> …" on success, e.g. "is muted".
    """

    async def action(parta: Parta) -> None:
        async with SignalSession(parta, room_id) as session:
            me = session.participant_id
            here = [p for p in session.participants.values() if p.participant_id != me]
            inside = sorted({p.user_id for p in here})
            known = await display_names(parta, inside)
            try:
                user_id = pick("person", person, [Candidate(u, (known.get(u, ""),), known.get(u, "")) for u in inside])
            except UsageError:
                raise UsageError(f"{person} is not in the {noun} now") from None
            seats = [p for p in here if p.user_id == user_id and applies_to(verb, p)]
            if not seats:
                raise UsageError(f"{known.get(user_id) or user_id} is in the room, but not where this applies")
            updated: list[media_signal_pb2.Participant] = []
            for seat in seats:
                answer = await session.host_action(verb, seat.participant_id, track)
                kind = answer.WhichOneof("message")
                if kind == "error":
                    raise refused(answer.error)
                if kind in ("participant_updated", "participant_joined"):
                    updated.append(getattr(answer, kind).participant)
        name = known.get(user_id) or user_id
        cli.emit(updated, lambda: out().print(f"{name} {done} ({len(seats)} device(s)).", markup=False))

    cli.run(action)


def act_on_room(cli: Cli, room_id: str, verb: media_signal_pb2.HostActionType.ValueType, done: str) -> None:
    """A host action on the room itself (lock, unlock); joins briefly."""

    async def action(parta: Parta) -> None:
        async with SignalSession(parta, room_id) as session:
            answer = await session.room_action(verb)
            if answer.WhichOneof("message") == "error":
                raise refused(answer.error)
        cli.emit({"room_id": room_id, "done": done}, lambda: out().print(f"The room {done}.", markup=False))

    cli.run(action)
