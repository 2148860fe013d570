"""TimetableService: thin servicer (pb → use case → pb): a class's week, one lesson cancelled, holidays."""

from __future__ import annotations

from parta.school.v1 import timetable_pb2 as pb
from parta.school.v1 import timetable_pb2_grpc as rpc

from school.api import mappers as m
from school.api.mappers import Ctx
from school.app.timetables import SetWeek, Timetables
from school.codecs import date_range_pb, timetable_pb
from school.domain.timetables import Slot


class TimetableServicer(rpc.TimetableServiceServicer):
    def __init__(self, timetables: Timetables):
        self.timetables = timetables

    async def SetTimetable(self, request: pb.SetTimetableRequest, context: Ctx) -> pb.SetTimetableResponse:
        slots = [
            Slot(s.weekday, s.start_minute, s.duration_minutes, s.subject, s.teacher_user_id) for s in request.slots
        ]
        week = SetWeek(request.class_id, slots, request.first_day, request.last_day)
        t = await self.timetables.set_timetable(m.caller(), week)
        return pb.SetTimetableResponse(timetable=timetable_pb(t))

    async def GetTimetable(self, request: pb.GetTimetableRequest, context: Ctx) -> pb.GetTimetableResponse:
        found = await self.timetables.get_timetable(m.caller(), request.class_id)
        return pb.GetTimetableResponse(timetable=timetable_pb(found.timetable), timezone=found.timezone)

    async def CancelLesson(self, request: pb.CancelLessonRequest, context: Ctx) -> pb.CancelLessonResponse:
        t = await self.timetables.cancel_lesson(m.caller(), request.class_id, request.date, request.slot_id)
        return pb.CancelLessonResponse(timetable=timetable_pb(t))

    async def SetHolidays(self, request: pb.SetHolidaysRequest, context: Ctx) -> pb.SetHolidaysResponse:
        ranges = [(r.first_day, r.last_day, r.title) for r in request.holidays]
        h = await self.timetables.set_holidays(m.caller(), request.school_id, ranges)
        return pb.SetHolidaysResponse(holidays=[date_range_pb(r) for r in h.ranges], version=h.version)

    async def GetHolidays(self, request: pb.GetHolidaysRequest, context: Ctx) -> pb.GetHolidaysResponse:
        h = await self.timetables.get_holidays(m.caller(), request.school_id)
        return pb.GetHolidaysResponse(holidays=[date_range_pb(r) for r in h.ranges], version=h.version)
