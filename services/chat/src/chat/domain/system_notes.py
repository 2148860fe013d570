"""What a system message says: a kind and its arguments, which clients render in the reader's
language, and a text kept in the message body for clients that predate the kind, written in the
school's locale ("ru", the default, or "en"; school's UpdateSchool sets it, chat projects it). A
school that switches its locale changes the notes written after the switch; notes already written
keep their text (a message body is what was said).

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
    MATERIAL_PUBLISHED = 7


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
    material_id: str = ""  # MATERIAL_PUBLISHED: the material (MaterialService)


def member_joined(user_id: str, name: str) -> SystemNote:
    return SystemNote(SystemKind.MEMBER_JOINED, subject_user_id=user_id, subject_name=name)


def lesson_started(title: str) -> SystemNote:
    return SystemNote(SystemKind.LESSON_STARTED, title=title)


def lesson_ended(attended: int) -> SystemNote:
    return SystemNote(SystemKind.LESSON_ENDED, count=attended)


def material_published(material_id: str, title: str) -> SystemNote:
    """A material published for a class or the whole school (docs/chat.md "Materials")."""
    return SystemNote(SystemKind.MATERIAL_PUBLISHED, title=title, material_id=material_id)


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
        case SystemKind.MATERIAL_PUBLISHED:
            return f"Опубликован материал: «{note.title}»" if note.title else "Опубликован материал"
    return "Системное сообщение"


def _lesson_text_en(prefix: str, note: SystemNote) -> str:
    """ "Lesson Mathematics at 09:00, 2026-12-08" (as the English clients render the note)."""
    when = note.local_time
    if len(when) != 16:
        return f"{prefix}{note.title}".strip()
    return f"{prefix}{note.title} at {when[11:]}, {when[:10]}"


def english_text(note: SystemNote) -> str:
    """The same words as the English clients (the CLI's PARTA_LANG=en, the web app's en.ts)."""
    match note.kind:
        case SystemKind.MEMBER_JOINED:
            return f"{note.subject_name} joined" if note.subject_name else "A new member joined"
        case SystemKind.LESSON_STARTED:
            return f"Lesson started: {note.title}" if note.title else "Lesson started"
        case SystemKind.LESSON_ENDED:
            return f"Lesson ended, {note.count} attended"
        case SystemKind.LESSON_SCHEDULED:
            return _lesson_text_en("Lesson ", note)
        case SystemKind.LESSON_CHANGED:
            return _lesson_text_en("Lesson changed: ", note)
        case SystemKind.LESSON_CANCELLED:
            return _lesson_text_en("Lesson cancelled: ", note)
        case SystemKind.MATERIAL_PUBLISHED:
            return f"Material published: «{note.title}»" if note.title else "Material published"
    return "System message"


# --- locales -------------------------------------------------------------------------------------

DEFAULT_LOCALE = "ru"
_TEXTS = {"ru": russian_text, "en": english_text}
LOCALES = tuple(_TEXTS)


def locale_of(tag: str) -> str:
    """The school's locale as chat renders it: "" (a school projected before locales) or a tag this
    build does not know is the default."""
    return tag if tag in _TEXTS else DEFAULT_LOCALE


def note_text(note: SystemNote, locale: str) -> str:
    return _TEXTS[locale_of(locale)](note)


def reminder_text(locale: str, chat_title: str, excerpt: str) -> str:
    """The direct message that reminds a family to confirm an announcement."""
    if locale_of(locale) == "en":
        return f"Reminder: please confirm the announcement in «{chat_title}»: {excerpt}"
    return f"Напоминание: подтвердите, пожалуйста, объявление в чате «{chat_title}»: {excerpt}"


def poll_header(locale: str, question: str) -> str:
    """The first line of a poll's message body (the options follow, numbered)."""
    return f"{'Poll' if locale_of(locale) == 'en' else 'Опрос'}: {question}"


def parents_title(class_title: str) -> str:
    return f"{class_title} — родители"


def staff_title(school_name: str) -> str:
    return f"{school_name} — учительская"
