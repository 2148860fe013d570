"""Family-scoped export (issue 17): media-signal's part of an export — the subject's attendance of
lessons (AttendanceService's data: one row per lesson they joined, newest first). Answered from
identity's DataExportRequested (parta_common.exports), sent only once identity authorized it."""

from __future__ import annotations

from typing import Any, Protocol

from parta_common.clock import Clock

from media_signal.domain.attendance import DEFAULT_GRACES, Graces, lesson_start, rows_of
from media_signal.domain.rooms import Room

# Lessons read for one export at most; the part keeps what fits in its 256 KiB.
MAX_LESSONS = 5_000


class AttendedLessons(Protocol):
    async def attended_by(self, user_id: str, limit: int) -> list[Room]:
        """Lessons (any school) `user_id` joined, newest first."""
        ...


class ExportParts:
    def __init__(self, lessons: AttendedLessons, clock: Clock, graces: Graces = DEFAULT_GRACES):
        self._lessons = lessons
        self._clock = clock
        self._graces = graces

    async def attendance_part(self, subject_user_id: str) -> dict[str, Any]:
        now = self._clock.now()
        rows = []
        for room in await self._lessons.attended_by(subject_user_id, MAX_LESSONS):
            mine = [r for r in rows_of(room, now, self._graces) if r.user_id == subject_user_id]
            if not mine:
                continue
            row = mine[0]
            rows.append(
                {
                    "room_id": room.room_id,
                    "school_id": room.school_id,
                    "class_id": room.class_id,
                    "title": room.title,
                    "lesson_start": lesson_start(room),
                    "ended_at": room.ended_at,
                    "first_joined_at": row.first_joined_at,
                    "last_left_at": row.last_left_at,
                    "total_seconds": round(row.total_seconds, 1),
                    "late": row.late,
                    "left_early": row.left_early,
                    "intervals": [{"joined_at": i.joined_at, "left_at": i.left_at} for i in row.intervals],
                }
            )
        return {"user_id": subject_user_id, "lessons": rows}
