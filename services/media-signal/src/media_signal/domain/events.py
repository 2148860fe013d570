"""Domain events of rooms (past tense); adapters turn them into the protobuf contract."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from media_signal.domain.rooms import AttendanceEntry, Room


@dataclass(frozen=True)
class RoomScheduled:
    room: Room


@dataclass(frozen=True)
class RoomStarted:
    room: Room
    started_at: datetime


@dataclass(frozen=True)
class RoomEnded:
    room: Room
    ended_at: datetime
    attendance: dict[str, AttendanceEntry]


@dataclass(frozen=True)
class ParticipantJoined:
    room_id: str
    school_id: str
    user_id: str
    joined_at: datetime


@dataclass(frozen=True)
class ParticipantLeft:
    room_id: str
    school_id: str
    user_id: str
    left_at: datetime
    reason: str  # "left" | "removed" | "timeout" | "room_ended"


@dataclass(frozen=True)
class RoomCancelled:
    """A timetable lesson that had not started was cancelled (ended without attendance)."""

    room: Room
    cancelled_at: datetime


@dataclass(frozen=True)
class RoomRescheduled:
    """A timetable lesson that had not started changed (subject, teacher, start or length)."""

    room: Room
    previous: Room


RoomEvent = (
    RoomScheduled | RoomStarted | RoomEnded | ParticipantJoined | ParticipantLeft | RoomCancelled | RoomRescheduled
)
