"""ListAttendance: a lesson's, a class's or a student's attendance, as rows the reader may see.

A lesson is read from its room document; a class or a student over a date range from the lessons
that started in it (the store's `LessonCatalog`, by start time then id). Pages count rows: the token
names the lesson and the row within it where the next page starts, and one call reads at most
SCAN_LIMIT lessons, so a page may be short while more follow (like ListRooms).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from parta_common.clock import Clock
from parta_common.errors import InvalidArgument, NotFound

from media_signal.app.ports import MembershipDirectory, RoomRepository
from media_signal.domain.attendance import (
    DEFAULT_GRACES,
    AttendanceQuery,
    AttendanceRow,
    Graces,
    Scope,
    check_may_read_class,
    check_may_read_lesson,
    check_may_read_student,
    may_see_row,
    rows_of,
    validate_query,
)
from media_signal.domain.rooms import Room, RoomKind, require_same_school

# Lessons read per call at most, whatever the page size.
SCAN_LIMIT = 200


class LessonCatalog(Protocol):
    async def lessons(self, query: AttendanceQuery, *, offset: int, limit: int) -> list[Room]:
        """Lessons of query.school_id that started in [since, until), of query.class_id or attended
        by query.student_id, by start time then id, skipping the first `offset`."""
        ...


@dataclass(frozen=True)
class Position:
    lesson: int = 0  # lessons of the range before this one
    row: int = 0  # visible rows of that lesson already returned


@dataclass(frozen=True)
class AttendancePage:
    rows: list[AttendanceRow]
    next: Position | None


class AttendanceUseCases:
    def __init__(
        self,
        *,
        rooms: RoomRepository,
        catalog: LessonCatalog,
        directory: MembershipDirectory,
        clock: Clock,
        graces: Graces = DEFAULT_GRACES,
    ):
        self._rooms = rooms
        self._catalog = catalog
        self._directory = directory
        self._clock = clock
        self.graces = graces

    async def list_attendance(
        self, query: AttendanceQuery, user_id: str, *, page_size: int, position: Position
    ) -> AttendancePage:
        validate_query(query)
        if position.lesson < 0 or position.row < 0:
            raise InvalidArgument.field("page.page_token", "not a page token from this service")
        now = self._clock.now()
        if query.scope is Scope.LESSON:
            room = await self._rooms.get(query.room_id)
            if room is None or room.kind is not RoomKind.LESSON:
                raise NotFound("lesson not found", reason="ROOM_NOT_FOUND")
            access = await self._directory.access(room.school_id, user_id)
            require_same_school(access)
            check_may_read_lesson(room, access)
            visible = [r for r in rows_of(room, now, self.graces) if may_see_row(room, r.user_id, access)]
            end = position.row + page_size
            more = Position(0, end) if end < len(visible) else None
            return AttendancePage(visible[position.row : end], more)

        access = await self._directory.access(query.school_id, user_id)
        require_same_school(access)
        if query.scope is Scope.CLASS:
            check_may_read_class(query.class_id, access)
        else:
            check_may_read_student(query.student_id, access)
        shown: list[AttendanceRow] = []
        index, skip = position.lesson, position.row
        end = index + SCAN_LIMIT
        while index < end:
            wanted = min(50, end - index)
            batch = await self._catalog.lessons(query, offset=index, limit=wanted)
            for room in batch:
                visible = [r for r in rows_of(room, now, self.graces) if may_see_row(room, r.user_id, access)]
                if query.student_id:
                    visible = [r for r in visible if r.user_id == query.student_id]
                room_rows = visible[skip:]
                room_taken = skip
                skip = 0
                for row in room_rows:
                    shown.append(row)
                    room_taken += 1
                    if len(shown) == page_size:
                        if room_taken < len(visible):
                            return AttendancePage(shown, Position(index, room_taken))
                        return AttendancePage(shown, Position(index + 1, 0))
                index += 1
            if len(batch) < wanted:
                return AttendancePage(shown, None)
        return AttendancePage(shown, Position(index, 0))
