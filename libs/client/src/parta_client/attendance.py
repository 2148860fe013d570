"""Attendance in the SDK: every row of a ListAttendance query (all pages), and the rows as CSV.

    rows = await lesson_attendance(parta, room_id)
    rows = await class_attendance(parta, school_id, class_id, since, until)
    text = attendance_csv(rows, names)      # names: user id → display name (optional)

The CSV (RFC 4180, UTF-8, one header line, "," separated, "\\r\\n" line ends) has the columns in
CSV_COLUMNS; times are ISO 8601 in UTC (or in `tz` when given), durations in whole seconds, flags
"yes"/"no", names and titles that a spreadsheet would take for a formula (=, +, -, @) prefixed with
"'", and the stretches of presence as "joined/left" pairs separated by ";" (an open stretch
ends in "/"). docs/cli.md "Attendance" describes it for teachers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo

from google.protobuf.timestamp_pb2 import Timestamp
from parta.common.v1 import types_pb2
from parta.media_signal.v1 import media_signal_pb2 as pb

from parta_client.client import Parta

CSV_COLUMNS = (
    "lesson_id",
    "lesson",
    "class_id",
    "lesson_start",
    "lesson_end",
    "user_id",
    "name",
    "role",
    "first_joined",
    "last_left",
    "seconds_present",
    "late",
    "left_early",
    "present_now",
    "intervals",
)


async def list_attendance(parta: Parta, request: pb.ListAttendanceRequest) -> list[pb.AttendanceRow]:
    """Every row the caller may see, through all pages (a page may be short while more follow)."""
    rows: list[pb.AttendanceRow] = []
    token = ""
    while True:
        page = pb.ListAttendanceRequest()
        page.CopyFrom(request)
        page.page.CopyFrom(types_pb2.PageRequest(page_size=100, page_token=token))
        reply = await parta.attendance.ListAttendance(page)
        rows.extend(reply.rows)
        token = reply.page.next_page_token
        if not token:
            return rows


def _stamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC))
    return stamp


async def lesson_attendance(parta: Parta, room_id: str) -> list[pb.AttendanceRow]:
    return await list_attendance(parta, pb.ListAttendanceRequest(room_id=room_id))


async def class_attendance(
    parta: Parta, school_id: str, class_id: str, since: datetime, until: datetime
) -> list[pb.AttendanceRow]:
    """Lessons of the class that started in [since, until) (at most 93 days)."""
    request = pb.ListAttendanceRequest(school_id=school_id, class_id=class_id, since=_stamp(since), until=_stamp(until))
    return await list_attendance(parta, request)


async def student_attendance(
    parta: Parta, school_id: str, student_user_id: str, since: datetime, until: datetime
) -> list[pb.AttendanceRow]:
    request = pb.ListAttendanceRequest(
        school_id=school_id, student_user_id=student_user_id, since=_stamp(since), until=_stamp(until)
    )
    return await list_attendance(parta, request)


def _iso(stamp: Timestamp, tz: tzinfo) -> str:
    if not stamp.seconds and not stamp.nanos:
        return ""
    return stamp.ToDatetime(UTC).astimezone(tz).isoformat(timespec="seconds")


def _text(value: str) -> str:
    """A name or title that a spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def csv_row(row: pb.AttendanceRow, names: Mapping[str, str], tz: tzinfo = UTC) -> list[str]:
    intervals = ";".join(
        f"{_iso(i.joined_at, tz)}/{_iso(i.left_at, tz) if i.HasField('left_at') else ''}" for i in row.intervals
    )
    return [
        row.room_id,
        _text(row.title),
        row.class_id,
        _iso(row.lesson_start, tz),
        _iso(row.lesson_ended_at, tz),
        row.user_id,
        _text(names.get(row.user_id, "")),
        "teacher" if row.host else "participant",
        _iso(row.first_joined_at, tz),
        _iso(row.last_left_at, tz),
        str(row.seconds_present),
        _yes(row.late),
        _yes(row.left_early),
        _yes(row.present),
        intervals,
    ]


def attendance_csv(rows: Iterable[pb.AttendanceRow], names: Mapping[str, str] | None = None, tz: tzinfo = UTC) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(csv_row(row, names or {}, tz))
    return buffer.getvalue()
