"""The attacker suite's world: identity, school, chat and media-signal as real processes, one school
built through the public API with every role of the issue-11 matrix, and helpers that turn a call
into an outcome string ("OK" or "CODE:REASON") so a cell compares one value.

The cast (school A unless said otherwise): ada the admin; tom verified class head of 5А; sub verified
subject teacher of 5А; tia verified teacher of 6Б only; una subject teacher of 5А who followed a
teacher link and was never verified; ann (15) and bob (15) students of 5А; kid (10) a 5А student
whose guardian never confirmed; nop a 5А student account with no profile; cid (15) a student of 6Б;
pam ann's parent (school-bound, her guardian link confirmed by the school); pat cid's parent; rex a
verified subject teacher of 5А the admin removed; gone a 5А student who deleted the account; rev a
5А student whose session was revoked; out the admin of another school.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.identity.v1 import (
    account_pb2,
    account_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    guardians_pb2,
    guardians_pb2_grpc,
    profiles_pb2,
    profiles_pb2_grpc,
)
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2 as mpb
from parta.media_signal.v1 import media_signal_pb2_grpc as mrpc
from parta.school.v1 import school_pb2_grpc

from tests.e2e import school_client as sc
from tests.e2e.harness import ROOT, Stack
from tests.e2e.identity_client import create_profile, random_phone, sign_in

OPERATOR = random_phone()
T = 10.0  # per-call deadline


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 20.0, interval: float = 0.2, what: str = ""
) -> None:
    """Waits for `check()` to be true, with a deadline (never a bare sleep)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true after {timeout}s: {what or check}")
        await asyncio.sleep(interval)


def reason_of(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


def field_violations(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)
    fields: list[str] = []
    for detail in status.details if status is not None else []:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields += [v.field for v in bad.field_violations]
    return fields


def describe(error: grpc.aio.AioRpcError) -> str:
    return f"{error.code().name}:{reason_of(error)}"


async def outcome(call: Callable[[], Awaitable[Any]]) -> str:
    """ "OK" when the call succeeds, else "CODE:REASON" (the ErrorInfo reason)."""
    try:
        await call()
    except grpc.aio.AioRpcError as error:
        return describe(error)
    return "OK"


async def settled_outcome(call: Callable[[], Awaitable[str]], accept: frozenset[str], timeout: float = 3.0) -> str:
    """The cell's outcome, retried briefly while a Kafka-fed projection may still be catching up."""
    start = asyncio.get_running_loop().time()
    while True:
        got = await call()
        # PROFILE_MISSING where it is not expected is identity's ProfileCreated still on its way to
        # chat or media-signal (another topic than the memberships the fixture waited for).
        budget = 20.0 if got.endswith("PROFILE_MISSING") else timeout
        if got in accept or asyncio.get_running_loop().time() - start > budget:
            return got
        await asyncio.sleep(0.25)


def birth_date(age: int) -> str:
    today = date.today()
    return date(today.year - age, 1, 1).isoformat()  # turned `age` this New Year


@dataclass
class Actor:
    name: str
    user_id: str
    token: str
    phone: str
    session_id: str

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)


