"""Test support for chat: in-process replicas on port 0, school/identity events written straight to
Kafka (a real broker), locally minted tokens, and a subscription collector."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import RecordMetadata, TopicPartition
from google.protobuf.message import Message
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.identity.v1 import events_pb2 as identity_pb
from parta.media_signal.v1 import events_pb2 as media_pb
from parta.school.v1 import events_pb2 as school_pb
from parta_common.events.envelope import make_envelope
from parta_common.events.topics import IDENTITY_USER, MEDIA_SIGNAL_ROOM, SCHOOL_CLASS, SCHOOL_MEMBERSHIP, SCHOOL_SCHOOL
from parta_common.testing.fakes import TokenMint

ADMIN, TEACHER, STUDENT, PARENT = (
    school_pb.SCHOOL_ROLE_ADMIN,
    school_pb.SCHOOL_ROLE_TEACHER,
    school_pb.SCHOOL_ROLE_STUDENT,
    school_pb.SCHOOL_ROLE_PARENT,
)
HEAD, SUBJECT, CSTUDENT, CPARENT = (
    school_pb.CLASS_ROLE_CLASS_HEAD,
    school_pb.CLASS_ROLE_SUBJECT_TEACHER,
    school_pb.CLASS_ROLE_STUDENT,
    school_pb.CLASS_ROLE_PARENT,
)


class MutableClock:
    """A clock tests can move; starts at real time so tokens and Kafka timestamps agree."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.fixed: datetime | None = None

    def now(self) -> datetime:
        return self.fixed if self.fixed is not None else datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        import time

        return time.monotonic()


# Every replica seals deleted messages under this key (docs/audit.md, "Sealed deletions").
SEALING_KEY = "integration-sealing-key-0123456789abcdef"


