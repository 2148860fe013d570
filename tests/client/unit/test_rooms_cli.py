"""Calls, lessons and broadcasts in the CLI: the requests built from arguments, the join grant printed without
its credentials unless --reveal, refusals with the service's reason. Fake school and media-signal
servicers on port 0 (no infrastructure)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from parta.common.v1 import types_pb2
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta.media_signal.v1 import media_signal_pb2_grpc as pb_grpc
from parta.school.v1 import events_pb2 as school_events
from parta.school.v1 import school_pb2, school_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.cli import app
from parta_client.cli.rooms import grant_words, join_lines, redact_join, room_lines
from parta_client.errors import code_name
from parta_client.signalling import refused
from typer.testing import CliRunner

TOKEN, TURN_PASSWORD = "grant.secret.jws", "turn-password-b64"


def join_reply(**grants: bool) -> pb.CreateJoinTokenResponse:
    reply = pb.CreateJoinTokenResponse(
        token=TOKEN,
        grants=pb.Grants(**grants),
        ice_servers=[
            pb.IceServer(urls=["stun:127.0.0.1:3478"]),
            pb.IceServer(urls=["turn:127.0.0.1:3478?transport=udp"], username="1700:u-1", credential=TURN_PASSWORD),
        ],
        signal_address="10.0.0.7:50054",
    )
    reply.expires_at.FromDatetime(datetime(2030, 1, 1, 12, 2))
    return reply


# -- rendering ---------------------------------------------------------------------------------------


def test_join_lines_hide_the_grant_and_turn_password_unless_revealed() -> None:
    reply = join_reply(can_publish=True, can_subscribe=True, can_publish_data=True, is_host=True)
    now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC).timestamp()
    hidden = "\n".join(join_lines(reply, "fallback:1", reveal=False, now=now))
    assert TOKEN not in hidden and TURN_PASSWORD not in hidden
    assert "Token: hidden (16 characters; --reveal prints it)" in hidden
    assert "turn:127.0.0.1:3478?transport=udp  username 1700:u-1  credential hidden" in hidden
    assert "Signalling: 10.0.0.7:50054" in hidden and "(in 120 s)" in hidden
    assert "Grant: host, publish, subscribe, data" in hidden
    shown = "\n".join(join_lines(reply, "fallback:1", reveal=True, now=now))
    assert f"Token: {TOKEN}" in shown and f"credential {TURN_PASSWORD}" in shown


def test_redacted_copy_leaves_the_reply_alone_and_falls_back_to_the_configured_address() -> None:
    reply = join_reply(can_subscribe=True)
    copy = redact_join(reply, reveal=False)
    assert copy.token == "" and copy.ice_servers[1].credential == "" and copy.ice_servers[1].username == "1700:u-1"
    assert reply.token == TOKEN and reply.ice_servers[1].credential == TURN_PASSWORD
    assert grant_words(reply.grants) == "subscribe, (viewer)"
    reply.signal_address = ""
    assert join_lines(reply, "127.0.0.1:50054", reveal=False)[0].startswith("Signalling: 127.0.0.1:50054 ")


def test_room_lines_name_people_and_the_audience() -> None:
    room = pb.Room(
        room_id="r1",
        kind=room_events.ROOM_KIND_BROADCAST,
        title="Линейка",
        host_user_id="u-1",
        state=pb.ROOM_STATE_SCHEDULED,
        media_mode=pb.MEDIA_MODE_SFU,
        presenter_user_ids=["u-2", "u-9"],
        max_participants=300,
        waiting_room=True,
    )
    lines = room_lines(room, {"u-1": "Ирина Петрова", "u-2": "Анна Иванова"})
    assert lines[0] == "Линейка — broadcast, scheduled, through the SFU (room r1)"
    assert "Host: Ирина Петрова" in lines and "Audience: the whole school" in lines
    assert "Presenters: Анна Иванова, u-9" in lines  # an unknown name falls back to the id
    assert lines[-1] == "At most 300 participants, waiting room"


def test_in_stream_refusals_read_like_failed_calls() -> None:
    assert code_name(code_pb2.PERMISSION_DENIED) == "PERMISSION_DENIED" and code_name(999) == "UNKNOWN"
    error = refused(pb.ErrorResponse(code=code_pb2.PERMISSION_DENIED, reason="NOT_HOST", message="hosts only"))
    assert str(error) == "PERMISSION_DENIED NOT_HOST: hosts only"


# -- the commands against fakes ---------------------------------------------------------------------


class FakeSchool(school_pb2_grpc.MembershipServiceServicer, school_pb2_grpc.ClassServiceServicer):
    # As school answers a student or parent: the school-wide list is NOT_STAFF, their class is open.
    caller_is_staff = True

    async def ListMembers(self, request, context):  # type: ignore[no-untyped-def]
        if not self.caller_is_staff and not request.class_id:
            status = status_pb2.Status(code=code_pb2.PERMISSION_DENIED, message="for staff")
            status.details.add().Pack(error_details_pb2.ErrorInfo(reason="NOT_STAFF", domain="parta"))
            await context.abort_with_status(rpc_status.to_status(status))
        if not self.caller_is_staff and request.class_id != "c-5a":
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not your class")
        return school_pb2.ListMembersResponse(
            members=[
                school_events.MembershipSnapshot(user_id="u-1", school_id="s1"),
                school_events.MembershipSnapshot(user_id="u-2", school_id="s1"),
            ]
        )

    async def GetMemberships(self, request, context):  # type: ignore[no-untyped-def]
        seat = school_events.MembershipSnapshot(user_id=request.user_id, school_id="s1", class_id="c-5a")
        return school_pb2.GetMembershipsResponse(memberships=[seat])

    async def ListClasses(self, request, context):  # type: ignore[no-untyped-def]
        return school_pb2.ListClassesResponse(classes=[school_pb2.SchoolClass(class_id="c-5a", title="5А")])


class FakeSchools(school_pb2_grpc.SchoolServiceServicer):
    async def GetSchool(self, request, context):  # type: ignore[no-untyped-def]
        return school_pb2.GetSchoolResponse(school=school_pb2.School(school_id=request.school_id, timezone="Asia/Omsk"))


class FakeRooms(pb_grpc.RoomServiceServicer):
    def __init__(self) -> None:
        self.created: list[pb.CreateRoomRequest] = []
        self.listed: list[pb.ListRoomsRequest] = []
        self.refuse = ""
        self.moved: list[tuple[str, str]] = []

    def _room(self, room_id: str, state: pb.RoomState.ValueType) -> pb.Room:
        return pb.Room(
            room_id=room_id, kind=room_events.ROOM_KIND_LESSON, title="Алгебра", host_user_id="u-1", state=state
        )

    async def StartRoom(self, request, context):  # type: ignore[no-untyped-def]
        self.moved.append(("start", request.room_id))
        return pb.StartRoomResponse(room=self._room(request.room_id, pb.ROOM_STATE_LIVE))

    async def EndRoom(self, request, context):  # type: ignore[no-untyped-def]
        self.moved.append(("end", request.room_id))
        return pb.EndRoomResponse(room=self._room(request.room_id, pb.ROOM_STATE_ENDED))

    async def GetRoom(self, request, context):  # type: ignore[no-untyped-def]
        return pb.GetRoomResponse(room=self._room(request.room_id, pb.ROOM_STATE_SCHEDULED))

    async def CreateRoom(self, request, context):  # type: ignore[no-untyped-def]
        if self.refuse:
            status = status_pb2.Status(code=code_pb2.PERMISSION_DENIED, message="not allowed")
            status.details.add().Pack(error_details_pb2.ErrorInfo(reason=self.refuse, domain="parta"))
            await context.abort_with_status(rpc_status.to_status(status))
        self.created.append(request)
        state = pb.ROOM_STATE_LIVE if request.start_now else pb.ROOM_STATE_SCHEDULED
        return pb.CreateRoomResponse(
            room=pb.Room(
                room_id="r1",
                school_id=request.school_id,
                class_id=request.class_id,
                kind=request.kind,
                title=request.title,
                host_user_id="u-1",
                state=state,
                invited_user_ids=request.invited_user_ids,
                presenter_user_ids=request.presenter_user_ids,
            )
        )

    async def CreateJoinToken(self, request, context):  # type: ignore[no-untyped-def]
        return join_reply(can_publish=True, can_subscribe=True, is_host=True)

    async def ListRooms(self, request, context):  # type: ignore[no-untyped-def]
        # Two pages of one room each, as the service pages past rooms the caller may not see.
        self.listed.append(request)
        page = int(request.page.page_token or 0)
        title = ["Алгебра", "Физика"][page]
        room = pb.Room(room_id=f"l{page}", title=title, kind=request.kinds[0], state=pb.ROOM_STATE_SCHEDULED)
        room.scheduled_for.FromDatetime(datetime(2030, 1, 1 + page, 9, 0))
        return pb.ListRoomsResponse(rooms=[room], page=types_pb2.PageInfo(next_page_token="1" if page == 0 else ""))


@pytest.fixture
async def rooms(tmp_path: Path) -> AsyncIterator[tuple[FakeRooms, dict[str, str]]]:
    fake = FakeRooms()
    server = grpc.aio.server()
    school = FakeSchool()
    school_pb2_grpc.add_MembershipServiceServicer_to_server(school, server)
    school_pb2_grpc.add_ClassServiceServicer_to_server(school, server)
    school_pb2_grpc.add_SchoolServiceServicer_to_server(FakeSchools(), server)
    pb_grpc.add_RoomServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    address = f"127.0.0.1:{port}"
    SessionStore(tmp_path, "olga").save(
        Session(user_id="u-1", phone="+79000000003", access_token="a", refresh_token="r", school_id="s1")
    )
    env = {"PARTA_HOME": str(tmp_path), **{f"PARTA_{n}_ADDR": address for n in ("IDENTITY", "SCHOOL", "MEDIA_SIGNAL")}}
    yield fake, env
    await server.stop(0)


async def parta(env: dict[str, str], *argv: str):  # type: ignore[no-untyped-def]
    # In a thread: the CLI runs its own event loop while the fake server keeps serving on this one.
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", "olga", *argv], env=env)


async def test_call_start_invites_the_people_named_and_keeps_credentials_out_of_the_output(rooms) -> None:
    fake, env = rooms
    result = await parta(env, "call", "start", "u-2", "u-1", "--title", "Про экскурсию")
    assert result.exit_code == 0, result.output
    (request,) = fake.created
    assert request.kind == room_events.ROOM_KIND_CALL and request.start_now and request.school_id == "s1"
    assert list(request.invited_user_ids) == ["u-2"]  # the caller is not their own invitee
    assert request.title == "Про экскурсию" and request.request_id
    assert "room r1" in result.stdout and "Token: hidden" in result.stdout and "WebRTC" in result.stdout
    assert TOKEN not in result.output and TURN_PASSWORD not in result.output
    revealed = json.loads((await parta(env, "--json", "call", "start", "u-2", "--reveal")).stdout)
    assert revealed["join"]["token"] == TOKEN and revealed["revealed"] is True
    hidden = json.loads((await parta(env, "--json", "call", "start", "u-2")).stdout)
    assert "token" not in hidden["join"] and TURN_PASSWORD not in json.dumps(hidden)


async def test_a_student_names_a_classmate_from_their_own_classes(rooms, monkeypatch) -> None:
    """The school-wide list is for staff (NOT_STAFF); a student's CLI finds people in their classes."""
    fake, env = rooms
    monkeypatch.setattr(FakeSchool, "caller_is_staff", False)
    result = await parta(env, "call", "start", "u-2")
    assert result.exit_code == 0, result.output
    (request,) = fake.created
    assert list(request.invited_user_ids) == ["u-2"]


