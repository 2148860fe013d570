"""A school's communication policy in chat, on the real store and Kafka with two replicas: when an
admin switches students_reach_classmates off (school publishes SchoolUpdated carrying the policy),
both replicas refuse classmates a new DM, a message in their existing DM and a group together with
CONTACT_NOT_ALLOWED within seconds — whichever replica's consumer applied the event — and an
existing group of classmates takes no writes; switched on again, all of it works again."""

from __future__ import annotations

import grpc
from parta.chat.v1 import chat_pb2

from tests.chat.integration.test_safety import reason_of_error, refused, send, setup
from tests.chat.support import World, eventually

DENIED = (grpc.StatusCode.PERMISSION_DENIED, "CONTACT_NOT_ALLOWED")


async def outcome(call) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    """The code and reason of a call, OK included (for waiting on a condition)."""
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error.code(), reason_of_error(error)
    return grpc.StatusCode.OK, ""


async def test_students_reach_classmates_off_then_on_again(world: World) -> None:
    a, b = (r.stubs for r in world.replicas)
    school, _class_id, _other, p = await setup(world)
    sid, ann, bob, head = school.school_id, p["ann"], p["bob"], p["head"]
    open_dm = chat_pb2.OpenDirectChatRequest(school_id=sid, user_id=bob.user_id)
    dm = (await a.chat.OpenDirectChat(open_dm, metadata=ann.md)).chat.chat.chat_id
    await a.chat.SendMessage(send(dm, "before"), metadata=ann.md)
    group = (
        await a.chat.CreateGroupChat(
            chat_pb2.CreateGroupChatRequest(
                request_id="club", school_id=sid, title="Chess club", member_user_ids=[ann.user_id, bob.user_id]
            ),
            metadata=head.md,
        )
    ).chat.chat.chat_id
    await a.chat.SendMessage(send(group, "group-before"), metadata=bob.md)

    await school.set_policy(students_reach_classmates=False)
    counter = iter(range(10_000))

    async def dm_refused_everywhere() -> bool:
        for stubs in (a, b):
            if await outcome(stubs.chat.SendMessage(send(dm, f"off-{next(counter)}"), metadata=ann.md)) != DENIED:
                return False
        return True

    # One replica's consumer applies the event; the other learns it from the projection (PolicySync).
    await eventually(dm_refused_everywhere, timeout=15)
    for stubs in (a, b):
        assert await refused(stubs.chat.OpenDirectChat(open_dm, metadata=ann.md)) == DENIED
        new_group = chat_pb2.CreateGroupChatRequest(
            request_id=f"club2-{id(stubs)}", school_id=sid, title="t", member_user_ids=[ann.user_id, bob.user_id]
        )
        assert (await refused(stubs.chat.CreateGroupChat(new_group, metadata=head.md)))[1] == "CONTACT_NOT_ALLOWED"

    # The existing group of classmates: its pair is no longer allowed, so nobody writes there.
    async def group_blocked() -> bool:
        return await outcome(a.chat.SendMessage(send(group, f"g-{next(counter)}"), metadata=ann.md)) == DENIED

    await eventually(group_blocked, timeout=15)
    # The teacher still reaches each student (the switch is about students among themselves).
    teacher_dm = chat_pb2.OpenDirectChatRequest(school_id=sid, user_id=ann.user_id)
    await a.chat.OpenDirectChat(teacher_dm, metadata=head.md)

    await school.set_policy(students_reach_classmates=True)

    async def allowed_everywhere() -> bool:
        for stubs in (a, b):
            try:
                await stubs.chat.SendMessage(send(dm, f"on-{next(counter)}"), metadata=ann.md)
                await stubs.chat.SendMessage(send(group, f"g-on-{next(counter)}"), metadata=bob.md)
            except grpc.aio.AioRpcError:
                return False
        return True

    await eventually(allowed_everywhere, timeout=15)
    await b.chat.OpenDirectChat(open_dm, metadata=ann.md)