@dataclass
class World:
    stack: Stack
    identity: str
    school: str
    chat: str
    media: str
    channels: list[grpc.aio.Channel] = field(default_factory=list)
    people: dict[str, Actor] = field(default_factory=dict)
    school_id: str = ""
    other_school_id: str = ""
    class_5a: str = ""
    class_6b: str = ""
    lesson_id: str = ""
    file_id: str = ""
    nop_joined: bool = False
    una_group: str = ""
    notes: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Actor:
        return self.people[name]

    def _channel(self, address: str) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(address)
        self.channels.append(channel)
        return channel

    # stubs (one channel per service, reused)
    def __post_init__(self) -> None:
        self._chat = self._channel(self.chat)
        self._media = self._channel(self.media)
        self._identity = self._channel(self.identity)
        self._school = self._channel(self.school)
        self.chats = chat_pb2_grpc.ChatServiceStub(self._chat)
        self.files = chat_pb2_grpc.FileServiceStub(self._chat)
        self.rooms = mrpc.RoomServiceStub(self._media)
        self.auth = auth_pb2_grpc.AuthServiceStub(self._identity)
        self.profiles = profiles_pb2_grpc.ProfileServiceStub(self._identity)
        self.guardians = guardians_pb2_grpc.GuardianServiceStub(self._identity)
        self.account = account_pb2_grpc.AccountServiceStub(self._identity)
        self.schools = school_pb2_grpc.SchoolServiceStub(self._school)
        self.invites = school_pb2_grpc.InviteServiceStub(self._school)
        self.members = school_pb2_grpc.MembershipServiceStub(self._school)

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()

    @property
    def class_chat(self) -> str:
        return f"cls-{self.class_5a}"

    @property
    def staff_chat(self) -> str:
        return f"stf-{self.school_id}"

    # ------------------------------------------------------------ people

    async def person(self, name: str, age: int | None) -> Actor:
        """Signs a new phone in; `age` None leaves the account without an educational profile."""
        signed = await sign_in(self.identity, random_phone(), self.stack.sms_file)
        if age is not None:
            first = "".join(c for c in name if c.isalpha()).title()  # names are letters only
            await create_profile(self.identity, signed.access_token, first, "Тестова", birth_date(age))
        actor = Actor(name, signed.user_id, signed.access_token, signed.phone, signed.session_id)
        self.people[name] = actor
        return actor

    async def join(self, who: Actor, role: int, class_id: str = "", child: str = "") -> None:
        await sc.join_school(
            self.school, self["ada"].token, self.school_id, who.token, role, class_id=class_id, child_user_id=child
        )

    # ------------------------------------------------------------ actions used by cells and findings

    async def dm(self, who: Actor, other: Actor) -> str:
        reply = await self.chats.OpenDirectChat(
            chat_pb2.OpenDirectChatRequest(school_id=self.school_id, user_id=other.user_id), metadata=who.md, timeout=T
        )
        return str(reply.chat.chat.chat_id)

    async def group(self, who: Actor, *others: Actor, title: str = "Кружок") -> str:
        reply = await self.chats.CreateGroupChat(
            chat_pb2.CreateGroupChatRequest(
                request_id=uuid.uuid4().hex,
                school_id=self.school_id,
                title=title,
                member_user_ids=[o.user_id for o in others],
            ),
            metadata=who.md,
            timeout=T,
        )
        return str(reply.chat.chat.chat_id)

    async def add(self, who: Actor, chat_id: str, *others: Actor) -> None:
        await self.chats.AddMembers(
            chat_pb2.AddMembersRequest(chat_id=chat_id, user_ids=[o.user_id for o in others]),
            metadata=who.md,
            timeout=T,
        )

    async def send(self, who: Actor, chat_id: str, text: str = "привет", file_ids: tuple[str, ...] = ()) -> int:
        reply = await self.chats.SendMessage(
            chat_pb2.SendMessageRequest(
                chat_id=chat_id, client_message_id=uuid.uuid4().hex, text=text, file_ids=list(file_ids)
            ),
            metadata=who.md,
            timeout=T,
        )
        return int(reply.message.seq)

    async def history(self, who: Actor, chat_id: str) -> list[chat_pb2.MessageSnapshot]:
        reply = await self.chats.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id), metadata=who.md, timeout=T)
        return list(reply.messages)

    async def chat_ids(self, who: Actor) -> set[str]:
        reply = await self.chats.ListChats(
            chat_pb2.ListChatsRequest(school_id=self.school_id), metadata=who.md, timeout=T
        )
        return {c.chat.chat_id for c in reply.chats}

    async def upload(self, who: Actor, data: bytes, name: str = "worksheet.txt") -> str:
        async def parts():  # type: ignore[no-untyped-def]
            yield chat_pb2.UploadFileRequest(
                metadata=chat_pb2.UploadMetadata(
                    request_id=uuid.uuid4().hex, filename=name, content_type="text/plain", size_bytes=len(data)
                )
            )
            yield chat_pb2.UploadFileRequest(chunk=chat_pb2.UploadChunk(offset=0, data=data))

        reply = await self.files.UploadFile(parts(), metadata=who.md, timeout=T)
        return str(reply.file.file_id)

    async def download(self, who: Actor, file_id: str) -> bytes:
        data = b""
        async for part in self.files.DownloadFile(
            chat_pb2.DownloadFileRequest(file_id=file_id), metadata=who.md, timeout=T
        ):
            if part.WhichOneof("part") == "chunk":
                data += part.chunk.data
        return data

    async def call(self, who: Actor, *invited: Actor) -> mpb.Room:
        reply = await self.rooms.CreateRoom(
            mpb.CreateRoomRequest(
                request_id=uuid.uuid4().hex,
                school_id=self.school_id,
                kind=room_events.ROOM_KIND_CALL,
                title="Звонок",
                invited_user_ids=[o.user_id for o in invited],
                start_now=True,
            ),
            metadata=who.md,
            timeout=T,
        )
        return reply.room

    async def join_token(self, who: Actor, room_id: str) -> mpb.CreateJoinTokenResponse:
        return await self.rooms.CreateJoinToken(mpb.CreateJoinTokenRequest(room_id=room_id), metadata=who.md, timeout=T)

    async def get_room(self, who: Actor, room_id: str) -> mpb.Room:
        return (await self.rooms.GetRoom(mpb.GetRoomRequest(room_id=room_id), metadata=who.md, timeout=T)).room

    async def link_guardian(self, who: Actor, child_phone: str) -> guardians_pb2.GuardianLink:
        reply = await self.guardians.LinkGuardian(
            guardians_pb2.LinkGuardianRequest(child_phone=child_phone), metadata=who.md, timeout=T
        )
        return reply.link

    async def export(self, who: Actor) -> account_pb2.ExportMyDataResponse:
        return await self.account.ExportMyData(account_pb2.ExportMyDataRequest(), metadata=who.md, timeout=T)

    async def my_profile(self, who: Actor) -> profiles_pb2.Profile:
        return (
            await self.profiles.GetMyProfile(profiles_pb2.GetMyProfileRequest(), metadata=who.md, timeout=T)
        ).profile

    async def subscribe_sees(self, who: Actor, chat_id: str, timeout: float = 15.0) -> str:
        """Subscribe with a cursor for `chat_id`: "OK" when the stream carries the chat's history or
        snapshot, "NOT_DELIVERED" when it says chat_removed or goes live without it, else the error."""
        stream = self.chats.Subscribe(
            chat_pb2.SubscribeRequest(cursors=[chat_pb2.ChatCursor(chat_id=chat_id, update_seq=0)]),
            metadata=who.md,
        )
        seen = False
        try:
            async with asyncio.timeout(timeout):
                async for event in stream:
                    kind = event.WhichOneof("event")
                    if kind == "live":
                        break
                    if event.chat_id == chat_id:
                        if kind == "chat_removed":
                            return "NOT_DELIVERED"
                        seen = True
        except grpc.aio.AioRpcError as error:
            return describe(error)
        finally:
            stream.cancel()
        return "OK" if seen else "NOT_DELIVERED"


