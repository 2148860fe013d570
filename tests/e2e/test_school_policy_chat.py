"""A school's communication policy end to end — identity, school and two chat replicas as processes:
the admin switches students_reach_classmates off with SetSchoolPolicy (a teacher may not), and
within seconds both chat replicas refuse classmates' DM messages and a new DM with
CONTACT_NOT_ALLOWED; switched on again, they write again."""

from __future__ import annotations

import time
import uuid

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.chat.v1 import chat_pb2

from tests.chat.support import Person, Stubs, eventually
from tests.e2e import school_client as sc
from tests.e2e.harness import Stack
from tests.e2e.identity_client import random_phone
from tests.e2e.seed_support import TEEN, seed_school

OPERATOR = random_phone()
DENIED = (grpc.StatusCode.PERMISSION_DENIED, "CONTACT_NOT_ALLOWED")
OK = (grpc.StatusCode.OK, "")


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):  # type: ignore[no-untyped-def]
    s = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        yield s
    finally:
        s.stop_all()


async def outcome(call) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    try:
        await call
    except grpc.aio.AioRpcError as error:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
        reasons = [
            error_details_pb2.ErrorInfo.FromString(d.value).reason
            for d in (status.details if status else [])
            if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)
        ]
        return error.code(), reasons[0] if reasons else ""
    return OK


async def test_an_admin_switches_classmates_off_and_on_and_chat_follows(stack: Stack) -> None:
    identity = await stack.start("identity")
    school_svc = await stack.start("school", {"SCHOOL_OPERATOR_PHONES": OPERATOR})
    chat_a = await stack.start("chat", name="chat-a")
    chat_b = await stack.start("chat", name="chat-b")
    address = school_svc.address
    world = await seed_school(identity.address, address, stack.sms_file, OPERATOR)
    admin, sid = world.admin, world.school_id
    # Two students of 5А, past the consent age (consent is not what this test is about), and its head.
    klass = await world.seat_class("А", children=[TEEN, "2010-05-01"])
    (ann, bob), teacher = klass.children, klass.head
    assert teacher is not None

    a = Stubs(grpc.aio.insecure_channel(chat_a.address))
    b = Stubs(grpc.aio.insecure_channel(chat_b.address))
    open_dm = chat_pb2.OpenDirectChatRequest(school_id=sid, user_id=bob.user_id)

    async def dm_opened() -> str:
        reply = await outcome(a.chat.OpenDirectChat(open_dm, metadata=ann.md))
        return "yes" if reply == OK else ""

    await eventually(dm_opened, timeout=60)  # chat's projection learns both seats
    dm = (await a.chat.OpenDirectChat(open_dm, metadata=ann.md)).chat.chat.chat_id
    keys = iter(range(100_000))

    def send(stubs: Stubs, who: Person):  # type: ignore[no-untyped-def]
        request = chat_pb2.SendMessageRequest(chat_id=dm, client_message_id=f"m{next(keys)}", text="задача 3?")
        return stubs.chat.SendMessage(request, metadata=who.md)

    assert await outcome(send(b, bob)) == OK

    # Only admins set (or read) the policy.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await sc.set_school_policy(address, teacher.token, sid, students_reach_classmates=False)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    policy = await sc.set_school_policy(address, admin.token, sid, students_reach_classmates=False)
    assert not policy.students_reach_classmates and policy.calls_with_students
    started = time.monotonic()

    async def refused_on_both() -> bool:
        return await outcome(send(a, ann)) == DENIED and await outcome(send(b, bob)) == DENIED

    await eventually(refused_on_both, timeout=15)
    assert time.monotonic() - started < 15
    for stubs in (a, b):
        assert await outcome(stubs.chat.OpenDirectChat(open_dm, metadata=ann.md)) == DENIED
    assert (await sc.get_school_policy(address, admin.token, sid)).students_reach_classmates is False

    await sc.set_school_policy(address, admin.token, sid, students_reach_classmates=True)

    async def allowed_on_both() -> bool:
        return await outcome(send(a, ann)) == OK and await outcome(send(b, bob)) == OK

    await eventually(allowed_on_both, timeout=15)
