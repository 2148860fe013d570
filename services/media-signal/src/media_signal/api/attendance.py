"""AttendanceService: thin servicer (pb → use case → pb) for ListAttendance."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from parta.common.v1 import types_pb2
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta.media_signal.v1 import media_signal_pb2_grpc as pb_grpc
from parta_common.errors import InvalidArgument
from parta_common.grpc.context import require_principal
from parta_common.integers import MAX_OFFSET, require_int
from parta_common.pagination import decode_page_token, encode_page_token, page_size
from parta_common.timestamps import ts

from media_signal.api.mappers import MAX_TS, MIN_TS
from media_signal.app.attendance import AttendancePage, AttendanceUseCases, Position
from media_signal.domain.attendance import AttendanceQuery, AttendanceRow, lesson_start

TOKEN = "page.page_token"


def _moment(request: pb.ListAttendanceRequest, field: str) -> datetime | None:
    if not request.HasField(field):
        return None
    stamp: Timestamp = getattr(request, field)
    if not MIN_TS <= stamp.seconds <= MAX_TS:
        raise InvalidArgument.field(field, "between 2000 and 2100")
    return stamp.ToDatetime(UTC)


def query_of(request: pb.ListAttendanceRequest) -> tuple[AttendanceQuery, Position]:
    state = decode_page_token(request.page.page_token, TOKEN)
    position = Position(
        require_int(TOKEN, state.get("l", 0), maximum=MAX_OFFSET, description="not a page token from this service"),
        require_int(TOKEN, state.get("r", 0), maximum=MAX_OFFSET, description="not a page token from this service"),
    )
    query = AttendanceQuery(
        school_id=request.school_id,
        room_id=request.room_id,
        class_id=request.class_id,
        student_id=request.student_user_id,
        since=_moment(request, "since"),
        until=_moment(request, "until"),
    )
    return query, position


def row(r: AttendanceRow) -> pb.AttendanceRow:
    out = pb.AttendanceRow(
        room_id=r.room.room_id,
        school_id=r.room.school_id,
        class_id=r.room.class_id,
        title=r.room.title,
        user_id=r.user_id,
        host=r.is_host,
        first_joined_at=ts(r.first_joined_at),
        seconds_present=round(r.total_seconds),
        late=r.late,
        left_early=r.left_early,
        present=r.present_now,
    )
    start = lesson_start(r.room)
    if start is not None:
        out.lesson_start.CopyFrom(ts(start))
    if r.room.ended_at is not None:
        out.lesson_ended_at.CopyFrom(ts(r.room.ended_at))
    if r.last_left_at is not None:
        out.last_left_at.CopyFrom(ts(r.last_left_at))
    for interval in r.intervals:
        item = out.intervals.add(joined_at=ts(interval.joined_at))
        if interval.left_at is not None:
            item.left_at.CopyFrom(ts(interval.left_at))
    return out


class AttendanceServicer(pb_grpc.AttendanceServiceServicer):
    def __init__(self, attendance: AttendanceUseCases):
        self._attendance = attendance

    async def ListAttendance(
        self, request: pb.ListAttendanceRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAttendanceResponse:
        query, position = query_of(request)
        page: AttendancePage = await self._attendance.list_attendance(
            query,
            require_principal().user_id,
            page_size=page_size(request.page.page_size, "page.page_size"),
            position=position,
        )
        token = "" if page.next is None else encode_page_token({"l": page.next.lesson, "r": page.next.row})
        graces = self._attendance.graces
        return pb.ListAttendanceResponse(
            rows=[row(r) for r in page.rows],
            page=types_pb2.PageInfo(next_page_token=token),
            late_grace_seconds=int(graces.late.total_seconds()),
            early_leave_grace_seconds=int(graces.early_leave.total_seconds()),
        )