class Live:
    """An open Subscribe stream collecting every event in the background."""

    def __init__(self, world: World, who: Actor):
        self.stream = world.chats.Subscribe(chat_pb2.SubscribeRequest(), metadata=who.md)
        self.events: list[chat_pb2.ChatEvent] = []
        self.error: grpc.aio.AioRpcError | None = None
        self.done = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for event in self.stream:
                self.events.append(event)
        except grpc.aio.AioRpcError as error:
            self.error = error
        finally:
            self.done.set()

    @property
    def is_live(self) -> bool:
        return any(e.WhichOneof("event") == "live" for e in self.events)

    def texts(self, chat_id: str) -> list[str]:
        return [e.message.text for e in self.events if e.chat_id == chat_id and e.WhichOneof("event") == "message"]

    def removed(self, chat_id: str) -> bool:
        return any(e.chat_id == chat_id and e.WhichOneof("event") == "chat_removed" for e in self.events)

    def reads(self) -> list[chat_pb2.ReadUpdated]:
        return [e.read for e in self.events if e.WhichOneof("event") == "read"]

    async def close(self) -> None:
        self.stream.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


# ---------------------------------------------------------------- building the world


async def start_stack(mongo_uri: str, kafka_bootstrap: str) -> tuple[Stack, World]:
    import sys

    sys.path.insert(0, str(ROOT / "deploy" / "local"))
    import media

    stack = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        for component in media.COMPONENTS.values():
            component.up()  # idempotent: Janus and coturn already run from the shared cache
        # Tokens must outlive both modules' worlds on a slow machine (the default is minutes).
        identity = await stack.start("identity", {"IDENTITY_ACCESS_TOKEN_TTL_SECONDS": "1800"})
        school = await stack.start("school", {"SCHOOL_OPERATOR_PHONES": OPERATOR})
        chat = await stack.start("chat")
        m = media.env()
        rooms = await stack.start(
            "media_signal",
            {
                "MEDIA_SIGNAL_JANUS_URL": m["janus_url"],
                "MEDIA_SIGNAL_TURN_URIS": m["turn_uri"],
                "MEDIA_SIGNAL_TURN_SECRET": m["turn_secret"],
                "MEDIA_SIGNAL_JOIN_TOKEN_SECRET": uuid.uuid4().hex * 2,
            },
        )
    except BaseException:
        stack.stop_all()
        raise
    return stack, World(stack, identity.address, school.address, chat.address, rooms.address)


