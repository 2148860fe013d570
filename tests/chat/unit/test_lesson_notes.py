"""Timetable lessons in the class chat: scheduled, changed and cancelled lessons are structured
notes (kind, subject, start) with a Russian body on the school's wall clock, posted once per event
(a redelivered event posts nothing), and only for lessons made from the timetable."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from chat.adapters.mongo.codecs import decode_message, message_doc
from chat.api.consumers import ProvisioningHandler
from chat.domain.chats import class_chat_id
from chat.domain.system_notes import SystemKind, lesson_note, note_text
from chat.pb import message_from_pb, message_pb
from parta.common.v1 import envelope_pb2
from parta.media_signal.v1 import events_pb2 as media
from parta_common.timestamps import ts

from tests.chat.unit.fakes import Fakes
from tests.chat.unit.test_system_notes import CLASS, SCHOOL, _school_with_class

NINE_MSK = datetime(2026, 12, 8, 6, 0, tzinfo=UTC)  # 09:00 in Moscow


def test_the_russian_text_names_the_subject_the_time_and_the_day() -> None:
    moscow = ZoneInfo("Europe/Moscow")
    assert note_text(lesson_note("scheduled", "Математика", NINE_MSK, moscow), "ru") == "Математика в 09:00, 8 декабря"
    changed = lesson_note("changed", "Алгебра", NINE_MSK, moscow)
    assert note_text(changed, "ru") == "Урок изменён: Алгебра в 09:00, 8 декабря"
    cancelled = lesson_note("cancelled", "Физика", NINE_MSK, moscow)
    assert note_text(cancelled, "ru") == "Урок отменён: Физика в 09:00, 8 декабря"
    # The school's wall clock, not UTC nor the server's.
    berlin = lesson_note("scheduled", "Математика", NINE_MSK, ZoneInfo("Europe/Berlin"))
    assert berlin.local_time == "2026-12-08 07:00" and berlin.starts_at == NINE_MSK


def _envelope(event_id: str, message: object) -> envelope_pb2.EventEnvelope:
    name = message.DESCRIPTOR.full_name  # type: ignore[attr-defined]
    env = envelope_pb2.EventEnvelope(
        event_id=event_id, event_type=name, aggregate_type="room", aggregate_id="r-1", aggregate_version=1
    )
    env.payload.Pack(message)  # type: ignore[arg-type]
    return env


def _room(title: str, slot: str = "2-09:00") -> media.RoomSnapshot:
    return media.RoomSnapshot(
        room_id="r-1",
        school_id=SCHOOL,
        class_id=CLASS,
        kind=media.ROOM_KIND_LESSON,
        title=title,
        host_user_id="u-olga",
        scheduled_for=ts(NINE_MSK),
        timetable_slot_id=slot,
        duration_minutes=45,
    )


async def test_each_lesson_event_is_announced_once() -> None:
    fakes = Fakes()
    p = await _school_with_class(fakes)
    handle = ProvisioningHandler(p).handle
    scheduled = _envelope("e-1", media.RoomScheduled(room=_room("Математика")))
    await handle(scheduled)
    await handle(scheduled)  # redelivered
    await handle(_envelope("e-2", media.RoomRescheduled(room=_room("Алгебра"), previous=_room("Математика"))))
    cancelled = _envelope("e-3", media.RoomCancelled(room=_room("Алгебра"), cancelled_at=ts(NINE_MSK)))
    await handle(cancelled)
    await handle(cancelled)  # redelivered
    # A lesson scheduled by hand (no timetable slot) is not announced.
    await handle(_envelope("e-4", media.RoomScheduled(room=_room("Кружок", slot=""))))
    notes = sorted((m for m in fakes.messages.rows.values() if m.chat_id == class_chat_id(CLASS)), key=lambda m: m.seq)
    assert [(m.system_note.kind, m.text) for m in notes if m.system_note] == [  # type: ignore[union-attr]
        (SystemKind.LESSON_SCHEDULED, "Математика в 09:00, 8 декабря"),
        (SystemKind.LESSON_CHANGED, "Урок изменён: Алгебра в 09:00, 8 декабря"),
        (SystemKind.LESSON_CANCELLED, "Урок отменён: Алгебра в 09:00, 8 декабря"),
    ]
    # The note's start survives the store and the wire.
    stored = decode_message(message_doc(notes[0]))
    assert stored.system_note == notes[0].system_note
    assert message_from_pb(message_pb(notes[0])).system_note == notes[0].system_note
