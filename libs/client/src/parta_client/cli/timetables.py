"""`parta timetable` (a class's week) and `parta holidays` (the school's holidays).

A lesson is written `WEEKDAY HH:MM MINUTES SUBJECT [@TEACHER]`: "mon 09:00 45 Математика",
"ср 12:30 40 Физика @Павел Иванов" (weekdays: mon…sun, пн…вс or 1…7; the teacher by name or id, the
class head when left out). A holiday is `FIRST..LAST [TITLE]`: "2026-12-30..2027-01-08 Зимние каникулы".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated

import typer
from parta.school.v1 import timetable_pb2 as tt

from parta_client.cli.context import Cli, grid, out
from parta_client.cli.lookup import class_by_ref, current_school, display_names, person_by_ref
from parta_client.client import Parta

timetable_app = typer.Typer(
    help="A class's weekly timetable (admins and the class head edit it).", no_args_is_help=True
)
holidays_app = typer.Typer(help="The school's holidays (admins set them).", no_args_is_help=True)

WEEKDAYS = {
    "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7,
    "пн": 1, "вт": 2, "ср": 3, "чт": 4, "пт": 5, "сб": 6, "вс": 7,
    "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7,
}  # fmt: skip
DAY_NAMES = ("", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LESSON = r"^\s*(\S+)\s+(\d{1,2}):(\d{2})\s+(\d{1,3})\s+(.+?)\s*$"


@dataclass(frozen=True)
class LessonSpec:
    weekday: int
    start_minute: int
    duration_minutes: int
    subject: str
    teacher: str = ""  # a name or an id; "" = the class head


def parse_lesson(text: str) -> LessonSpec:
    """ "mon 09:00 45 Математика @Ольга Смирнова" → LessonSpec; BadParameter on anything else."""
    match = re.match(_LESSON, text)
    if match is None:
        raise typer.BadParameter(
            f"{text!r}: write WEEKDAY HH:MM MINUTES SUBJECT [@TEACHER], e.g. 'mon 09:00 45 Математика'"
        )
    day, hours, minutes, duration, rest = match.groups()
    weekday = WEEKDAYS.get(day.lower())
    if weekday is None:
        raise typer.BadParameter(f"{day!r} is not a weekday (mon…sun, пн…вс, 1…7)")
    if int(hours) > 23 or int(minutes) > 59:
        raise typer.BadParameter(f"{hours}:{minutes} is not a time of day")
    subject, _, teacher = rest.partition("@")
    if not subject.strip():
        raise typer.BadParameter(f"{text!r}: the subject is missing")
    return LessonSpec(weekday, int(hours) * 60 + int(minutes), int(duration), subject.strip(), teacher.strip())


def parse_holiday(text: str) -> tt.DateRange:
    """ "2026-12-30..2027-01-08 Зимние каникулы" (or one day: "2026-11-04 День народного единства")."""
    span, _, title = text.strip().partition(" ")
    first, _, last = span.partition("..")
    try:
        a = date.fromisoformat(first)
        b = date.fromisoformat(last) if last else a
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: write FIRST..LAST [TITLE], e.g. '2026-12-30..2027-01-08 Каникулы'"
        ) from None
    return tt.DateRange(first_day=a.isoformat(), last_day=b.isoformat(), title=title.strip())


def slot_ref(ref: str, on: date | None = None) -> str:
    """A slot id from "1-09:00", "mon 09:00" or — with the lesson's date — "09:00"."""
    ref = ref.strip()
    if re.fullmatch(r"[1-7]-\d{2}:\d{2}", ref):
        return ref
    parts = ref.split()
    if len(parts) == 2 and parts[0].lower() in WEEKDAYS:
        day, clock = WEEKDAYS[parts[0].lower()], parts[1]
    elif len(parts) == 1 and on is not None:
        day, clock = on.isoweekday(), parts[0]
    else:
        raise typer.BadParameter(f"{ref!r}: name the lesson as 09:00, 'mon 09:00' or 1-09:00")
    hours, _, minutes = clock.partition(":")
    if not (hours.isdigit() and minutes.isdigit()):
        raise typer.BadParameter(f"{clock!r} is not a time of day")
    return f"{day}-{int(hours):02d}:{int(minutes):02d}"


