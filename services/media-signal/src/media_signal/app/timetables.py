"""Lessons from the timetable: school publishes each class's week (TimetableChanged); this service,
the owner of lessons, keeps the newest plan per class and makes the lessons of the next `horizon`
(7 days) rooms ahead of time. A pass is idempotent: lesson ids come from class + date + slot, a
create finds an existing room, and every change is a version-checked write with its event
(RoomScheduled, RoomRescheduled, RoomCancelled), so replays, redeliveries and several replicas
passing at once never duplicate a lesson or an announcement.

A pass runs for a class when its plan changes, and for every running plan periodically (the
horizon moves with the clock). Only lessons that have not started are touched: a lesson that is live
or over stays as it was. An archived class's upcoming lessons are cancelled.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import structlog
from parta_common.clock import Clock
from parta_common.retries import with_retries

from media_signal.app.ports import RoomRepository, TimetableLessons, TimetablePlans
from media_signal.domain import events
from media_signal.domain.rooms import Room, RoomState
from media_signal.domain.timetables import (
    HORIZON,
    PlannedLesson,
    TimetablePlan,
    cancelled,
    differs,
    expand,
    lesson_room,
    reschedule,
    restored,
    was_cancelled,
    zone,
)

log = structlog.get_logger("media_signal.timetables")


class LessonPlanner:
    def __init__(
        self,
        *,
        plans: TimetablePlans,
        lessons: TimetableLessons,
        rooms: RoomRepository,
        clock: Clock,
        horizon: timedelta = HORIZON,
    ):
        self._plans = plans
        self._lessons = lessons
        self._rooms = rooms
        self._clock = clock
        self._horizon = horizon

    async def plan_changed(self, plan: TimetablePlan) -> None:
        """A TimetableChanged: keep it when newer, then bring the class's lessons in line with the
        newest plan (a replayed older plan still triggers a pass, with the stored newest one)."""
        await self._plans.put(plan)
        newest = await self._plans.get(plan.class_id)
        if newest is not None:
            await self.materialise(newest)

    async def tick(self) -> int:
        """The periodic pass over every running plan; returns how many plans it passed."""
        now = self._clock.now()
        plans = await self._plans.running(now.astimezone(zone("")).date() - timedelta(days=1))
        for plan in plans:
            await self.materialise(plan)
        return len(plans)

    async def materialise(self, plan: TimetablePlan) -> None:
        now = self._clock.now()
        end = now + self._horizon
        # An archived class (graduated, or archived by an admin) has no more lessons.
        planned = [] if await self._lessons.class_archived(plan.class_id) else expand(plan, now, end)
        # One read for the whole pass; a lesson whose write loses a race reads its room again.
        known = await self._lessons.existing([p.room_id for p in planned])
        for lesson in planned:
            room = known.get(lesson.room_id)
            if room is None or self._needs_change(room, lesson):
                await with_retries(partial(self._ensure, lesson))
        wanted = {p.room_id for p in planned}
        for room in await self._lessons.scheduled(plan.class_id, now, end):
            if room.room_id not in wanted:
                await with_retries(partial(self._cancel, room.room_id))

    @staticmethod
    def _needs_change(room: Room, p: PlannedLesson) -> bool:
        return (room.state is RoomState.SCHEDULED and differs(room, p)) or was_cancelled(room)

    async def _ensure(self, p: PlannedLesson) -> None:
        room = await self._rooms.get(p.room_id)
        now = self._clock.now()
        if room is None:
            fresh = lesson_room(p, now)
            await self._rooms.create(fresh, [events.RoomScheduled(fresh)])
            return
        if room.state is RoomState.SCHEDULED and differs(room, p):
            changed = reschedule(room, p)
            await self._rooms.save(changed, [events.RoomRescheduled(changed, room)], expected_version=room.version)
        elif was_cancelled(room):
            back = restored(room, p)
            await self._rooms.save(back, [events.RoomScheduled(back)], expected_version=room.version)

    async def _cancel(self, room_id: str) -> None:
        room = await self._rooms.get(room_id)
        if room is None or room.state is not RoomState.SCHEDULED:
            return  # started meanwhile, or cancelled by another pass
        now = self._clock.now()
        gone = cancelled(room, now)
        await self._rooms.save(gone, [events.RoomCancelled(gone, now)], expected_version=room.version)