async def test_call_refusals_and_bad_input(rooms) -> None:
    fake, env = rooms
    nobody = await parta(env, "call", "start")
    assert nobody.exit_code == 2 and "name whom to call" in nobody.stderr
    unknown = await parta(env, "call", "start", "Кто-то")
    assert unknown.exit_code == 2 and "no person" in unknown.stderr
    fake.refuse = "CONTACT_NOT_ALLOWED"
    refused_call = await parta(env, "call", "start", "u-2")
    assert refused_call.exit_code == 1 and "PERMISSION_DENIED CONTACT_NOT_ALLOWED: not allowed" in refused_call.stderr
    assert "Traceback" not in refused_call.output and not fake.created


async def test_broadcast_schedule_builds_a_class_broadcast_with_presenters(rooms) -> None:
    fake, env = rooms
    result = await parta(
        env, "--json", "broadcast", "schedule", "--title", "Собрание", "--class", "5A", "--presenter", "u-2",
        "--max-participants", "50", "--request-id", "meeting-1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (request,) = fake.created
    assert request.kind == room_events.ROOM_KIND_BROADCAST and request.class_id == "c-5a"  # Latin A → 5А
    assert list(request.presenter_user_ids) == ["u-2"] and request.max_participants == 50
    assert request.request_id == "meeting-1" and not request.start_now
    assert json.loads(result.stdout)["state"] == "ROOM_STATE_SCHEDULED"
    school_wide = await parta(env, "broadcast", "schedule", "--title", "Линейка", "--now")
    assert school_wide.exit_code == 0 and fake.created[-1].class_id == "" and fake.created[-1].start_now
    assert "Audience: the whole school" in school_wide.stdout


async def test_lesson_list_follows_every_page_for_the_class_asked(rooms) -> None:
    fake, env = rooms
    result = await parta(env, "lesson", "list", "--class", "5A")
    assert result.exit_code == 0, result.output
    assert "Алгебра" in result.stdout and "Физика" in result.stdout
    first, second = fake.listed
    assert first.school_id == "s1" and first.class_id == "c-5a"
    assert list(first.kinds) == [room_events.ROOM_KIND_LESSON] and list(first.states) == []
    assert second.page.page_token == "1"
    ended = json.loads((await parta(env, "--json", "call", "list", "--ended")).stdout)
    assert [r["room_id"] for r in ended] == ["l0", "l1"]
    assert list(fake.listed[-1].states) == [pb.ROOM_STATE_ENDED]
    assert list(fake.listed[-1].kinds) == [room_events.ROOM_KIND_CALL]


async def test_lessons_take_the_room_helpers_calls_and_broadcasts_use(rooms) -> None:
    """schedule --at reads the school's time zone; start/show/end print the room as call and broadcast do."""
    fake, env = rooms
    result = await parta(env, "lesson", "schedule", "--class", "5A", "--title", "Алгебра", "--at", "2030-01-02T09:00")
    assert result.exit_code == 0, result.output
    (request,) = fake.created
    assert request.kind == room_events.ROOM_KIND_LESSON and request.class_id == "c-5a" and not request.start_now
    assert request.scheduled_for.ToDatetime() == datetime(2030, 1, 2, 3, 0)  # 09:00 in Omsk (UTC+6)
    assert "Алгебра — lesson, scheduled" in result.stdout and "Class: c-5a" in result.stdout
    started = await parta(env, "lesson", "start", "r1")
    assert started.exit_code == 0 and "Алгебра — lesson, live" in started.stdout, started.output
    shown = json.loads((await parta(env, "--json", "lesson", "show", "r1")).stdout)
    assert shown["state"] == "ROOM_STATE_SCHEDULED" and shown["room_id"] == "r1"
    ended = await parta(env, "lesson", "end", "r1")
    assert ended.exit_code == 0 and "lesson, ended" in ended.stdout
    assert fake.moved == [("start", "r1"), ("end", "r1")]


async def test_call_start_group_asks_for_a_group_call(rooms) -> None:
    fake, env = rooms
    result = await parta(env, "call", "start", "u-2", "--group")
    assert result.exit_code == 0, result.output
    (request,) = fake.created
    # More than 4 seats: the service makes it a group call through the media server.
    assert request.max_participants == 100 and list(request.invited_user_ids) == ["u-2"]
    plain = await parta(env, "call", "start", "u-2")
    assert plain.exit_code == 0 and fake.created[-1].max_participants == 0  # the service decides by head count


async def test_the_sdk_host_allows_and_stops_a_screen_share() -> None:
    from parta_client.signalling import SignalSession

    class Call:
        def __init__(self) -> None:
            self.written: list[pb.SignalRequest] = []

        async def write(self, request: pb.SignalRequest) -> None:
            self.written.append(request)
            update = pb.Participant(participant_id="p-2", may_share_screen=request.host_action.action == allow)
            await session._inbox.put(pb.SignalResponse(participant_updated=pb.ParticipantUpdate(participant=update)))

    allow = pb.HOST_ACTION_TYPE_ALLOW_SCREEN_SHARE
    session = SignalSession(parta=None, room_id="r1")  # type: ignore[arg-type]
    session.call = Call()
    allowed = await session.screen_share("p-2", allow=True)
    stopped = await session.screen_share("p-2", allow=False)
    assert allowed.participant_updated.participant.may_share_screen
    assert not stopped.participant_updated.participant.may_share_screen
    sent = [(r.host_action.action, r.host_action.participant_id) for r in session.call.written]
    assert sent == [(allow, "p-2"), (pb.HOST_ACTION_TYPE_STOP_SCREEN_SHARE, "p-2")]
