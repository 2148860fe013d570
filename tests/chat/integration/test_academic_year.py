"""A new academic year at school (StartAcademicYear) reaches chat only as the class events chat consumes
already: the moved class keeps its chats, renamed to the new title, with the same people still posting;
the graduated class's chats turn read-only and its graduates keep reading them. No chat code for it."""

from __future__ import annotations

import grpc
import pytest
from parta.chat.v1 import chat_pb2
from parta.school.v1 import events_pb2 as school_pb
from parta_common.events.topics import SCHOOL_CLASS

from tests.chat.support import CSTUDENT, STUDENT, World, chat_ids, eventually, uid


async def test_class_chats_follow_a_new_academic_year(world: World) -> None:
    a = world.replicas[0].stubs
    school = world.school()
    await school.create()
    five_a, eleven_a = uid("c"), uid("c")
    kid, graduate = world.person(), world.person()
    await school.member(kid.user_id, STUDENT, five_a, CSTUDENT)
    await school.member(graduate.user_id, STUDENT, eleven_a, CSTUDENT)
    await school.add_class(five_a, title="5А")
    await school.add_class(eleven_a, title="11А")
    await eventually(lambda: _has(a, kid, {f"cls-{five_a}"}))
    await eventually(lambda: _has(a, graduate, {f"cls-{eleven_a}"}))

    # Exactly what school publishes for the rollover: the same class id one grade up, and the top grade
    # archived with reason "graduated" (then its seats end with reason class_archived).
    moved = school_pb.ClassSnapshot(
        class_id=five_a, school_id=school.school_id, grade=6, letter="А", title="6А", academic_year="2027/2028"
    )
    await world.feed(
        SCHOOL_CLASS,
        school_pb.ClassUpdated(**{"class": moved}),
        "class",
        five_a,
        school._v(five_a),
        school.school_id,
    )
    left = school_pb.ClassSnapshot(
        class_id=eleven_a,
        school_id=school.school_id,
        grade=11,
        letter="А",
        title="11А",
        academic_year="2026/2027",
        archived=True,
    )
    await world.feed(
        SCHOOL_CLASS,
        school_pb.ClassArchived(**{"class": left}, reason="graduated"),
        "class",
        eleven_a,
        school._v(eleven_a),
        school.school_id,
    )
    await school.member(graduate.user_id, STUDENT, eleven_a, CSTUDENT, left=True, reason="class_archived")

    async def renamed() -> bool:
        view = await a.chat.GetChat(chat_pb2.GetChatRequest(chat_id=f"cls-{five_a}"), metadata=kid.md)
        return view.chat.chat.title == "6А"

    async def read_only() -> bool:
        view = await a.chat.GetChat(chat_pb2.GetChatRequest(chat_id=f"cls-{eleven_a}"), metadata=graduate.md)
        return view.chat.chat.read_only

    await eventually(renamed)
    await eventually(read_only)
    # The same child is still in the (renamed) class chat and posts there.
    await a.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=f"cls-{five_a}", client_message_id=uid("m"), text="Привет, 6А"),
        metadata=kid.md,
    )
    # The graduate keeps reading the read-only chat of their class, but cannot post.
    assert f"cls-{eleven_a}" in await chat_ids(a, graduate)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=f"cls-{eleven_a}", client_message_id=uid("m"), text="x"),
            metadata=graduate.md,
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def _has(stubs, person, expected):  # type: ignore[no-untyped-def]
    return expected <= await chat_ids(stubs, person)
