"""`parta timetable` and `parta holidays`: the lesson and holiday syntax, and what the commands send
(fake school services on port 0, no infrastructure)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import typer
from parta.school.v1 import school_pb2, school_pb2_grpc, timetable_pb2, timetable_pb2_grpc
from parta_client import Session, SessionStore
from parta_client.cli import app
from parta_client.cli.timetables import LessonSpec, parse_holiday, parse_lesson, slot_ref
from typer.testing import CliRunner

pytestmark = pytest.mark.unit


def test_lessons_are_written_weekday_time_length_subject_and_teacher() -> None:
    assert parse_lesson("mon 09:00 45 Математика") == LessonSpec(1, 540, 45, "Математика")
    assert parse_lesson("ср 12:30 40 Русский язык @Ольга Смирнова") == LessonSpec(
        3, 750, 40, "Русский язык", "Ольга Смирнова"
    )
    assert parse_lesson("7 8:05 30 Астрономия").start_minute == 485
    for bad in ("mon 9 45 Математика", "xyz 09:00 45 Математика", "mon 25:00 45 Математика", "mon 09:00 45 @olga"):
        with pytest.raises(typer.BadParameter):
            parse_lesson(bad)


def test_holidays_and_slot_names() -> None:
    r = parse_holiday("2026-12-30..2027-01-08 Зимние каникулы")
    assert (r.first_day, r.last_day, r.title) == ("2026-12-30", "2027-01-08", "Зимние каникулы")
    one = parse_holiday("2026-11-04 День народного единства")
    assert (one.first_day, one.last_day) == ("2026-11-04", "2026-11-04")
    with pytest.raises(typer.BadParameter):
        parse_holiday("30.12.2026..08.01.2027")
    from datetime import date

    assert slot_ref("1-09:00") == "1-09:00" and slot_ref("tue 9:30") == "2-09:30"
    assert slot_ref("09:00", date(2026, 12, 9)) == "3-09:00"  # a Wednesday
    with pytest.raises(typer.BadParameter):
        slot_ref("09:00")


class FakeSchool(school_pb2_grpc.SchoolServiceServicer):
    async def ListMySchools(self, request, context):  # type: ignore[no-untyped-def]
        school = school_pb2.School(school_id="s-1", name="Школа № 3")
        return school_pb2.ListMySchoolsResponse(schools=[school_pb2.MySchool(school=school)])


class FakeClasses(school_pb2_grpc.ClassServiceServicer):
    async def ListClasses(self, request, context):  # type: ignore[no-untyped-def]
        return school_pb2.ListClassesResponse(classes=[school_pb2.SchoolClass(class_id="c-5a", title="5А")])


class FakeTimetables(timetable_pb2_grpc.TimetableServiceServicer):
    def __init__(self) -> None:
        self.sent: list[object] = []
        self.timetable = timetable_pb2.Timetable(class_id="c-5a", first_day="2026-09-01", last_day="2027-05-31")

    async def SetTimetable(self, request, context):  # type: ignore[no-untyped-def]
        self.sent.append(request)
        del self.timetable.slots[:]
        for s in request.slots:
            slot = timetable_pb2.TimetableSlot()
            slot.CopyFrom(s)
            slot.slot_id = f"{s.weekday}-{s.start_minute // 60:02d}:{s.start_minute % 60:02d}"
            self.timetable.slots.append(slot)
        return timetable_pb2.SetTimetableResponse(timetable=self.timetable)

    async def GetTimetable(self, request, context):  # type: ignore[no-untyped-def]
        return timetable_pb2.GetTimetableResponse(timetable=self.timetable, timezone="Europe/Moscow")

    async def CancelLesson(self, request, context):  # type: ignore[no-untyped-def]
        self.sent.append(request)
        return timetable_pb2.CancelLessonResponse(timetable=self.timetable)

    async def SetHolidays(self, request, context):  # type: ignore[no-untyped-def]
        self.sent.append(request)
        return timetable_pb2.SetHolidaysResponse(holidays=request.holidays, version=1)

    async def GetHolidays(self, request, context):  # type: ignore[no-untyped-def]
        return timetable_pb2.GetHolidaysResponse()


@pytest.fixture
async def school(tmp_path: Path) -> AsyncIterator[tuple[FakeTimetables, dict[str, str]]]:
    fake = FakeTimetables()
    server = grpc.aio.server()
    school_pb2_grpc.add_SchoolServiceServicer_to_server(FakeSchool(), server)
    school_pb2_grpc.add_ClassServiceServicer_to_server(FakeClasses(), server)
    timetable_pb2_grpc.add_TimetableServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    SessionStore(tmp_path, "olga").save(
        Session(user_id="u-1", phone="+79000000002", access_token="a", refresh_token="r")
    )
    env = {"PARTA_HOME": str(tmp_path), **{f"PARTA_{n}_ADDR": f"127.0.0.1:{port}" for n in ("IDENTITY", "SCHOOL")}}
    yield fake, env
    await server.stop(0)


async def parta(env: dict[str, str], *argv: str):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(CliRunner().invoke, app, ["-p", "olga", *argv], env=env)


async def test_set_add_remove_cancel_and_holidays_send_what_was_typed(school) -> None:  # type: ignore[no-untyped-def]
    fake, env = school
    done = await parta(env, "timetable", "set", "5А", "-l", "mon 09:00 45 Математика", "-l", "пн 10:00 45 Русский язык")
    assert done.exit_code == 0, done.output
    first = fake.sent[0]
    assert isinstance(first, timetable_pb2.SetTimetableRequest) and first.class_id == "c-5a"
    assert [(s.weekday, s.start_minute, s.subject, s.teacher_user_id) for s in first.slots] == [
        (1, 540, "Математика", ""),
        (1, 600, "Русский язык", ""),
    ]
    added = await parta(env, "timetable", "add", "5А", "wed 12:30 40 Физика")
    assert added.exit_code == 0, added.output
    assert [s.subject for s in fake.sent[1].slots] == ["Математика", "Русский язык", "Физика"]  # type: ignore[attr-defined]
    removed = await parta(env, "timetable", "remove", "5А", "mon 10:00")
    assert removed.exit_code == 0, removed.output
    assert [s.subject for s in fake.sent[2].slots] == ["Математика", "Физика"]  # type: ignore[attr-defined]
    shown = await parta(env, "timetable", "show", "5А")
    assert shown.exit_code == 0 and "Математика" in shown.stdout and "Europe/Moscow" in shown.stdout
    cancelled = await parta(env, "timetable", "cancel", "5А", "2026-12-07", "09:00")
    assert cancelled.exit_code == 0, cancelled.output
    assert fake.sent[3] == timetable_pb2.CancelLessonRequest(class_id="c-5a", date="2026-12-07", slot_id="1-09:00")
    holidays = await parta(env, "holidays", "set", "2026-12-30..2027-01-08 Зимние каникулы")
    assert holidays.exit_code == 0, holidays.output
    assert fake.sent[4].school_id == "s-1" and fake.sent[4].holidays[0].title == "Зимние каникулы"  # type: ignore[attr-defined]
    bad = await parta(env, "timetable", "set", "5А", "-l", "someday 09:00 45 Математика")
    assert bad.exit_code != 0 and len(fake.sent) == 5


def test_lesson_notes_read_in_russian_and_english() -> None:
    from parta.chat.v1 import events_pb2 as chat_events
    from parta_client.cli.chats import system_text

    note = chat_events.SystemNote(
        kind=chat_events.SYSTEM_KIND_LESSON_CANCELLED, title="Физика", local_time="2026-12-08 09:00"
    )
    assert system_text(note, {}, "ru") == "Урок отменён: Физика в 09:00, 8 декабря"
    assert system_text(note, {}, "en") == "Lesson cancelled: Физика at 09:00, 2026-12-08"
    note.kind = chat_events.SYSTEM_KIND_LESSON_SCHEDULED
    assert system_text(note, {}, "ru") == "Физика в 09:00, 8 декабря"