def _slot_pb(spec: LessonSpec, teacher_id: str) -> tt.TimetableSlot:
    return tt.TimetableSlot(
        weekday=spec.weekday,
        start_minute=spec.start_minute,
        duration_minutes=spec.duration_minutes,
        subject=spec.subject,
        teacher_user_id=teacher_id,
    )


async def _slots(parta: Parta, school_id: str, class_id: str, lessons: list[str]) -> list[tt.TimetableSlot]:
    specs = [parse_lesson(text) for text in lessons]
    out_slots = []
    for spec in specs:
        teacher = await person_by_ref(parta, school_id, spec.teacher, class_id) if spec.teacher else ""
        out_slots.append(_slot_pb(spec, teacher))
    return out_slots


async def show_timetable(parta: Parta, timetable: tt.Timetable, timezone: str) -> None:
    names = await display_names(parta, (s.teacher_user_id for s in timetable.slots))
    out().print(
        f"{timetable.academic_year}: {timetable.first_day} … {timetable.last_day}, times in {timezone}"
        f" (version {timetable.version})"
    )
    table = grid("day", "time", "min", "subject", "teacher", "slot")
    for s in timetable.slots:
        start = f"{s.start_minute // 60:02d}:{s.start_minute % 60:02d}"
        teacher = names.get(s.teacher_user_id) or s.teacher_user_id
        table.add_row(DAY_NAMES[s.weekday], start, str(s.duration_minutes), s.subject, teacher, s.slot_id)
    out().print(table)
    if timetable.cancelled:
        out().print("Cancelled: " + ", ".join(f"{c.date} {c.slot_id}" for c in timetable.cancelled))


async def _class(cli: Cli, parta: Parta, ref: str) -> tuple[str, str]:
    school_id = await current_school(cli, parta)
    return school_id, await class_by_ref(parta, school_id, ref)


async def _set(
    parta: Parta, class_id: str, slots: list[tt.TimetableSlot], first_day: str, last_day: str
) -> tt.SetTimetableResponse:
    request = tt.SetTimetableRequest(class_id=class_id, slots=slots, first_day=first_day, last_day=last_day)
    reply: tt.SetTimetableResponse = await parta.timetables.SetTimetable(request)
    return reply


ClassArg = Annotated[str, typer.Argument(metavar="CLASS", help="The class, e.g. 5А.")]


@timetable_app.command("show")
def timetable_show(ctx: typer.Context, class_: ClassArg) -> None:
    """The class's week (members of the class, staff)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        _, class_id = await _class(cli, parta, class_)
        reply = await parta.timetables.GetTimetable(tt.GetTimetableRequest(class_id=class_id))
        if cli.json:
            cli.emit(reply, lambda: None)
        else:
            await show_timetable(parta, reply.timetable, reply.timezone)

    cli.run(action)


@timetable_app.command("set")
def timetable_set(
    ctx: typer.Context,
    class_: ClassArg,
    lesson: Annotated[list[str], typer.Option("--lesson", "-l", help="WEEKDAY HH:MM MINUTES SUBJECT [@TEACHER]")],
    first_day: Annotated[str, typer.Option("--from", help="First day of lessons (default 1 September).")] = "",
    last_day: Annotated[str, typer.Option("--to", help="Last day of lessons (default 31 May).")] = "",
) -> None:
    """Replace the class's week (admins, the class head). Lessons of the next 7 days appear at once."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id, class_id = await _class(cli, parta, class_)
        reply = await _set(parta, class_id, await _slots(parta, school_id, class_id, lesson), first_day, last_day)
        cli.emit(reply.timetable, lambda: out().print(f"Timetable set: {len(reply.timetable.slots)} lessons a week."))

    cli.run(action)


