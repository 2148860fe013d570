"""The consumer of school's timetables (school.timetable.v1): each TimetableChanged becomes a plan
and a materialisation pass for its class (app/timetables.py)."""

from __future__ import annotations

from datetime import date

from parta.common.v1 import envelope_pb2
from parta.school.v1 import timetable_pb2 as tt
from parta_common.events import topics
from parta_common.events.router import EventRouter

from media_signal.app.timetables import LessonPlanner
from media_signal.domain.timetables import TimetablePlan, WeekSlot

TOPICS = (topics.SCHOOL_TIMETABLE,)


def plan_of(snapshot: tt.TimetableSnapshot, version: int) -> TimetablePlan:
    t = snapshot.timetable
    return TimetablePlan(
        school_id=t.school_id,
        class_id=t.class_id,
        class_title=snapshot.class_title,
        academic_year=t.academic_year,
        timezone=snapshot.timezone,
        first_day=date.fromisoformat(t.first_day),
        last_day=date.fromisoformat(t.last_day),
        slots=tuple(
            WeekSlot(s.slot_id, s.weekday, s.start_minute, s.duration_minutes, s.subject, s.teacher_user_id)
            for s in t.slots
        ),
        holidays=tuple((date.fromisoformat(h.first_day), date.fromisoformat(h.last_day)) for h in snapshot.holidays),
        cancelled=frozenset((date.fromisoformat(c.date), c.slot_id) for c in t.cancelled),
        version=version,
    )


class TimetableEvents:
    def __init__(self, planner: LessonPlanner):
        self._planner = planner

    def router(self) -> EventRouter:
        router = EventRouter()
        router.register(tt.TimetableChanged, self.on_timetable)
        return router

    async def on_timetable(self, event: tt.TimetableChanged, envelope: envelope_pb2.EventEnvelope) -> None:
        await self._planner.plan_changed(plan_of(event.timetable, envelope.aggregate_version))
