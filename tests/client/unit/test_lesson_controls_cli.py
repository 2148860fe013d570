"""`parta attendance …` and the lesson controls (`parta lesson mute|remove|admit|lock|people`) against
fake school, identity and media-signal servicers on port 0 (no infrastructure): the requests built from
arguments, every page followed, the CSV (columns, UTF-8 names, formula-safe text, times in the
school's zone), host actions sent once per device of the person named, in-stream refusals."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import grpc
import pytest
from parta.common.v1 import types_pb2
from parta.identity.v1 import profiles_pb2, profiles_pb2_grpc
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta.media_signal.v1 import media_signal_pb2_grpc as pb_grpc
from parta.school.v1 import events_pb2 as school_events
from parta.school.v1 import school_pb2, school_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.attendance import CSV_COLUMNS, attendance_csv
from parta_client.cli import app
from parta_client.cli.attendance import day_range
from typer.testing import CliRunner

pytestmark = pytest.mark.unit

ZONE = "Asia/Yekaterinburg"  # UTC+5, no DST


def stamp(*args: int) -> object:
    from google.protobuf.timestamp_pb2 import Timestamp

    t = Timestamp()
    t.FromDatetime(datetime(*args, tzinfo=UTC))
    return t


def row(room_id: str, user_id: str, **kw: object) -> pb.AttendanceRow:
    r = pb.AttendanceRow(
        room_id=room_id,
        school_id="s1",
        class_id="c-5a",
        title=str(kw.pop("title", "Алгебра")),
        user_id=user_id,
        lesson_start=stamp(2026, 12, 1, 4, 0),
        lesson_ended_at=stamp(2026, 12, 1, 4, 45),
        first_joined_at=stamp(2026, 12, 1, 4, 1),
        last_left_at=stamp(2026, 12, 1, 4, 45),
        seconds_present=2460,
        **kw,  # type: ignore[arg-type]
    )
    r.intervals.add(joined_at=stamp(2026, 12, 1, 4, 1), left_at=stamp(2026, 12, 1, 4, 20))
    r.intervals.add(joined_at=stamp(2026, 12, 1, 4, 23), left_at=stamp(2026, 12, 1, 4, 45))
    return r


class FakeSchool(
    school_pb2_grpc.SchoolServiceServicer,
    school_pb2_grpc.ClassServiceServicer,
    school_pb2_grpc.MembershipServiceServicer,
):
    async def GetSchool(self, request, context):  # type: ignore[no-untyped-def]
        return school_pb2.GetSchoolResponse(school=school_pb2.School(school_id=request.school_id, timezone=ZONE))

    async def ListClasses(self, request, context):  # type: ignore[no-untyped-def]
        return school_pb2.ListClassesResponse(classes=[school_pb2.SchoolClass(class_id="c-5a", title="5А")])

    async def ListMembers(self, request, context):  # type: ignore[no-untyped-def]
        return school_pb2.ListMembersResponse(
            members=[school_events.MembershipSnapshot(user_id=u, school_id="s1") for u in ("u-m", "u-p", "u-t")]
        )


NAMES = {"u-m": "Миша Иванов", "u-p": "=HYPERLINK(1)", "u-t": "Павел Сергеевич"}


class FakeProfiles(profiles_pb2_grpc.ProfileServiceServicer):
    async def BatchGetDisplayNames(self, request, context):  # type: ignore[no-untyped-def]
        return profiles_pb2.BatchGetDisplayNamesResponse(
            names=[profiles_pb2.DisplayName(user_id=u, display_name=NAMES[u]) for u in request.user_ids if u in NAMES]
        )


class FakeAttendance(pb_grpc.AttendanceServiceServicer):
    def __init__(self) -> None:
        self.requests: list[pb.ListAttendanceRequest] = []

    async def ListAttendance(self, request, context):  # type: ignore[no-untyped-def]
        # Two pages, as the service pages rows.
        self.requests.append(request)
        if not request.page.page_token:
            rows = [row("l1", "u-t", host=True), row("l1", "u-m")]
            return pb.ListAttendanceResponse(rows=rows, page=types_pb2.PageInfo(next_page_token="2"))
        late = row("l1", "u-p", late=True, left_early=True, title="-1+1")
        return pb.ListAttendanceResponse(rows=[late], page=types_pb2.PageInfo())


class FakeRoomsAndSignal(pb_grpc.RoomServiceServicer, pb_grpc.SignalServiceServicer):
    """A live lesson: the CLI's seat (the host), Миша on two devices, Петя waiting."""

    def __init__(self) -> None:
        self.actions: list[pb.HostActionRequest] = []
        self.refuse = ""
        self.left = 0

    async def CreateJoinToken(self, request, context):  # type: ignore[no-untyped-def]
        return pb.CreateJoinTokenResponse(token="t", grants=pb.Grants(is_host=True))

    @staticmethod
    def people() -> list[pb.Participant]:
        active, waiting = pb.PARTICIPANT_STATUS_ACTIVE, pb.PARTICIPANT_STATUS_WAITING
        return [
            pb.Participant(participant_id="p-cli", user_id="u-t", status=active, grants=pb.Grants(is_host=True)),
            pb.Participant(participant_id="p-m1", user_id="u-m", status=active),
            pb.Participant(participant_id="p-m2", user_id="u-m", status=active),
            pb.Participant(participant_id="p-w", user_id="u-p", status=waiting),
        ]

    async def Signal(self, request_iterator, context):  # type: ignore[no-untyped-def]
        async for request in request_iterator:
            kind = request.WhichOneof("message")
            if kind == "join":
                people = self.people()
                state = pb.RoomStateUpdate(participants=people, self=people[0])
                yield pb.SignalResponse(joined=pb.JoinedResponse(state=state))
            elif kind == "host_action":
                action = request.host_action
                self.actions.append(action)
                if self.refuse:
                    yield pb.SignalResponse(
                        error=pb.ErrorResponse(request_id=request.request_id, code=7, reason=self.refuse, message="no")
                    )
                elif action.action in (pb.HOST_ACTION_TYPE_LOCK, pb.HOST_ACTION_TYPE_UNLOCK):
                    yield pb.SignalResponse(host_action=pb.HostActionNotice(action=action.action))
                elif action.action == pb.HOST_ACTION_TYPE_REMOVE:
                    yield pb.SignalResponse(
                        participant_left=pb.ParticipantLeftUpdate(
                            participant_id=action.participant_id, reason="removed"
                        )
                    )
                else:
                    seat = pb.Participant(participant_id=action.participant_id, user_id="u-x")
                    kind = "participant_joined" if action.action == pb.HOST_ACTION_TYPE_ADMIT else "participant_updated"
                    yield pb.SignalResponse(**{kind: pb.ParticipantUpdate(participant=seat)})
            elif kind == "leave":
                self.left += 1
                return


