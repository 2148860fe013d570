"""A school switches its locale, on the real store and Kafka with two replicas: the join note written
before the switch stays Russian; once chat has the SchoolUpdated carrying "en", the next join note is
English, with the same structured kind and arguments."""

from __future__ import annotations

from parta.chat.v1 import chat_pb2, events_pb2
from parta_common.mongo import create_mongo_client

from tests.chat.support import CSTUDENT, HEAD, STUDENT, TEACHER, World, eventually, uid


async def test_the_next_note_after_a_switch_to_english_is_english(world: World) -> None:
    a = world.replicas[0].stubs
    school = world.school()
    await school.create()
    class_id = uid("c")
    head, student = world.person(), world.person()
    await school.member(head.user_id, TEACHER, class_id, HEAD)
    await school.add_class(class_id)
    chat_id = f"cls-{class_id}"

    async def notes(count: int) -> list[chat_pb2.MessageSnapshot] | None:
        reply = await a.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id), metadata=head.md)
        found = [m for m in reply.messages if m.system]
        return found if len(found) >= count else None

    before = await eventually(lambda: notes(1))
    assert [m.text for m in before] == ["В чате новый участник"]

    await school.set_locale("en")
    client = create_mongo_client(world.mongo_uri, app_name="tests")
    try:

        async def projected() -> bool:
            row = await client[world.database]["schools"].find_one({"_id": school.school_id})
            return bool(row and row.get("locale") == "en")

        # The school and membership topics are read independently: join only once chat has the locale.
        await eventually(projected)
    finally:
        await client.close()
    await school.member(student.user_id, STUDENT, class_id, CSTUDENT)
    after = await eventually(lambda: notes(2))
    assert [m.text for m in after] == ["В чате новый участник", "A new member joined"]
    assert [(m.system_note.kind, m.system_note.subject_user_id) for m in after] == [
        (events_pb2.SYSTEM_KIND_MEMBER_JOINED, head.user_id),
        (events_pb2.SYSTEM_KIND_MEMBER_JOINED, student.user_id),
    ]
