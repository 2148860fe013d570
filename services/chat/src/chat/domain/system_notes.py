"""What a system message says: a kind and its arguments, which clients render in the reader's
language, and a text kept in the message body for clients that predate the kind, written in the
school's locale ("ru", the default, or "en"; school's UpdateSchool sets it, chat projects it). A
school that switches its locale changes the notes written after the switch; notes already written
keep their text (a message body is what was said).

Titles of the chats the server provisions are Russian too (`parents_title`, `staff_title`): the
class or school name, a dash, the kind of chat — «5А — родители», «Школа № 17 — учительская»."""

from __future__ import annotations

from dataclasses import dataclass, field
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
_MONTHS_RU_GENITIVE = (
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


# --- texts ---------------------------------------------------------------------------------------
# Each kind's text is a template per locale, filled from the note's arguments (`_arguments`). Adding
# a kind or a locale is an entry in the tables below; tests/chat/unit/test_locales.py fails when a
# kind lacks a locale. Russian forms are gender-neutral: the server does not know the person's gender.
# The English words are the English clients' (the CLI's PARTA_LANG=en, the web app's en.ts).

DEFAULT_LOCALE = "ru"
LOCALES = ("ru", "en")


@dataclass(frozen=True)
class NoteTexts:
    """A kind's templates by locale: `full`, and `short` for a note that lacks the argument named
    `needs` (a member's name, a lesson's title, a timetable lesson's wall-clock time)."""

    full: dict[str, str]
    short: dict[str, str] = field(default_factory=dict)
    needs: str = ""


NOTE_TEXTS: dict[SystemKind, NoteTexts] = {
    SystemKind.MEMBER_JOINED: NoteTexts(
        full={"ru": "В чате новый участник: {name}", "en": "{name} joined"},
        short={"ru": "В чате новый участник", "en": "A new member joined"},
        needs="name",
    ),
    SystemKind.LESSON_STARTED: NoteTexts(
        full={"ru": "Урок начался: {title}", "en": "Lesson started: {title}"},
        short={"ru": "Урок начался", "en": "Lesson started"},
        needs="title",
    ),
    SystemKind.LESSON_ENDED: NoteTexts(
        full={"ru": "Урок закончился, присутствовали: {count}", "en": "Lesson ended, {count} attended"},
    ),
    # Timetable lessons come up to a week ahead, so the text names the day as well as the time.
    SystemKind.LESSON_SCHEDULED: NoteTexts(
        full={"ru": "{title} в {clock}, {day_month_ru}", "en": "Lesson {title} at {clock}, {date}"},
        short={"ru": "{title}", "en": "Lesson {title}"},
        needs="clock",
    ),
    SystemKind.LESSON_CHANGED: NoteTexts(
        full={
            "ru": "Урок изменён: {title} в {clock}, {day_month_ru}",
            "en": "Lesson changed: {title} at {clock}, {date}",
        },
        short={"ru": "Урок изменён: {title}", "en": "Lesson changed: {title}"},
        needs="clock",
    ),
    SystemKind.LESSON_CANCELLED: NoteTexts(
        full={
            "ru": "Урок отменён: {title} в {clock}, {day_month_ru}",
            "en": "Lesson cancelled: {title} at {clock}, {date}",
        },
        short={"ru": "Урок отменён: {title}", "en": "Lesson cancelled: {title}"},
        needs="clock",
    ),
    SystemKind.MATERIAL_PUBLISHED: NoteTexts(
        full={"ru": "Опубликован материал: «{title}»", "en": "Material published: «{title}»"},
        short={"ru": "Опубликован материал", "en": "Material published"},
        needs="title",
    ),
}
# A kind this build has no texts for (UNSPECIFIED).
UNKNOWN_NOTE_TEXT = {"ru": "Системное сообщение", "en": "System message"}
# The direct message that reminds a family to confirm an announcement.
REMINDER_TEXT = {
    "ru": "Напоминание: подтвердите, пожалуйста, объявление в чате «{chat_title}»: {excerpt}",
    "en": "Reminder: please confirm the announcement in «{chat_title}»: {excerpt}",
}
# The first line of a poll's message body (the options follow, numbered).
POLL_HEADER = {"ru": "Опрос: {question}", "en": "Poll: {question}"}


def _arguments(note: SystemNote) -> dict[str, object]:
    """What the templates may say. A timetable lesson's wall-clock time ("2026-12-08 09:00") gives
    `clock` ("09:00"), `date` ("2026-12-08") and `day_month_ru` ("8 декабря")."""
    when = note.local_time
    timed = len(when) == 16
    return {
        "name": note.subject_name,
        "title": note.title,
        "count": note.count,
        "clock": when[11:] if timed else "",
        "date": when[:10] if timed else "",
        "day_month_ru": f"{int(when[8:10])} {_MONTHS_RU_GENITIVE[int(when[5:7]) - 1]}" if timed else "",
    }


def locale_of(tag: str) -> str:
    """The school's locale as chat renders it: "" (a school projected before locales) or a tag this
    build does not know is the default."""
    return tag if tag in LOCALES else DEFAULT_LOCALE


def note_text(note: SystemNote, locale: str) -> str:
    locale = locale_of(locale)
    texts = NOTE_TEXTS.get(note.kind)
    if texts is None:
        return UNKNOWN_NOTE_TEXT[locale]
    arguments = _arguments(note)
    if texts.needs and not arguments[texts.needs]:
        # strip: a short form whose title is missing too ends without a dangling space.
        return texts.short[locale].format(**arguments).strip()
    return texts.full[locale].format(**arguments)


def reminder_text(locale: str, chat_title: str, excerpt: str) -> str:
    return REMINDER_TEXT[locale_of(locale)].format(chat_title=chat_title, excerpt=excerpt)


def poll_header(locale: str, question: str) -> str:
    return POLL_HEADER[locale_of(locale)].format(question=question)


def parents_title(class_title: str) -> str:
    return f"{class_title} — родители"


def staff_title(school_name: str) -> str:
    return f"{school_name} — учительская"