async def build_school(w: World) -> None:
    """The cast above, through the public API only, then waits until chat and media-signal have
    every membership, profile and revocation in their projections."""
    operator = await sign_in(w.identity, OPERATOR, w.stack.sms_file)
    ada_phone = random_phone()
    school = await sc.register_school(w.school, operator.access_token, admin_phone=ada_phone)
    w.school_id = school.school_id
    ada_signed = await sign_in(w.identity, ada_phone, w.stack.sms_file)
    await create_profile(w.identity, ada_signed.access_token, "Ада", "Директорова", birth_date(50))
    w.people["ada"] = ada = Actor("ada", ada_signed.user_id, ada_signed.access_token, ada_phone, ada_signed.session_id)
    await sc.claim(w.school, ada.token)
    w.class_5a = (await sc.create_class(w.school, ada.token, w.school_id, 5, "А")).class_id
    w.class_6b = (await sc.create_class(w.school, ada.token, w.school_id, 6, "Б")).class_id

    adults = ["tom", "sub", "tia", "una", "rex", "pam", "pat"]
    students = {"ann": 15, "bob": 15, "kid": 10, "cid": 15, "gone": 15, "rev": 15}
    made = await asyncio.gather(*(w.person(n, 40) for n in adults), *(w.person(n, a) for n, a in students.items()))
    del made
    await w.person("nop", None)

    for name in ("tom", "sub", "tia", "una", "rex"):
        await w.join(w[name], sc.TEACHER)
    for name in ("tom", "sub", "tia", "rex"):
        await sc.verify_staff(w.school, ada.token, w.school_id, w[name].user_id)
    await sc.set_class_head(w.school, ada.token, w.class_5a, w["tom"].user_id)
    await sc.add_subject_teacher(w.school, ada.token, w.class_5a, w["sub"].user_id, "Математика")
    await sc.add_subject_teacher(w.school, ada.token, w.class_5a, w["una"].user_id, "Физика")
    await sc.add_subject_teacher(w.school, ada.token, w.class_5a, w["rex"].user_id, "История")
    await sc.add_subject_teacher(w.school, ada.token, w.class_6b, w["tia"].user_id, "Химия")
    for name in ("ann", "bob", "kid", "gone", "rev"):
        await w.join(w[name], sc.STUDENT, w.class_5a)
    await w.join(w["cid"], sc.STUDENT, w.class_6b)
    try:
        await w.join(w["nop"], sc.STUDENT, w.class_5a)
        w.nop_joined = True
    except grpc.aio.AioRpcError as error:
        w.notes["nop_join"] = describe(error)  # the profile gate (finding 1a) refuses it
    await w.join(w["pam"], sc.PARENT, w.class_5a, child=w["ann"].user_id)
    await w.join(w["pat"], sc.PARENT, w.class_6b, child=w["cid"].user_id)
    # pam becomes ann's guardian in identity too (confirmed by the school: she is bound to ann).
    await w.link_guardian(w["pam"], w["ann"].phone)

    # out: the admin of another school.
    out_phone = random_phone()
    other = await sc.register_school(w.school, operator.access_token, admin_phone=out_phone, name="Школа № 99")
    w.other_school_id = other.school_id
    out_signed = await sign_in(w.identity, out_phone, w.stack.sms_file)
    await create_profile(w.identity, out_signed.access_token, "Чужой", "Посторонний", birth_date(45))
    w.people["out"] = Actor("out", out_signed.user_id, out_signed.access_token, out_phone, out_signed.session_id)
    await sc.claim(w.school, w["out"].token)

    # Wait for the projections before the room, the file and the removals.
    sentinel = await w.person("sentinel", 15)
    await w.join(sentinel, sc.STUDENT, w.class_5a)

    async def chat_has_everyone() -> bool:
        return w.class_chat in await w.chat_ids(sentinel) and w.class_chat in await w.chat_ids(w["tom"])

    await eventually(chat_has_everyone, timeout=60, what="chat provisioned 5А with everyone")

    async def lesson() -> bool:
        try:
            room = (
                await w.rooms.CreateRoom(
                    mpb.CreateRoomRequest(
                        request_id="lesson-5a",
                        school_id=w.school_id,
                        class_id=w.class_5a,
                        kind=room_events.ROOM_KIND_LESSON,
                        title="Урок истории",
                        start_now=True,
                    ),
                    metadata=w["tom"].md,
                    timeout=T,
                )
            ).room
        except grpc.aio.AioRpcError:
            return False
        w.lesson_id = room.room_id
        return True

    await eventually(lesson, timeout=60, what="tom's lesson")
    w.file_id = await w.upload(w["tom"], b"homework: p. 42", "homework.txt")
    await w.send(w["tom"], w.class_chat, "Домашнее задание", file_ids=(w.file_id,))
    w.una_group = await w.group(w["una"], w["tom"], title="Методобъединение")

    # Removal, deletion, revocation: what the matrix's rex, gone and rev rows are about.
    await sc.remove_member(w.school, ada.token, w.school_id, w["rex"].user_id)
    await w.account.DeleteAccount(account_pb2.DeleteAccountRequest(confirm=True), metadata=w["gone"].md, timeout=T)
    await w.auth.RevokeSession(
        auth_pb2.RevokeSessionRequest(session_id=w["rev"].session_id), metadata=w["rev"].md, timeout=T
    )
    late = await w.person("late", 15)  # joined after the removal: same partition, so seen after it
    await w.join(late, sc.STUDENT, w.class_5a)

    async def chat_saw_late() -> bool:
        return w.class_chat in await w.chat_ids(late)

    await eventually(chat_saw_late, timeout=60, what="chat consumed the removal")

    async def media_saw_late() -> bool:
        return await outcome(lambda: w.join_token(late, w.lesson_id)) == "OK"

    await eventually(media_saw_late, timeout=60, what="media-signal consumed the removal")

    # kid's profile (awaiting a guardian) reached both projections: both refuse her today.
    async def chat_knows_kid() -> bool:
        return await outcome(lambda: w.send(w["kid"], w.class_chat)) == "PERMISSION_DENIED:AWAITING_GUARDIAN"

    await eventually(chat_knows_kid, timeout=60, what="chat knows kid awaits a guardian")

    async def media_knows_kid() -> bool:
        return (await outcome(lambda: w.call(w["bob"], w["kid"]))).endswith("AWAITING_GUARDIAN")

    await eventually(media_knows_kid, timeout=60, what="media-signal knows kid awaits a guardian")

    # Revocation has seconds to arrive; a service that never refuses is what the rows then show.
    async def revoked_everywhere() -> bool:
        results = [
            await outcome(lambda: w.chat_ids(w["rev"])),
            await outcome(lambda: w.get_room(w["rev"], w.lesson_id)),
            await outcome(lambda: w.chat_ids(w["gone"])),
        ]
        return all(r.startswith("UNAUTHENTICATED") for r in results)

    with contextlib.suppress(AssertionError):
        await eventually(revoked_everywhere, timeout=10, what="revocations reached chat and media-signal")


__all__ = ["Actor", "Live", "World", "build_school", "eventually", "outcome", "start_stack"]
