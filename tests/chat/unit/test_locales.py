"""Server-written texts in the school's locale (system_notes.py): every note kind has a Russian and
an English text; chat writes a note's body, a reminder and a poll's header in the locale the school
has when it writes them (Russian by default), and the structured kind and arguments stay the same."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from chat.domain.chats import class_chat_id
from chat.domain.provisioning import ClassRole, Profile, SchoolRole
from chat.domain.system_notes import (
    LOCALES,
    NOTE_TEXTS,
    POLL_HEADER,
    REMINDER_TEXT,
    UNKNOWN_NOTE_TEXT,
    SystemKind,
    SystemNote,
    lesson_ended,
    lesson_note,
    lesson_started,
    locale_of,
    material_published,
    member_joined,
    note_text,
    poll_header,
    reminder_text,
)
from chat.pb import _note_pb
from parta_client.cli.chats import system_text

from tests.chat.unit.fake_announcements import announcements_on
from tests.chat.unit.fake_polls import polls_on
from tests.chat.unit.fakes import Fakes, seat
from tests.chat.unit.test_announcements import CLASS, PARENTS, SCHOOL, fakes  # noqa: F401 (fixture)
from tests.chat.unit.test_system_notes import CLASS as CLASS_5A
from tests.chat.unit.test_system_notes import SCHOOL as SCHOOL_17
from tests.chat.unit.test_system_notes import _school_with_class

MOSCOW = ZoneInfo("Europe/Moscow")
AT = datetime(2026, 12, 8, 6, 0, tzinfo=UTC)  # 09:00 in Moscow


def _one_of_each() -> list[SystemNote]:
    return [
        member_joined("u-1", "Ольга Смирнова"),
        lesson_started("Математика"),
        lesson_ended(3),
        lesson_note("scheduled", "Математика", AT, MOSCOW),
        lesson_note("changed", "Математика", AT, MOSCOW),
        lesson_note("cancelled", "Математика", AT, MOSCOW),
        material_published("mat-1", "Диктант"),
    ]


def test_every_kind_has_a_russian_and_an_english_text() -> None:
    notes = _one_of_each()
    assert {n.kind for n in notes} == set(SystemKind) - {SystemKind.UNSPECIFIED}  # a new kind needs its texts
    assert LOCALES == ("ru", "en")
    fallbacks = {"ru": "Системное сообщение", "en": "System message"}
    for note in notes:
        texts = {locale: note_text(note, locale) for locale in LOCALES}
        assert all(text and text != fallbacks[locale] for locale, text in texts.items()), texts
        assert texts["ru"] != texts["en"]
    assert [note_text(n, "en") for n in notes] == [
        "Ольга Смирнова joined",
        "Lesson started: Математика",
        "Lesson ended, 3 attended",
        "Lesson Математика at 09:00, 2026-12-08",
        "Lesson changed: Математика at 09:00, 2026-12-08",
        "Lesson cancelled: Математика at 09:00, 2026-12-08",
        "Material published: «Диктант»",
    ]
    assert note_text(notes[5], "ru") == "Урок отменён: Математика в 09:00, 8 декабря"


def test_every_kind_has_its_templates_in_every_locale() -> None:
    """A new kind or a new locale is a table entry; this is where a missing one fails."""
    assert set(NOTE_TEXTS) == set(SystemKind) - {SystemKind.UNSPECIFIED}
    for kind, texts in NOTE_TEXTS.items():
        assert set(texts.full) == set(LOCALES), kind
        assert set(texts.short) == (set(LOCALES) if texts.needs else set()), kind
    for table in (UNKNOWN_NOTE_TEXT, REMINDER_TEXT, POLL_HEADER):
        assert set(table) == set(LOCALES)


def test_the_texts_stay_word_for_word() -> None:
    """Every note kind, its short form and the fallback, in both locales, pinned to the byte: a change
    of how the texts are kept must not change a word a reader sees."""
    untimed = SystemNote(SystemKind.LESSON_CHANGED, title="Алгебра")  # no wall-clock time
    cases = [
        *_one_of_each(),
        member_joined("u-1", ""),
        lesson_started(""),
        lesson_ended(0),
        SystemNote(SystemKind.LESSON_SCHEDULED, title="Физика"),
        untimed,
        SystemNote(SystemKind.LESSON_CANCELLED),
        material_published("mat-1", ""),  # its title erased with its publisher
        SystemNote(SystemKind.UNSPECIFIED),
    ]
    assert [(note_text(n, "ru"), note_text(n, "en")) for n in cases] == [
        ("В чате новый участник: Ольга Смирнова", "Ольга Смирнова joined"),
        ("Урок начался: Математика", "Lesson started: Математика"),
        ("Урок закончился, присутствовали: 3", "Lesson ended, 3 attended"),
        ("Математика в 09:00, 8 декабря", "Lesson Математика at 09:00, 2026-12-08"),
        ("Урок изменён: Математика в 09:00, 8 декабря", "Lesson changed: Математика at 09:00, 2026-12-08"),
        ("Урок отменён: Математика в 09:00, 8 декабря", "Lesson cancelled: Математика at 09:00, 2026-12-08"),
        ("Опубликован материал: «Диктант»", "Material published: «Диктант»"),
        ("В чате новый участник", "A new member joined"),
        ("Урок начался", "Lesson started"),
        ("Урок закончился, присутствовали: 0", "Lesson ended, 0 attended"),
        ("Физика", "Lesson Физика"),
        ("Урок изменён: Алгебра", "Lesson changed: Алгебра"),
        ("Урок отменён:", "Lesson cancelled:"),
        ("Опубликован материал", "Material published"),
        ("Системное сообщение", "System message"),
    ]
    january = lesson_note("scheduled", "Химия", datetime(2027, 1, 4, 23, 30, tzinfo=UTC), MOSCOW)
    assert (note_text(january, "ru"), note_text(january, "en")) == (
        "Химия в 02:30, 5 января",
        "Lesson Химия at 02:30, 2027-01-05",
    )
    assert [reminder_text(locale, "5А — родители", "Сдать анкеты") for locale in LOCALES] == [
        "Напоминание: подтвердите, пожалуйста, объявление в чате «5А — родители»: Сдать анкеты",
        "Reminder: please confirm the announcement in «5А — родители»: Сдать анкеты",
    ]
    assert [poll_header(locale, "Куда {едем}?") for locale in LOCALES] == ["Опрос: Куда {едем}?", "Poll: Куда {едем}?"]


def test_the_bodies_say_what_the_cli_shows_in_each_language() -> None:
    """A reader whose client renders the kind sees the same words as one who reads the body."""
    for note in _one_of_each():
        wire = _note_pb(note)
        assert note_text(note, "en") == system_text(wire, {}, "en")
        assert note_text(note, "ru") == system_text(wire, {}, "ru")


def test_an_unknown_or_missing_locale_is_russian() -> None:
    note = lesson_started("")
    assert [locale_of(t) for t in ("", "ru", "en", "fr", "EN")] == ["ru", "ru", "en", "ru", "ru"]
    assert note_text(note, "") == note_text(note, "fr") == "Урок начался"
    assert note_text(note, "en") == "Lesson started"
    assert reminder_text("", "5А", "x").startswith("Напоминание: ")
    assert reminder_text("en", "5А", "x") == "Reminder: please confirm the announcement in «5А»: x"
    assert (poll_header("ru", "Куда?"), poll_header("en", "Куда?")) == ("Опрос: Куда?", "Poll: Куда?")


async def test_a_school_switching_to_english_changes_the_next_note_only() -> None:
    store = Fakes()
    p = await _school_with_class(store)
    await p.profile_changed(Profile("u-olga", "Ольга Смирнова"), 1)
    await p.profile_changed(Profile("u-ivan", "Иван Петров"), 1)
    await p.membership_changed(seat(SCHOOL_17, "u-olga", SchoolRole.TEACHER, CLASS_5A, ClassRole.CLASS_HEAD), 1)
    school = await store.facts.school(SCHOOL_17)
    assert school is not None and school.locale == "ru"  # the default
    await p.school_changed(replace(school, locale="en"), 2)
    await p.membership_changed(seat(SCHOOL_17, "u-ivan", SchoolRole.TEACHER, CLASS_5A, ClassRole.SUBJECT_TEACHER), 1)
    await p.lesson_event("r-1", SCHOOL_17, CLASS_5A, lesson_started("Математика"), "started")
    notes = sorted(
        (m for m in store.messages.rows.values() if m.chat_id == class_chat_id(CLASS_5A)), key=lambda m: m.seq
    )
    assert [(m.system_note.kind if m.system_note else None, m.text) for m in notes] == [
        (SystemKind.MEMBER_JOINED, "В чате новый участник: Ольга Смирнова"),  # written before the switch: stays
        (SystemKind.MEMBER_JOINED, "Иван Петров joined"),
        (SystemKind.LESSON_STARTED, "Lesson started: Математика"),
    ]
    assert notes[1].system_note == SystemNote(SystemKind.MEMBER_JOINED, "u-ivan", "Иван Петров")  # args unchanged


async def test_reminders_and_poll_headers_follow_the_school_locale(fakes: Fakes) -> None:  # noqa: F811
    school = fakes.facts.schools[SCHOOL]
    fakes.facts.schools[SCHOOL] = replace(school, locale="en")
    app, _repo = announcements_on(fakes)
    _view, message = await app.post("tom", PARENTS, "a-1", "Сдать анкеты", None, False)
    await app.remind("tom", PARENTS, message.seq)
    dms = [m for m in fakes.messages.rows.values() if m.chat_id.startswith("dm")]
    assert dms and all(m.text.startswith("Reminder: please confirm the announcement in «5A parents»") for m in dms)
    polls, _ = polls_on(fakes)
    _poll, posted = await polls.create("tom", CLASS, "p-1", "Куда едем?", ["Музей", "Театр"])
    assert posted.text == "Poll: Куда едем?\n1. Музей\n2. Театр"