@timetable_app.command("add")
def timetable_add(
    ctx: typer.Context, class_: ClassArg, lesson: Annotated[str, typer.Argument(help="'mon 09:00 45 Математика'")]
) -> None:
    """Add one weekly lesson (admins, the class head); a lesson at the same time is replaced."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id, class_id = await _class(cli, parta, class_)
        current = (await parta.timetables.GetTimetable(tt.GetTimetableRequest(class_id=class_id))).timetable
        [new] = await _slots(parta, school_id, class_id, [lesson])
        new_id = f"{new.weekday}-{new.start_minute // 60:02d}:{new.start_minute % 60:02d}"
        slots = [s for s in current.slots if s.slot_id != new_id] + [new]
        reply = await _set(parta, class_id, slots, current.first_day, current.last_day)
        cli.emit(reply.timetable, lambda: out().print(f"Lesson {new_id} set."))

    cli.run(action)


@timetable_app.command("remove")
def timetable_remove(
    ctx: typer.Context, class_: ClassArg, slot: Annotated[str, typer.Argument(help="'mon 09:00' or 1-09:00")]
) -> None:
    """Remove one weekly lesson (admins, the class head); its upcoming lessons are cancelled."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        _, class_id = await _class(cli, parta, class_)
        wanted = slot_ref(slot)
        current = (await parta.timetables.GetTimetable(tt.GetTimetableRequest(class_id=class_id))).timetable
        slots = [s for s in current.slots if s.slot_id != wanted]
        if len(slots) == len(current.slots):
            raise typer.BadParameter(f"the class has no lesson {wanted}")
        reply = await _set(parta, class_id, slots, current.first_day, current.last_day)
        cli.emit(reply.timetable, lambda: out().print(f"Lesson {wanted} removed."))

    cli.run(action)


@timetable_app.command("cancel")
def timetable_cancel(
    ctx: typer.Context,
    class_: ClassArg,
    day: Annotated[str, typer.Argument(metavar="DATE", help="2026-12-08")],
    slot: Annotated[str, typer.Argument(help="09:00 (on that date), 'mon 09:00' or 1-09:00")],
) -> None:
    """Cancel one lesson (admins, the class head); the class chat is told once."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        _, class_id = await _class(cli, parta, class_)
        try:
            on = date.fromisoformat(day)
        except ValueError:
            raise typer.BadParameter(f"{day!r} is not a date (2026-12-08)") from None
        wanted = slot_ref(slot, on)
        reply = await parta.timetables.CancelLesson(
            tt.CancelLessonRequest(class_id=class_id, date=on.isoformat(), slot_id=wanted)
        )
        cli.emit(reply.timetable, lambda: out().print(f"Lesson {wanted} on {on} cancelled."))

    cli.run(action)


def _show_holidays(reply: tt.GetHolidaysResponse | tt.SetHolidaysResponse) -> None:
    table = grid("from", "to", "title")
    for r in reply.holidays:
        table.add_row(r.first_day, r.last_day, r.title)
    out().print(table)


@holidays_app.command("show")
def holidays_show(ctx: typer.Context) -> None:
    """The school's holidays (members)."""
    cli = Cli.of(ctx)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        reply = await parta.timetables.GetHolidays(tt.GetHolidaysRequest(school_id=school_id))
        cli.emit(reply, lambda: _show_holidays(reply))

    cli.run(action)


@holidays_app.command("set")
def holidays_set(
    ctx: typer.Context,
    holidays: Annotated[list[str], typer.Argument(help="'2026-12-30..2027-01-08 Зимние каникулы' …")],
) -> None:
    """Replace the school's holidays (admins); no lessons are made on them."""
    cli = Cli.of(ctx)
    ranges = [parse_holiday(h) for h in holidays]

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        reply = await parta.timetables.SetHolidays(tt.SetHolidaysRequest(school_id=school_id, holidays=ranges))
        cli.emit(reply, lambda: _show_holidays(reply))

    cli.run(action)


@holidays_app.command("add")
def holidays_add(
    ctx: typer.Context, holiday: Annotated[str, typer.Argument(help="'2026-11-04 День народного единства'")]
) -> None:
    """Add one holiday range to the school's (admins)."""
    cli = Cli.of(ctx)
    wanted = parse_holiday(holiday)

    async def action(parta: Parta) -> None:
        school_id = await current_school(cli, parta)
        current = await parta.timetables.GetHolidays(tt.GetHolidaysRequest(school_id=school_id))
        ranges = [*current.holidays, wanted]
        reply = await parta.timetables.SetHolidays(tt.SetHolidaysRequest(school_id=school_id, holidays=ranges))
        cli.emit(reply, lambda: _show_holidays(reply))

    cli.run(action)