def uid(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class Person:
    user_id: str
    token: str

    @property
    def md(self) -> Sequence[tuple[str, str]]:
        return (("authorization", f"Bearer {self.token}"),)


class Stubs:
    def __init__(self, channel: grpc.aio.Channel):
        self.channel = channel
        self.chat = chat_pb2_grpc.ChatServiceStub(channel)
        self.files = chat_pb2_grpc.FileServiceStub(channel)


@dataclass
class Replica:
    service: Any
    address: str
    stubs: Stubs


@dataclass
class School:
    school_id: str
    world: World
    versions: dict[str, int] = field(default_factory=dict)
    snapshot: school_pb.SchoolSnapshot | None = None

    def _v(self, key: str) -> int:
        self.versions[key] = self.versions.get(key, 0) + 1
        return self.versions[key]

    async def create(
        self, name: str = "School 7", start: int = 8 * 60, end: int = 18 * 60, tz: str = "Europe/Moscow"
    ) -> None:
        snap = school_pb.SchoolSnapshot(
            school_id=self.school_id, name=name, timezone=tz, workday_start_minute=start, workday_end_minute=end
        )
        self.snapshot = snap
        await self.world.feed(
            SCHOOL_SCHOOL,
            school_pb.SchoolCreated(school=snap),
            "school",
            self.school_id,
            self._v(self.school_id),
            self.school_id,
        )

    async def set_policy(self, **switches: bool) -> RecordMetadata:
        """What school publishes after an admin's SetSchoolPolicy: SchoolUpdated, the snapshot
        carrying the policy (every switch set, as school fills them in)."""
        snap = school_pb.SchoolSnapshot()
        snap.CopyFrom(self.snapshot or school_pb.SchoolSnapshot(school_id=self.school_id))
        for name in ("students_reach_classmates", "parents_reach_parents", "calls_with_students"):
            setattr(snap.communication_policy, name, switches.get(name, True))
        self.snapshot = snap
        return await self.world.feed(
            SCHOOL_SCHOOL,
            school_pb.SchoolUpdated(school=snap),
            "school",
            self.school_id,
            self._v(self.school_id),
            self.school_id,
        )

    async def set_locale(self, locale: str) -> RecordMetadata:
        """What school publishes after an admin's UpdateSchool of "locale": SchoolUpdated."""
        snap = school_pb.SchoolSnapshot()
        snap.CopyFrom(self.snapshot or school_pb.SchoolSnapshot(school_id=self.school_id))
        snap.locale = locale
        self.snapshot = snap
        return await self.world.feed(
            SCHOOL_SCHOOL,
            school_pb.SchoolUpdated(school=snap),
            "school",
            self.school_id,
            self._v(self.school_id),
            self.school_id,
        )

    async def add_class(
        self, class_id: str, title: str = "5A", archived: bool = False, version: int | None = None
    ) -> None:
        snap = school_pb.ClassSnapshot(
            class_id=class_id, school_id=self.school_id, grade=5, letter="A", title=title, archived=archived
        )
        payload: Message = (
            school_pb.ClassArchived(**{"class": snap}) if archived else school_pb.ClassCreated(**{"class": snap})
        )
        await self.world.feed(SCHOOL_CLASS, payload, "class", class_id, version or self._v(class_id), self.school_id)

    async def member(
        self,
        user_id: str,
        role: int,
        class_id: str = "",
        class_role: int = 0,
        child: str = "",
        *,
        left: bool = False,
        reason: str = "left",
        membership_id: str | None = None,
        verified: bool | None = None,
        profile: bool = True,
        changed: bool = False,
    ) -> str:
        """A membership event. Staff are verified unless `verified=False` (a school's usual state;
        the unverified case is what tests ask for explicitly). The first time a person appears
        they get an educational profile (identity's ProfileCreated at version 0, so a test's own
        profile events win) unless `profile=False`. `changed`: MemberRoleChanged."""
        mid = membership_id or f"m-{user_id}-{class_id or 'school'}-{class_role}"
        if profile and user_id not in self.world.profiled:
            self.world.profiled.add(user_id)
            await self.world.profile(user_id, 0, created=True)
            if self.world.replicas:
                # Topics are consumed independently: wait for the profile, so that a test that
                # sends once it sees the membership does not race identity's topic.
                store = self.world.replicas[0].service.store
                await eventually(lambda: store.profile(user_id))
        if verified is None:
            verified = role in (school_pb.SCHOOL_ROLE_ADMIN, school_pb.SCHOOL_ROLE_TEACHER)
        snap = school_pb.MembershipSnapshot(
            membership_id=mid,
            school_id=self.school_id,
            user_id=user_id,
            school_role=role,  # type: ignore[arg-type]
            class_id=class_id,
            class_role=class_role,  # type: ignore[arg-type]
            child_user_id=child,
            verified=verified,
        )
        payload: Message = (
            school_pb.MemberLeft(membership=snap, reason=reason)
            if left
            else school_pb.MemberRoleChanged(membership=snap)
            if changed
            else school_pb.MemberJoined(membership=snap)
        )
        await self.world.feed(SCHOOL_MEMBERSHIP, payload, "membership", mid, self._v(mid), self.school_id)
        return mid


@dataclass
class World:
    mongo_uri: str
    kafka: str
    run: str
    mint: TokenMint = field(default_factory=TokenMint)
    clock: MutableClock = field(default_factory=MutableClock)
    replicas: list[Replica] = field(default_factory=list)
    producer: AIOKafkaProducer | None = None
    profiled: set[str] = field(default_factory=set)

    @property
    def prefix(self) -> str:
        return f"t{self.run}."

    @property
    def database(self) -> str:
        return f"chat_{self.run}"

    def settings(self, name: str, **extra: Any) -> Any:
        from chat.config import ChatSettings

        return ChatSettings(
            mongodb_uri=self.mongo_uri,  # type: ignore[arg-type]
            mongodb_database=self.database,
            kafka_bootstrap=self.kafka,
            kafka_topic_prefix=self.prefix,
            grpc_port=0,
            replica_id=name,
            outbox_poll_seconds=0.2,
            quiet_release_poll_seconds=0.2,
            sealing_key=SEALING_KEY,
            **extra,
        )

    async def start_replica(self, name: str, **extra: Any) -> Replica:
        from chat.bootstrap import build

        service = await build(self.settings(name, **extra), key_source=self.mint.source(), clock=self.clock)
        port = await service.runner.start()
        address = f"127.0.0.1:{port}"
        replica = Replica(service, address, Stubs(grpc.aio.insecure_channel(address)))
        self.replicas.append(replica)
        return replica

    async def stop(self) -> None:
        for replica in self.replicas:
            await replica.stubs.channel.close()
            await replica.service.runner.stop()
        if self.producer is not None:
            await self.producer.stop()

    def person(self, user_id: str | None = None) -> Person:
        user_id = user_id or uid()
        return Person(user_id, self.mint.token(user_id, session_id="s-" + user_id))

    def school(self) -> School:
        return School(uid("s"), self)

    async def feed(
        self, topic: str, payload: Message, aggregate_type: str, aggregate_id: str, version: int, key: str
    ) -> RecordMetadata:
        """Returns where the record landed, so a test can wait until chat's consumer group is past it."""
        if self.producer is None:
            self.producer = AIOKafkaProducer(bootstrap_servers=self.kafka, acks="all")
            await self.producer.start()
        envelope = make_envelope(
            payload,
            aggregate_type=aggregate_type,
            aggregate_id=aggregate_id,
            aggregate_version=version,
            producer="tests",
            occurred_at=datetime.now(UTC),
        )
        return await self.producer.send_and_wait(self.prefix + topic, envelope.SerializeToString(), key=key.encode())

    async def profile(self, user_id: str, version: int, *, awaiting: bool = False, created: bool = False) -> None:
        """`created`: the nameless ProfileCreated School.member gives everyone (names are not the
        point of those tests); otherwise a ProfileUpdated naming "Ann Lee"."""
        state = identity_pb.CONSENT_STATE_AWAITING_GUARDIAN if awaiting else identity_pb.CONSENT_STATE_NOT_REQUIRED
        first, last = ("", "") if created else ("Ann", "Lee")
        snap = identity_pb.ProfileSnapshot(user_id=user_id, first_name=first, last_name=last, consent_state=state)
        payload: Message = (
            identity_pb.ProfileCreated(profile=snap) if created else identity_pb.ProfileUpdated(profile=snap)
        )
        await self.feed(IDENTITY_USER, payload, "user", user_id, version, user_id)

    async def account_deleted(self, user_id: str, version: int) -> None:
        await self.feed(IDENTITY_USER, identity_pb.AccountDeleted(user_id=user_id), "user", user_id, version, user_id)

    async def lesson(
        self, room_id: str, school_id: str, class_id: str, *, ended: bool = False, attended: Sequence[str] = ()
    ) -> None:
        room = media_pb.RoomSnapshot(
            room_id=room_id, school_id=school_id, class_id=class_id, kind=media_pb.ROOM_KIND_LESSON, title="Math"
        )
        if ended:
            payload: Message = media_pb.RoomEnded(
                room=room, attendance=[media_pb.AttendanceRecord(user_id=u) for u in attended]
            )
        else:
            payload = media_pb.RoomStarted(room=room)
        await self.feed(MEDIA_SIGNAL_ROOM, payload, "room", room_id, 2 if ended else 1, room_id)


async def eventually(check: Callable[[], Any], timeout: float = 40.0, interval: float = 0.1) -> Any:
    """Polls an async check until it returns a truthy value (provisioning is asynchronous)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        try:
            last = await check()
            if last:
                return last
        except grpc.aio.AioRpcError as exc:
            last = exc
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in {timeout}s; last: {last!r}")
        await asyncio.sleep(interval)


async def consumed(world: World, record: RecordMetadata, timeout: float = 40.0) -> None:
    """Waits until chat's provisioning group has committed past `record` (it commits after the
    effect), so a test can assert that records with no visible effect were handled, not pending."""
    admin = AIOKafkaAdminClient(bootstrap_servers=world.kafka)
    await admin.start()
    tp = TopicPartition(record.topic, record.partition)
    try:

        async def past() -> bool:
            offsets = await admin.list_consumer_group_offsets(f"{world.prefix}chat-provisioning", partitions=[tp])
            committed = offsets.get(tp)
            return committed is not None and committed.offset > record.offset

        await eventually(past, timeout=timeout)
    finally:
        await admin.close()


async def chat_ids(stubs: Stubs, person: Person) -> set[str]:
    reply = await stubs.chat.ListChats(chat_pb2.ListChatsRequest(), metadata=person.md)
    return {c.chat.chat_id for c in reply.chats}


class Collector:
    """Runs a Subscribe stream in the background and records what arrives."""

    def __init__(self, stubs: Stubs, person: Person, cursors: dict[str, int] | None = None):
        self.events: list[chat_pb2.ChatEvent] = []
        self.live = asyncio.Event()
        self.error: grpc.aio.AioRpcError | None = None
        request = chat_pb2.SubscribeRequest(
            cursors=[chat_pb2.ChatCursor(chat_id=c, update_seq=s) for c, s in (cursors or {}).items()]
        )
        self._call = stubs.chat.Subscribe(request, metadata=person.md)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for event in self._call:
                if event.WhichOneof("event") == "live":
                    self.live.set()
                self.events.append(event)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = exc
        finally:
            self.live.set()

    async def ready(self, timeout: float = 40) -> Collector:
        """Waits until the stream has caught up and is live (the deadline of `eventually`: going live
        waits on the replica's live reader, which a loaded machine slows by seconds)."""
        try:
            await asyncio.wait_for(self.live.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"the Subscribe stream did not go live in {timeout} s") from None
        if self.error is not None:
            raise AssertionError(f"the Subscribe stream ended before going live: {self.error.code()}")
        return self

    def messages(self, chat_id: str | None = None) -> list[chat_pb2.MessageSnapshot]:
        return [
            e.message
            for e in self.events
            if e.WhichOneof("event") == "message" and (chat_id is None or e.chat_id == chat_id)
        ]

    def cursors(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.events:
            if e.chat_id and e.update_seq:
                out[e.chat_id] = max(out.get(e.chat_id, 0), e.update_seq)
            elif e.WhichOneof("event") == "chat_removed":
                out.pop(e.chat_id, None)
        return out

    async def close(self) -> None:
        self._call.cancel()
        with contextlib.suppress(BaseException):
            await self._task
