"""What a system message says: a kind and its arguments, which clients render in the reader's
language, and the Russian text kept in the message body for clients that predate the kind.

Titles of the chats the server provisions are Russian too (`parents_title`, `staff_title`): the
class or school name, a dash, the kind of chat — «5А — родители», «Школа № 17 — учительская»."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from zoneinfo import ZoneInfo


class SystemKind(IntEnum):
    """Numbered as the proto's SystemKind."""

    UNSPECIFIED = 0
    MEMBER_JOINED = 1
    LESSON_STARTED = 2
    LESSON_ENDED = 3
    LESSON_SCHEDULED = 4
    LESSON_CHANGED = 5
    LESSON_CANCELLED = 6


@dataclass(frozen=True)
class SystemNote:
    kind: SystemKind
    subject_user_id: str = ""
    subject_name: str = ""  # the name when the note was written ("" — not known or not shown)
    title: str = ""
    count: int = 0
    # Lessons of the timetable: when the lesson starts, and the same instant on the school's wall
    # clock ("2026-12-08 09:00"), which the Russian text uses.
    starts_at: datetime | None = None
    local_time: str = ""


def member_joined(user_id: str, name: str) -> SystemNote:
    return SystemNote(SystemKind.MEMBER_JOINED, subject_user_id=user_id, subject_name=name)


def lesson_started(title: str) -> SystemNote:
    return SystemNote(SystemKind.LESSON_STARTED, title=title)


def lesson_ended(attended: int) -> SystemNote:
    return SystemNote(SystemKind.LESSON_ENDED, count=attended)


LESSON_NOTES = {
    "scheduled": SystemKind.LESSON_SCHEDULED,
    "changed": SystemKind.LESSON_CHANGED,
    "cancelled": SystemKind.LESSON_CANCELLED,
}
_MONTHS = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)


def lesson_note(change: str, subject: str, starts_at: datetime, tz: ZoneInfo) -> SystemNote:
    """A timetable lesson scheduled, changed or cancelled ("scheduled" | "changed" | "cancelled"),
    with its start on the school's wall clock."""
    local = starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return SystemNote(LESSON_NOTES[change], title=subject, starts_at=starts_at, local_time=local)


def _lesson_text(prefix: str, note: SystemNote) -> str:
    """ "Математика в 09:00, 8 декабря" (the date: notes come up to a week ahead)."""
    when = note.local_time
    if len(when) != 16:
        return f"{prefix}{note.title}".strip()
    day, month, clock = int(when[8:10]), int(when[5:7]), when[11:]
    return f"{prefix}{note.title} в {clock}, {day} {_MONTHS[month - 1]}"


def russian_text(note: SystemNote) -> str:
    """The body text: gender-neutral forms, since the server does not know the person's gender."""
    match note.kind:
        case SystemKind.MEMBER_JOINED:
            return f"В чате новый участник: {note.subject_name}" if note.subject_name else "В чате новый участник"
        case SystemKind.LESSON_STARTED:
            return f"Урок начался: {note.title}" if note.title else "Урок начался"
        case SystemKind.LESSON_ENDED:
            return f"Урок закончился, присутствовали: {note.count}"
        case SystemKind.LESSON_SCHEDULED:
            return _lesson_text("", note)
        case SystemKind.LESSON_CHANGED:
            return _lesson_text("Урок изменён: ", note)
        case SystemKind.LESSON_CANCELLED:
            return _lesson_text("Урок отменён: ", note)
    return "Системное сообщение"


def parents_title(class_title: str) -> str:
    return f"{class_title} — родители"


def staff_title(school_name: str) -> str:
    return f"{school_name} — учительская"
