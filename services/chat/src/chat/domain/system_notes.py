"""What a system message says: a kind and its arguments, which clients render in the reader's
language, and the Russian text kept in the message body for clients that predate the kind.

Titles of the chats the server provisions are Russian too (`parents_title`, `staff_title`): the
class or school name, a dash, the kind of chat — «5А — родители», «Школа № 17 — учительская»."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class SystemKind(IntEnum):
    """Numbered as the proto's SystemKind."""

    UNSPECIFIED = 0
    MEMBER_JOINED = 1
    LESSON_STARTED = 2
    LESSON_ENDED = 3


@dataclass(frozen=True)
class SystemNote:
    kind: SystemKind
    subject_user_id: str = ""
    subject_name: str = ""  # the name when the note was written ("" — not known or not shown)
    title: str = ""
    count: int = 0


def member_joined(user_id: str, name: str) -> SystemNote:
    return SystemNote(SystemKind.MEMBER_JOINED, subject_user_id=user_id, subject_name=name)


def lesson_started(title: str) -> SystemNote:
    return SystemNote(SystemKind.LESSON_STARTED, title=title)


def lesson_ended(attended: int) -> SystemNote:
    return SystemNote(SystemKind.LESSON_ENDED, count=attended)


def russian_text(note: SystemNote) -> str:
    """The body text: gender-neutral forms, since the server does not know the person's gender."""
    match note.kind:
        case SystemKind.MEMBER_JOINED:
            return f"В чате новый участник: {note.subject_name}" if note.subject_name else "В чате новый участник"
        case SystemKind.LESSON_STARTED:
            return f"Урок начался: {note.title}" if note.title else "Урок начался"
        case SystemKind.LESSON_ENDED:
            return f"Урок закончился, присутствовали: {note.count}"
    return "Системное сообщение"


def parents_title(class_title: str) -> str:
    return f"{class_title} — родители"


def staff_title(school_name: str) -> str:
    return f"{school_name} — учительская"