@pytest.fixture
async def fakes(tmp_path: Path) -> AsyncIterator[tuple[FakeAttendance, FakeRoomsAndSignal, dict[str, str]]]:
    attendance, rooms, school = FakeAttendance(), FakeRoomsAndSignal(), FakeSchool()
    server = grpc.aio.server()
    school_pb2_grpc.add_SchoolServiceServicer_to_server(school, server)
    school_pb2_grpc.add_ClassServiceServicer_to_server(school, server)
    school_pb2_grpc.add_MembershipServiceServicer_to_server(school, server)
    profiles_pb2_grpc.add_ProfileServiceServicer_to_server(FakeProfiles(), server)
    pb_grpc.add_AttendanceServiceServicer_to_server(attendance, server)
    pb_grpc.add_RoomServiceServicer_to_server(rooms, server)
    pb_grpc.add_SignalServiceServicer_to_server(rooms, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    address = f"127.0.0.1:{port}"
    SessionStore(tmp_path, "pavel").save(
        Session(user_id="u-t", phone="+79000000004", access_token="a", refresh_token="r", school_id="s1")
    )
    env = {"PARTA_HOME": str(tmp_path), **{f"PARTA_{n}_ADDR": address for n in ("IDENTITY", "SCHOOL", "MEDIA_SIGNAL")}}
    yield attendance, rooms, env
    await server.stop(0)


async def parta(env: dict[str, str], *argv: str):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", "pavel", *argv], env=env)


# -- attendance -------------------------------------------------------------------------------------


def test_the_csv_has_its_columns_names_and_formula_safe_text() -> None:
    text = attendance_csv([row("l1", "u-p", late=True, title="=cmd")], NAMES, ZoneInfo(ZONE))
    assert text.endswith("\r\n")
    header, line = list(csv.reader(io.StringIO(text)))
    assert tuple(header) == CSV_COLUMNS
    got = dict(zip(header, line, strict=True))
    assert got["lesson"] == "'=cmd" and got["name"] == "'=HYPERLINK(1)"
    assert got["lesson_start"] == "2026-12-01T09:00:00+05:00" and got["seconds_present"] == "2460"
    assert got["late"] == "yes" and got["left_early"] == "no" and got["role"] == "participant"
    assert (
        got["intervals"]
        == "2026-12-01T09:01:00+05:00/2026-12-01T09:20:00+05:00;2026-12-01T09:23:00+05:00/2026-12-01T09:45:00+05:00"
    )
    open_row = row("l1", "u-m", present=True)
    open_row.intervals[-1].ClearField("left_at")
    assert attendance_csv([open_row]).splitlines()[1].endswith("2026-12-01T04:23:00+00:00/")


def test_days_are_whole_days_in_the_schools_zone() -> None:
    zone = ZoneInfo(ZONE)
    since, until = day_range("2026-12-01", "2026-12-07", zone, today=datetime(2026, 12, 9).date())
    assert since == datetime(2026, 12, 1, tzinfo=zone) and until == datetime(2026, 12, 8, tzinfo=zone)
    since, until = day_range("", "", zone, today=datetime(2026, 12, 9).date())
    assert (until - since).days == 7 and until == datetime(2026, 12, 10, tzinfo=zone)


async def test_attendance_commands_build_their_queries_and_print_csv(fakes) -> None:
    attendance, _, env = fakes
    lesson = await parta(env, "attendance", "lesson", "l1", "--csv")
    assert lesson.exit_code == 0, lesson.output
    rows = list(csv.DictReader(io.StringIO(lesson.stdout)))
    assert [(r["user_id"], r["name"], r["late"]) for r in rows] == [
        ("u-t", "Павел Сергеевич", "no"),
        ("u-m", "Миша Иванов", "no"),
        ("u-p", "'=HYPERLINK(1)", "yes"),
    ]
    assert rows[0]["role"] == "teacher" and rows[2]["lesson"] == "'-1+1"
    assert rows[0]["first_joined"] == "2026-12-01T09:01:00+05:00"  # the school's zone
    first, second = attendance.requests
    assert first.room_id == "l1" and second.page.page_token == "2"

    wide = {**env, "COLUMNS": "200"}
    klass = await parta(wide, "attendance", "class", "5A", "--from", "2026-12-01", "--to", "2026-12-07")
    assert klass.exit_code == 0, klass.output
    assert "Миша Иванов" in klass.stdout and "late" in klass.stdout and "left early" in klass.stdout
    query = attendance.requests[-1]
    assert query.class_id == "c-5a" and query.school_id == "s1" and not query.room_id
    assert query.since.ToDatetime(UTC) == datetime(2026, 11, 30, 19, 0, tzinfo=UTC)
    assert query.until.ToDatetime(UTC) == datetime(2026, 12, 7, 19, 0, tzinfo=UTC)

    student = json.loads((await parta(env, "--json", "attendance", "student", "Миша Иванов")).stdout)
    assert attendance.requests[-1].student_user_id == "u-m" and len(student) == 3
    assert student[2]["late"] is True

    bad = await parta(env, "attendance", "class", "5A", "--from", "01.12.2026")
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.stderr


# -- lesson controls --------------------------------------------------------------------------------


async def test_lesson_controls_act_on_every_device_of_the_person_and_leave(fakes) -> None:
    _, rooms, env = fakes
    muted = await parta(env, "lesson", "mute", "r1", "Миша Иванов", "--track", "audio")
    assert muted.exit_code == 0, muted.output
    assert "Миша Иванов is muted (audio) (2 device(s))." in muted.stdout
    assert [(a.action, a.participant_id, a.track) for a in rooms.actions] == [
        (pb.HOST_ACTION_TYPE_MUTE, "p-m1", pb.TRACK_KIND_AUDIO),
        (pb.HOST_ACTION_TYPE_MUTE, "p-m2", pb.TRACK_KIND_AUDIO),
    ]
    rooms.actions.clear()
    assert (await parta(env, "lesson", "mute", "r1", "u-m", "--off")).exit_code == 0
    assert {a.action for a in rooms.actions} == {pb.HOST_ACTION_TYPE_UNMUTE}
    rooms.actions.clear()
    admitted = await parta(env, "lesson", "admit", "r1", "u-p")
    assert admitted.exit_code == 0, admitted.output
    assert [(a.action, a.participant_id) for a in rooms.actions] == [(pb.HOST_ACTION_TYPE_ADMIT, "p-w")]
    rooms.actions.clear()
    removed = await parta(env, "lesson", "remove", "r1", "u-m")
    assert removed.exit_code == 0 and "was removed (2 device(s))" in removed.stdout
    rooms.actions.clear()
    locked = await parta(env, "lesson", "lock", "r1")
    assert locked.exit_code == 0 and "The room is locked." in locked.stdout
    assert (await parta(env, "lesson", "lock", "r1", "--off")).exit_code == 0
    assert [a.action for a in rooms.actions] == [pb.HOST_ACTION_TYPE_LOCK, pb.HOST_ACTION_TYPE_UNLOCK]
    assert rooms.left == 6  # every command left its seat cleanly

    people = json.loads((await parta(env, "--json", "lesson", "people", "r1")).stdout)
    assert [p["participant_id"] for p in people] == ["p-m1", "p-m2", "p-w"]  # not the CLI's own seat


async def test_lesson_controls_refusals(fakes) -> None:
    _, rooms, env = fakes
    absent = await parta(env, "lesson", "mute", "r1", "Кто-то")
    assert absent.exit_code == 2 and "not in the lesson now" in absent.stderr
    not_waiting = await parta(env, "lesson", "admit", "r1", "u-m")
    assert not_waiting.exit_code == 2 and "not where this applies" in not_waiting.stderr
    bad_track = await parta(env, "lesson", "mute", "r1", "u-m", "--track", "screen")
    assert bad_track.exit_code == 2
    rooms.refuse = "NOT_HOST"
    refused = await parta(env, "lesson", "lock", "r1")
    assert refused.exit_code == 1 and "PERMISSION_DENIED NOT_HOST" in refused.stderr
    refused = await parta(env, "lesson", "remove", "r1", "u-m")
    assert refused.exit_code == 1 and "PERMISSION_DENIED NOT_HOST" in refused.stderr
