"""Realistic data for load tests, made through the public gRPC APIs only (as a real client would).

Each seed signs people in through identity's development SMS gateway, builds what the scenarios of
one service need and returns (variables, tokens): `${name}` values for the scenario file and the
access tokens ghz rotates through. Tokens live ~15 minutes, longer than any bounded run.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import identity_client as idc  # tests/e2e, put on sys.path by run.py

FIRST_NAMES = ["Ирина", "Павел", "Ольга", "Миша", "Анна", "Дмитрий", "Елена", "Сергей", "Мария", "Никита"]
LAST_NAMES = ["Соколова", "Петров", "Смирнова", "Иванов", "Кузнецова", "Попов", "Васильева", "Новиков"]


@dataclass
class SeedContext:
    """Where the running services are, and how to read sign-in codes."""

    addresses: dict[str, str]
    sms_file: Path
    users: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Person:
    user_id: str
    token: str
    phone: str


Seed = Callable[[SeedContext], Awaitable[tuple[dict[str, Any], list[str]]]]


def _phone(n: int) -> str:
    # +7 999 block, with a random high part so repeated runs against one deployment do not collide.
    return f"+7999{random.randrange(100, 999)}{n:04d}"


async def sign_in_people(ctx: SeedContext, count: int, *, adults: bool = True, parallel: int = 8) -> list[Person]:
    """Sign `count` people in and give each an educational profile."""
    limit = asyncio.Semaphore(parallel)

    async def one(n: int) -> Person:
        async with limit:
            phone = _phone(n)
            signed = await idc.sign_in(ctx.addresses["identity"], phone, ctx.sms_file, device="loadtest")
            year = random.randrange(1975, 1995) if adults else random.randrange(2009, 2011)
            await idc.create_profile(
                ctx.addresses["identity"],
                signed.access_token,
                random.choice(FIRST_NAMES),
                random.choice(LAST_NAMES),
                f"{year}-{random.randrange(1, 13):02d}-{random.randrange(1, 29):02d}",
            )
            return Person(signed.user_id, signed.access_token, phone)

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def seed_identity(ctx: SeedContext) -> tuple[dict[str, Any], list[str]]:
    people = await sign_in_people(ctx, ctx.users)
    return {"user_ids": [p.user_id for p in people][:50], "user_count": len(people)}, [p.token for p in people]


async def seed_school_class(ctx: SeedContext) -> tuple[dict[str, Any], list[Person], Any]:
    """A school with one class: the admin, teachers and students as members (used by the chat seed)."""
    import school_client as sc  # tests/e2e; only when school runs

    # The operator's phone is in SCHOOL_OPERATOR_PHONES of the school process run.py started.
    operator_signed = await idc.sign_in(ctx.addresses["identity"], ctx.extra["operator_phone"], ctx.sms_file)
    operator = Person(operator_signed.user_id, operator_signed.access_token, ctx.extra["operator_phone"])
    admin_phone = _phone(9000)
    school = await sc.register_school(ctx.addresses["school"], operator.token, admin_phone=admin_phone)
    admin_signed = await idc.sign_in(ctx.addresses["identity"], admin_phone, ctx.sms_file, device="loadtest")
    await sc.claim(ctx.addresses["school"], admin_signed.access_token)
    admin = Person(admin_signed.user_id, admin_signed.access_token, admin_phone)
    klass = await sc.create_class(ctx.addresses["school"], admin.token, school.school_id, 5, "А")
    # Students of 15-17: above the default consent age (14), so they may write without a guardian.
    members = await sign_in_people(ctx, max(ctx.users - 1, 1), adults=False)
    invite = await sc.create_invite(
        ctx.addresses["school"],
        admin.token,
        school.school_id,
        sc.STUDENT,
        class_id=klass.class_id,
        max_uses=len(members) + 1,
    )
    for person in members:
        await sc.accept_invite(ctx.addresses["school"], person.token, invite.token)
    variables = {"school_id": school.school_id, "class_id": klass.class_id, "invite_token": invite.token}
    return variables, [admin, *members], klass


async def seed_school(ctx: SeedContext) -> tuple[dict[str, Any], list[str]]:
    variables, people, _ = await seed_school_class(ctx)
    return variables, [p.token for p in people]  # the admin first: scenarios act as the admin


async def seed_media_signal(ctx: SeedContext) -> tuple[dict[str, Any], list[str]]:
    """The school's admin schedules and starts a lesson for the class, once media-signal's membership
    projection (fed by school's events through Kafka) knows the admin; scenarios read it and ask for
    join grants."""
    import grpc
    from parta.media_signal.v1 import events_pb2 as room_events
    from parta.media_signal.v1 import media_signal_pb2 as pb
    from parta.media_signal.v1 import media_signal_pb2_grpc as pb_grpc

    variables, people, _ = await seed_school_class(ctx)
    admin = people[0]
    request = pb.CreateRoomRequest(
        request_id=request_id(),
        school_id=variables["school_id"],
        class_id=variables["class_id"],
        kind=room_events.ROOM_KIND_LESSON,
        title="Математика 5А",
    )
    deadline = asyncio.get_running_loop().time() + 60
    async with grpc.aio.insecure_channel(ctx.addresses["media-signal"]) as channel:
        rooms = pb_grpc.RoomServiceStub(channel)
        while True:  # same request id: a retry after the projection caught up returns the same room
            try:
                reply = await rooms.CreateRoom(request, metadata=idc.auth(admin.token), timeout=10)
                break
            except grpc.aio.AioRpcError as error:
                if error.code() not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND):
                    raise
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError("media-signal never learnt the school's memberships from Kafka") from error
                await asyncio.sleep(0.5)
        # Started, so join grants can be issued (a scheduled room refuses them).
        start = pb.StartRoomRequest(room_id=reply.room.room_id)
        await rooms.StartRoom(start, metadata=idc.auth(admin.token), timeout=10)
    variables["room_id"] = reply.room.room_id
    variables["member_id"] = people[-1].user_id
    return variables, [p.token for p in people]


async def seed_chat(ctx: SeedContext, *, history: int = 60) -> tuple[dict[str, Any], list[str]]:
    """Class 5А's chat, provisioned by chat from school's events, with some history from its members.

    Scenarios act as the first student (a member who may post); the admin is not in class chats.
    """
    import grpc
    from parta.chat.v1 import chat_pb2 as pb
    from parta.chat.v1 import chat_pb2_grpc as pb_grpc
    from parta.chat.v1 import events_pb2 as chat_events

    variables, people, _ = await seed_school_class(ctx)
    students = people[1:]
    deadline = asyncio.get_running_loop().time() + 60
    async with grpc.aio.insecure_channel(ctx.addresses["chat"]) as channel:
        chats = pb_grpc.ChatServiceStub(channel)
        chat_id = ""
        while not chat_id:  # chat learns about the class and its members from Kafka
            reply = await chats.ListChats(
                pb.ListChatsRequest(school_id=variables["school_id"]), metadata=idc.auth(students[0].token), timeout=10
            )
            chat_id = next((v.chat.chat_id for v in reply.chats if v.chat.kind == chat_events.CHAT_KIND_CLASS), "")
            if not chat_id:
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError("chat never provisioned the class chat from school's events")
                await asyncio.sleep(0.5)
        # Memberships arrive as separate events: wait until every student is in the chat.
        while True:
            got = await chats.GetChat(
                pb.GetChatRequest(chat_id=chat_id), metadata=idc.auth(students[0].token), timeout=10
            )
            snapshot = got.chat.chat  # GetChatResponse.chat is a ChatView; .chat its snapshot
            if snapshot.member_count >= len(students):
                break
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"class chat has {snapshot.member_count} of {len(students)} students")
            await asyncio.sleep(0.5)
        last_seq = 0
        for n in range(history):
            author = students[n % len(students)]
            sent = await chats.SendMessage(
                pb.SendMessageRequest(chat_id=chat_id, client_message_id=request_id(), text=f"Сообщение {n + 1}"),
                metadata=idc.auth(author.token),
                timeout=10,
            )
            last_seq = max(last_seq, sent.message.seq)
    variables.update({"chat_id": chat_id, "last_seq": last_seq, "history_from": max(last_seq - 20, 0)})
    return variables, [p.token for p in students]


SEEDS: dict[str, Seed] = {
    "identity": seed_identity,
    "school": seed_school,
    "chat": seed_chat,
    "media-signal": seed_media_signal,
}


def request_id() -> str:
    return uuid.uuid4().hex
