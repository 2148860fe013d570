"""`parta attendance`: who came to lessons, when, for how long, late, left early; as a table or CSV."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from parta.media_signal.v1 import media_signal_pb2
from parta.school.v1 import school_pb2

from parta_client.attendance import attendance_csv, class_attendance, lesson_attendance, student_attendance
from parta_client.cli.context import Cli, grid, out, when
from parta_client.cli.lookup import class_by_ref, current_school, display_names, people_by_ref
from parta_client.client import Parta
from parta_client.resolve import UsageError

attendance_app = typer.Typer(
    help="Attendance of lessons: for the class head, the lesson's teacher, admins; students and parents see their own.",
    no_args_is_help=True,
)

CsvOption = Annotated[bool, typer.Option("--csv", help="Print CSV (UTF-8; columns in docs/cli.md) instead of a table.")]
FromOption = Annotated[
    str, typer.Option("--from", help="First day, YYYY-MM-DD in the school's time (default: 6 days ago).")
]
ToOption = Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD, included (default: today).")]
Rows = list[media_signal_pb2.AttendanceRow]


def minutes(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def print_table(rows: Rows, names: dict[str, str]) -> None:
    table = grid("lesson", "start", "person", "joined", "present", "late", "left early", "stretches")
    for row in rows:
        who = names.get(row.user_id) or row.user_id
        table.add_row(
            row.title,
            when(row.lesson_start),
            who + (" (teacher)" if row.host else ""),
            when(row.first_joined_at),
            minutes(row.seconds_present) + (" (here now)" if row.present else ""),
            "late" if row.late else "",
            "left early" if row.left_early else "",
            str(len(row.intervals)),
        )
    out().print(table)


def school_zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name or "Europe/Moscow")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Moscow")


def day_range(first: str, last: str, zone: tzinfo, today: date) -> tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00) in the school's zone; both days default to a week to today."""
    try:
        end_day = date.fromisoformat(last) if last else today
        start_day = date.fromisoformat(first) if first else end_day - timedelta(days=6)
    except ValueError:
        raise UsageError("--from and --to are dates: YYYY-MM-DD") from None
    if end_day < start_day:
        raise UsageError("--to is before --from")
    since = datetime.combine(start_day, time(), zone)
    until = datetime.combine(end_day + timedelta(days=1), time(), zone)
    return since, until


def show(cli: Cli, as_csv: bool, fetch: Callable[[Parta], Awaitable[tuple[Rows, tzinfo]]]) -> None:
    async def action(parta: Parta) -> None:
        rows, zone = await fetch(parta)
        names = await display_names(parta, (r.user_id for r in rows))
        if as_csv:
            typer.echo(attendance_csv(rows, names, zone), nl=False)
            return
        cli.emit(rows, lambda: print_table(rows, names))

    cli.run(action)


async def zone_of(parta: Parta, school_id: str) -> tzinfo:
    school = (await parta.schools.GetSchool(school_pb2.GetSchoolRequest(school_id=school_id))).school
    return school_zone(school.timezone)


async def school_and_range(cli: Cli, parta: Parta, first: str, last: str) -> tuple[str, datetime, datetime, tzinfo]:
    school_id = await current_school(cli, parta)
    zone = await zone_of(parta, school_id)
    since, until = day_range(first, last, zone, datetime.now(zone).date())
    return school_id, since, until, zone


@attendance_app.command("lesson")
def attendance_lesson(
    ctx: typer.Context,
    room_id: Annotated[str, typer.Argument(help="The lesson's room id.")],
    as_csv: CsvOption = False,
) -> None:
    """Everyone who joined one lesson (a student or parent: their own row)."""
    cli = Cli.of(ctx)

    async def fetch(parta: Parta) -> tuple[Rows, tzinfo]:
        rows = await lesson_attendance(parta, room_id)
        # Times in the lesson's school's zone (GetRoom is not open to parents: the rows name it).
        return rows, await zone_of(parta, rows[0].school_id) if rows else UTC

    show(cli, as_csv, fetch)


@attendance_app.command("class")
def attendance_class(
    ctx: typer.Context,
    class_: Annotated[str, typer.Argument(help="The class (id or name, e.g. 5А).")],
    first: FromOption = "",
    last: ToOption = "",
    as_csv: CsvOption = False,
) -> None:
    """A class's lessons over a few days (at most 93)."""
    cli = Cli.of(ctx)

    async def fetch(parta: Parta) -> tuple[Rows, tzinfo]:
        school_id, since, until, zone = await school_and_range(cli, parta, first, last)
        class_id = await class_by_ref(parta, school_id, class_)
        return await class_attendance(parta, school_id, class_id, since, until), zone

    show(cli, as_csv, fetch)


@attendance_app.command("student")
def attendance_student(
    ctx: typer.Context,
    person: Annotated[str, typer.Argument(help="The student (id or name).")],
    first: FromOption = "",
    last: ToOption = "",
    as_csv: CsvOption = False,
) -> None:
    """One student's lessons over a few days (the student, their parents, staff)."""
    cli = Cli.of(ctx)

    async def fetch(parta: Parta) -> tuple[Rows, tzinfo]:
        school_id, since, until, zone = await school_and_range(cli, parta, first, last)
        (user_id,) = await people_by_ref(parta, school_id, [person])
        return await student_attendance(parta, school_id, user_id, since, until), zone

    show(cli, as_csv, fetch)
