"""The timetable with identity, school, chat and media-signal as real processes: the class head sets a
week → media-signal makes tomorrow's lessons rooms and the class chat announces them ("Математика в
09:00, …") → who may edit (the matrix) → the class head cancels one lesson → it is announced once,
and a redelivered cancellation posts nothing more.

No waiting for wall-clock times: the lessons are tomorrow at 09:00 and 10:00 in the school's zone,
inside the 7-day horizon, and everything checked happens as soon as the events flow."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import grpc
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from parta.chat.v1 import chat_pb2
from parta.common.v1 import envelope_pb2
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2 as room_pb
from parta.media_signal.v1 import media_signal_pb2_grpc
from parta.school.v1 import timetable_pb2 as tt
from parta.school.v1 import timetable_pb2_grpc
from parta_common.events.topics import MEDIA_SIGNAL_ROOM

from tests.chat.support import Person, Stubs, eventually
from tests.e2e import school_client as sc
from tests.e2e.harness import ROOT, Stack
from tests.e2e.identity_client import create_profile, random_phone, sign_in

sys.path.insert(0, str(ROOT / "deploy" / "local"))
import media

OPERATOR = random_phone()
MOSCOW = ZoneInfo("Europe/Moscow")
MONTHS = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):  # type: ignore[no-untyped-def]
    s = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        yield s
    finally:
        s.stop_all()


def academic_year(day: datetime) -> str:
    first = day.year if day.month >= 9 else day.year - 1
    return f"{first}/{first + 1}"


async def _notes(stubs: Stubs, who: Person, chat_id: str) -> list[str]:
    reply = await stubs.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id, limit=100), metadata=who.md)
    return [m.text for m in sorted(reply.messages, key=lambda m: m.seq) if m.system]


async def test_a_week_becomes_lessons_announced_in_the_class_chat_and_a_cancellation_once(stack: Stack) -> None:
    tomorrow = (datetime.now(UTC).astimezone(MOSCOW) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    identity = await stack.start("identity")
    school_svc = await stack.start("school", {"SCHOOL_OPERATOR_PHONES": OPERATOR})
    chat_svc = await stack.start("chat")
    for component in media.COMPONENTS.values():
        component.up()  # Janus and coturn, idempotent (already up when the infrastructure runs)
    m = media.env()
    rooms_svc = await stack.start(
        "media_signal",
        {
            "MEDIA_SIGNAL_JANUS_URL": m["janus_url"],
            "MEDIA_SIGNAL_JOIN_TOKEN_SECRET": uuid.uuid4().hex * 2,
        },
    )
    address = school_svc.address

    async def person(birth_date: str = "1985-03-14") -> Person:
        signed = await sign_in(identity.address, random_phone(), stack.sms_file)
        await create_profile(identity.address, signed.access_token, "Анна", "Иванова", birth_date)
        return Person(signed.user_id, signed.access_token)

    operator = await sign_in(identity.address, OPERATOR, stack.sms_file)
    admin_phone = random_phone()
    # The academic year of tomorrow, so tomorrow is always inside it (31 August included).
    school = await sc.register_school(
        address, operator.access_token, admin_phone=admin_phone, academic_year=academic_year(tomorrow)
    )
    admin_signed = await sign_in(identity.address, admin_phone, stack.sms_file)
    await sc.claim(address, admin_signed.access_token)
    admin = Person(admin_signed.user_id, admin_signed.access_token)
    klass = await sc.create_class(address, admin.token, school.school_id, 5, "А")
    head, physics, student, outsider = await person(), await person(), await person("2010-02-01"), await person()
    for teacher in (head, physics):
        await sc.join_school(address, admin.token, school.school_id, teacher.token, sc.TEACHER)
        await sc.verify_staff(address, admin.token, school.school_id, teacher.user_id)
    await sc.set_class_head(address, admin.token, klass.class_id, head.user_id)
    await sc.add_subject_teacher(address, admin.token, klass.class_id, physics.user_id, "Физика")
    await sc.join_school(address, admin.token, school.school_id, student.token, sc.STUDENT, class_id=klass.class_id)

    channel = grpc.aio.insecure_channel(address)
    timetables = timetable_pb2_grpc.TimetableServiceStub(channel)
    chat = Stubs(grpc.aio.insecure_channel(chat_svc.address))
    rooms = media_signal_pb2_grpc.RoomServiceStub(grpc.aio.insecure_channel(rooms_svc.address))
    class_chat = f"cls-{klass.class_id}"
    weekday = tomorrow.isoweekday()
    week = tt.SetTimetableRequest(
        class_id=klass.class_id,
        slots=[
            tt.TimetableSlot(weekday=weekday, start_minute=9 * 60, duration_minutes=45, subject="Математика"),
            tt.TimetableSlot(
                weekday=weekday,
                start_minute=10 * 60,
                duration_minutes=45,
                subject="Физика",
                teacher_user_id=physics.user_id,
            ),
        ],
        first_day=tomorrow.date().isoformat(),
    )

    # Who edits: students, subject teachers and people of no school do not; nothing is published.
    for who, code in ((student, grpc.StatusCode.PERMISSION_DENIED), (physics, grpc.StatusCode.PERMISSION_DENIED)):
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await timetables.SetTimetable(week, metadata=who.md)
        assert denied.value.code() == code
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await timetables.GetTimetable(tt.GetTimetableRequest(class_id=klass.class_id), metadata=outsider.md)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND

    # The class head sets the week; the student reads it.
    set_reply = await timetables.SetTimetable(week, metadata=head.md)
    assert [s.slot_id for s in set_reply.timetable.slots] == [f"{weekday}-09:00", f"{weekday}-10:00"]
    assert set_reply.timetable.slots[0].teacher_user_id == head.user_id  # no teacher named: the class head
    read = await timetables.GetTimetable(tt.GetTimetableRequest(class_id=klass.class_id), metadata=student.md)
    assert read.timezone == "Europe/Moscow" and read.timetable.version == 1

    # media-signal makes tomorrow's two lessons rooms (09:00 and 10:00 Moscow), hosted by their teachers.
    nine = tomorrow.replace(hour=9).astimezone(UTC)

    async def lessons() -> list[room_pb.Room]:
        reply = await rooms.ListRooms(
            room_pb.ListRoomsRequest(
                school_id=school.school_id, class_id=klass.class_id, kinds=[room_events.ROOM_KIND_LESSON]
            ),
            metadata=head.md,
        )
        return list(reply.rooms) if len(reply.rooms) == 2 else []

    found = sorted(await eventually(lessons, timeout=60), key=lambda r: r.scheduled_for.seconds)
    assert [(r.title, r.host_user_id, r.scheduled_for.ToDatetime(tzinfo=UTC)) for r in found] == [
        ("Математика", head.user_id, nine),
        ("Физика", physics.user_id, nine + timedelta(hours=1)),
    ]
    assert all(r.state == room_pb.ROOM_STATE_SCHEDULED for r in found)

    # The class chat announces both, in Russian, on the school's wall clock.
    day = f"{tomorrow.day} {MONTHS[tomorrow.month - 1]}"
    maths, physics_note = f"Математика в 09:00, {day}", f"Физика в 10:00, {day}"

    async def announced() -> list[str]:
        notes = await _notes(chat, student, class_chat)
        return notes if maths in notes and physics_note in notes else []

    await eventually(announced, timeout=60)

    # The class head cancels the 09:00 lesson: the room ends unstarted, the chat is told once.
    cancel = tt.CancelLessonRequest(
        class_id=klass.class_id, date=tomorrow.date().isoformat(), slot_id=f"{weekday}-09:00"
    )
    await timetables.CancelLesson(cancel, metadata=head.md)
    await timetables.CancelLesson(cancel, metadata=head.md)  # repeated: nothing new
    cancelled_note = f"Урок отменён: Математика в 09:00, {day}"

    async def cancelled() -> list[str]:
        notes = await _notes(chat, student, class_chat)
        return notes if cancelled_note in notes else []

    await eventually(cancelled, timeout=60)
    room = (await rooms.GetRoom(room_pb.GetRoomRequest(room_id=found[0].room_id), metadata=head.md)).room
    assert room.state == room_pb.ROOM_STATE_ENDED and not room.HasField("started_at")

    # Redelivery: the RoomCancelled record is published again (same event id), then a marker event on
    # the same room (same key, same partition, so chat handles it after the redelivered one).
    topic = f"t{stack.run_id}.{MEDIA_SIGNAL_ROOM}"
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=stack.kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        record = None
        while record is None:
            batch = await consumer.getmany(timeout_ms=5000)
            assert batch, "the RoomCancelled record was not found on the room topic"
            for records in batch.values():
                for r in records:
                    envelope = envelope_pb2.EventEnvelope.FromString(r.value)
                    if envelope.event_type == room_events.RoomCancelled.DESCRIPTOR.full_name:
                        record = r
    finally:
        await consumer.stop()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, record.value, key=record.key)
        marker = envelope_pb2.EventEnvelope()
        marker.CopyFrom(envelope_pb2.EventEnvelope.FromString(record.value))
        marker.event_id = uuid.uuid4().hex
        marker.event_type = room_events.RoomRescheduled.DESCRIPTOR.full_name
        cancelled_room = envelope_pb2.EventEnvelope.FromString(record.value)
        payload = room_events.RoomCancelled()
        cancelled_room.payload.Unpack(payload)
        marker_room = room_events.RoomSnapshot()
        marker_room.CopyFrom(payload.room)
        marker_room.title = "Маркер"
        marker.payload.Pack(room_events.RoomRescheduled(room=marker_room, previous=payload.room))
        await producer.send_and_wait(topic, marker.SerializeToString(), key=record.key)
    finally:
        await producer.stop()
    marker_note = f"Урок изменён: Маркер в 09:00, {day}"

    async def marked() -> list[str]:
        notes = await _notes(chat, student, class_chat)
        return notes if marker_note in notes else []

    notes = await eventually(marked, timeout=60)
    assert notes.count(cancelled_note) == 1
    assert notes.count(maths) == 1 and notes.count(physics_note) == 1
    await channel.close()
