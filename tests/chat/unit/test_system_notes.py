"""System messages the server writes carry a structured note (kind + subject) that clients render
in the reader's language, and a Russian body for clients that predate the kind; provisioned chat
titles are Russian («5А — родители», «Школа № 17 — учительская»)."""

from __future__ import annotations

from chat.adapters.mongo.codecs import decode_message, message_doc
from chat.app.provisioning import ClassInfo, Provisioning
from chat.domain.chats import class_chat_id, parents_chat_id, school_channel_id, staff_channel_id
from chat.domain.messages import Message
from chat.domain.provisioning import ClassRole, Profile, SchoolInfo, SchoolRole
from chat.domain.system_notes import SystemKind, SystemNote, lesson_ended, lesson_started, note_text
from chat.pb import message_from_pb, message_pb
from parta.chat.v1 import events_pb2 as pb

from tests.chat.unit.fakes import Fakes, seat

SCHOOL, CLASS = "s-17", "c-5a"


def _provisioning(fakes: Fakes) -> Provisioning:
    return Provisioning(
        fakes.chats,
        fakes.members,
        fakes.messages,
        fakes.facts,
        fakes.facts,
        fakes.clock,
        lambda: None,
        fakes.policies,
    )


async def _school_with_class(fakes: Fakes) -> Provisioning:
    p = _provisioning(fakes)
    await p.school_changed(SchoolInfo(SCHOOL, "Школа № 17", "Europe/Moscow", 8 * 60, 17 * 60), 1)
    await p.class_changed(ClassInfo(CLASS, SCHOOL, "5А", is_staff_room=False, archived=False), 1)
    return p


async def test_provisioned_titles_are_russian() -> None:
    fakes = Fakes()
    await _school_with_class(fakes)
    titles = {cid: (await fakes.chats.get(cid)).title for cid in fakes.chats.rows}  # type: ignore[union-attr]
    assert titles[school_channel_id(SCHOOL)] == "Школа № 17"
    assert titles[staff_channel_id(SCHOOL)] == "Школа № 17 — учительская"
    assert titles[class_chat_id(CLASS)] == "5А"
    assert titles[parents_chat_id(CLASS)] == "5А — родители"


async def test_a_join_is_a_structured_note_with_a_russian_body() -> None:
    fakes = Fakes()
    p = await _school_with_class(fakes)
    await p.profile_changed(Profile("u-olga", "Ольга Смирнова"), 1)
    await p.membership_changed(seat(SCHOOL, "u-olga", SchoolRole.TEACHER, CLASS, ClassRole.CLASS_HEAD), 1)
    await p.membership_changed(seat(SCHOOL, "u-nameless", SchoolRole.TEACHER, CLASS, ClassRole.SUBJECT_TEACHER), 1)
    notes = [m for m in fakes.messages.rows.values() if m.chat_id == class_chat_id(CLASS)]
    assert all(m.system and m.sender_user_id == "" for m in notes)
    assert [(m.system_note, m.text) for m in sorted(notes, key=lambda m: m.seq)] == [
        (SystemNote(SystemKind.MEMBER_JOINED, "u-olga", "Ольга Смирнова"), "В чате новый участник: Ольга Смирнова"),
        (SystemNote(SystemKind.MEMBER_JOINED, "u-nameless", ""), "В чате новый участник"),
    ]


async def test_lesson_notes_in_russian() -> None:
    fakes = Fakes()
    p = await _school_with_class(fakes)
    await p.lesson_event("r-1", SCHOOL, CLASS, lesson_started("Математика"), "started")
    await p.lesson_event("r-1", SCHOOL, CLASS, lesson_started("Математика"), "started")  # a replay: once
    await p.lesson_event("r-1", SCHOOL, CLASS, lesson_ended(2), "ended")
    texts = [m.text for m in sorted(fakes.messages.rows.values(), key=lambda m: m.seq)]
    assert texts == ["Урок начался: Математика", "Урок закончился, присутствовали: 2"]
    assert note_text(lesson_started(""), "ru") == "Урок начался"


def test_the_note_survives_the_store_and_the_wire() -> None:
    fakes = Fakes()
    note = SystemNote(SystemKind.MEMBER_JOINED, "u-olga", "Ольга Смирнова")
    message = Message("cls-x", "m-1", 1, 1, SCHOOL, "", note_text(note, "ru"), fakes.clock.now(), system=True)
    message.system_note = note
    assert decode_message(message_doc(message)).system_note == note
    snapshot = message_pb(message)
    assert snapshot.system_note.kind == pb.SYSTEM_KIND_MEMBER_JOINED
    assert snapshot.system_note.subject_user_id == "u-olga"
    assert message_from_pb(snapshot).system_note == note
    # A message without a note (a person's, or one written before notes existed) has none either way.
    message.system_note = None
    assert decode_message(message_doc(message)).system_note is None
    assert not message_pb(message).HasField("system_note")
    assert message_from_pb(message_pb(message)).system_note is None
