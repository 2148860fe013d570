"""Helpers for media-signal end-to-end tests and its benchmark: a stand-in for identity's key
endpoint, school events published to Kafka, the service as a process, signalling clients and
aiortc peers that count decoded frames."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import secrets
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from aiokafka import AIOKafkaProducer
from parta.identity.v1 import events_pb2 as identity_pb2
from parta.identity.v1 import keys_pb2, keys_pb2_grpc
from parta.media_signal.v1 import events_pb2 as room_events
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta.media_signal.v1 import media_signal_pb2_grpc as pb_grpc
from parta.school.v1 import events_pb2 as school_pb2
from parta_common.events.envelope import make_envelope
from parta_common.testing.fakes import TokenMint

from tests.e2e.harness import ROOT, Stack, free_port

sys.path.insert(0, str(ROOT / "deploy" / "local"))
import media
from parta_common.events.topics import IDENTITY_USER, SCHOOL_CLASS, SCHOOL_MEMBERSHIP


class KeyServer(keys_pb2_grpc.SigningKeyServiceServicer):
    """Publishes the TokenMint's public key the way identity's SigningKeyService does."""

    def __init__(self, mint: TokenMint):
        self.mint = mint
        self.server: grpc.aio.Server | None = None
        self.address = ""

    async def ListSigningKeys(self, request: Any, context: Any) -> keys_pb2.ListSigningKeysResponse:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw = self.mint.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return keys_pb2.ListSigningKeysResponse(
            keys=[keys_pb2.SigningKey(key_id=self.mint.key_id, algorithm="EdDSA", public_key=raw)]
        )

    async def start(self) -> str:
        self.server = grpc.aio.server()
        keys_pb2_grpc.add_SigningKeyServiceServicer_to_server(self, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        self.address = f"127.0.0.1:{port}"
        return self.address

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(0)


SCHOOL_ROLE = {"admin": 1, "teacher": 2, "student": 3, "parent": 4}
CLASS_ROLE = {"class_head": 1, "subject_teacher": 2, "student": 3, "parent": 4, "staff": 5}


@dataclass
class School:
    school_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    class_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    version: int = 0

    def snapshot(
        self,
        user_id: str,
        school_role: str,
        class_role: str = "",
        *,
        child_user_id: str = "",
        verified: bool | None = None,
        membership_id: str = "",
    ) -> school_pb2.MembershipSnapshot:
        """Staff are verified unless told otherwise (as after an admin's verification)."""
        return school_pb2.MembershipSnapshot(
            membership_id=membership_id or str(uuid.uuid4()),
            school_id=self.school_id,
            user_id=user_id,
            school_role=SCHOOL_ROLE[school_role],
            class_id=self.class_id if class_role else "",
            class_role=CLASS_ROLE.get(class_role, 0),
            child_user_id=child_user_id,
            verified=(school_role in ("admin", "teacher")) if verified is None else verified,
        )

    def membership(self, user_id: str, school_role: str, class_role: str = "") -> school_pb2.MemberJoined:
        return school_pb2.MemberJoined(membership=self.snapshot(user_id, school_role, class_role))


async def _publish_profiles(producer: AIOKafkaProducer, prefix: str, user_ids: list[str]) -> None:
    """Every member has an educational profile (no participation without one): identity's
    ProfileCreated at version 0, so a test's own identity events (version 1 on) still win."""
    from datetime import UTC, datetime

    for user_id in dict.fromkeys(user_ids):
        profile = make_envelope(
            identity_pb2.ProfileCreated(profile=identity_pb2.ProfileSnapshot(user_id=user_id, first_name="Т")),
            aggregate_type="user",
            aggregate_id=user_id,
            aggregate_version=0,
            producer="identity",
            occurred_at=datetime.now(UTC),
        )
        await producer.send_and_wait(f"{prefix}{IDENTITY_USER}", profile.SerializeToString(), key=user_id.encode())


async def publish_school(bootstrap: str, prefix: str, school: School, members: list[tuple[str, str, str]]) -> None:
    """Publishes ClassCreated and MemberJoined events as school would (key: school id)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        now = time.time()
        from datetime import UTC, datetime

        def envelope(payload: Any) -> bytes:
            school.version += 1
            return make_envelope(
                payload,
                aggregate_type="school",
                aggregate_id=school.school_id,
                aggregate_version=school.version,
                producer="school",
                occurred_at=datetime.fromtimestamp(now, UTC),
            ).SerializeToString()

        await _publish_profiles(producer, prefix, [m[0] for m in members])
        klass = school_pb2.ClassCreated(
            **{"class": school_pb2.ClassSnapshot(class_id=school.class_id, school_id=school.school_id, title="5А")}
        )
        await producer.send_and_wait(f"{prefix}{SCHOOL_CLASS}", envelope(klass), key=school.school_id.encode())
        for user_id, school_role, class_role in members:
            await producer.send_and_wait(
                f"{prefix}{SCHOOL_MEMBERSHIP}",
                envelope(school.membership(user_id, school_role, class_role)),
                key=school.school_id.encode(),
            )
    finally:
        await producer.stop()


async def publish_membership_events(bootstrap: str, prefix: str, school: School, payloads: list[Any]) -> None:
    """MemberJoined / MemberRoleChanged / MemberLeft as school publishes them, in order."""
    from datetime import UTC, datetime

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        joined = [p.membership.user_id for p in payloads if isinstance(p, school_pb2.MemberJoined)]
        await _publish_profiles(producer, prefix, joined)
        for payload in payloads:
            school.version += 1
            envelope = make_envelope(
                payload,
                aggregate_type="school",
                aggregate_id=school.school_id,
                aggregate_version=school.version,
                producer="school",
                occurred_at=datetime.now(UTC),
            )
            await producer.send_and_wait(
                f"{prefix}{SCHOOL_MEMBERSHIP}", envelope.SerializeToString(), key=school.school_id.encode()
            )
    finally:
        await producer.stop()


async def publish_identity_events(bootstrap: str, prefix: str, user_id: str, versioned: list[tuple[int, Any]]) -> Any:
    """Identity's events about one person (key: user id), each with the aggregate version given;
    returns the last record's metadata (topic, partition, offset)."""
    from datetime import UTC, datetime

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    last = None
    try:
        for version, payload in versioned:
            envelope = make_envelope(
                payload,
                aggregate_type="user",
                aggregate_id=user_id,
                aggregate_version=version,
                producer="identity",
                occurred_at=datetime.now(UTC),
            )
            last = await producer.send_and_wait(
                f"{prefix}{IDENTITY_USER}", envelope.SerializeToString(), key=user_id.encode()
            )
    finally:
        await producer.stop()
    return last


class MediaStack:
    """media-signal as a process, with its own key server and topic prefix."""

    def __init__(
        self, mongo_uri: str, kafka_bootstrap: str, *, keepalive: float = 3.0, extra: dict[str, str] | None = None
    ):
        self.run_id = uuid.uuid4().hex[:10]
        self.stack = Stack(mongo_uri, kafka_bootstrap, self.run_id)
        self.mint = TokenMint()
        self.keys = KeyServer(self.mint)
        self.kafka = kafka_bootstrap
        self.prefix = f"t{self.run_id}."
        self.keepalive = keepalive
        self.extra = extra or {}
        self.join_secret = secrets.token_urlsafe(32)
        self.address = ""
        self.channels: list[grpc.aio.Channel] = []

    def env(self) -> dict[str, str]:
        m = media.env()
        return {
            "MEDIA_SIGNAL_IDENTITY_ADDRESS": self.keys.address,
            "MEDIA_SIGNAL_JANUS_URL": m["janus_url"],
            "MEDIA_SIGNAL_TURN_URIS": m["turn_uri"],
            "MEDIA_SIGNAL_TURN_SECRET": m["turn_secret"],
            "MEDIA_SIGNAL_JOIN_TOKEN_SECRET": self.join_secret,
            "MEDIA_SIGNAL_KEEPALIVE_TIMEOUT_SECONDS": str(self.keepalive),
            "MEDIA_SIGNAL_LOG_LEVEL": "info",
            **self.extra,
        }

    async def __aenter__(self) -> MediaStack:
        for component in media.COMPONENTS.values():
            component.up()  # idempotent: starts Janus/coturn only when they are not answering
        await self.keys.start()
        service = await self.stack.start("media_signal", extra=self.env())
        self.address = service.address
        return self

    async def start_replica(self, name: str) -> str:
        service = await self.stack.start("media_signal", extra=self.env(), name=name)
        return service.address

    async def __aexit__(self, *exc: object) -> None:
        for channel in self.channels:
            await channel.close()
        self.stack.stop_all()
        await self.keys.stop()

    def log_tail(self) -> str:
        return self.stack.services["media_signal"].log_tail()

    async def school(self, members: list[tuple[str, str, str]], school: School | None = None) -> School:
        school = school or School()
        await publish_school(self.kafka, self.prefix, school, members)
        return school

    async def membership_events(self, school: School, payloads: list[Any]) -> None:
        await publish_membership_events(self.kafka, self.prefix, school, payloads)

    async def identity_events(self, user_id: str, versioned: list[tuple[int, Any]]) -> Any:
        return await publish_identity_events(self.kafka, self.prefix, user_id, versioned)

    async def consumed(self, record: Any, timeout: float = 30.0) -> None:
        """Waits until media-signal's consumer group committed past `record` (it commits after the
        effect), so a record with no visible effect (a stale replay) is known to be handled."""
        from aiokafka import TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka)
        await admin.start()
        tp = TopicPartition(record.topic, record.partition)
        deadline = time.monotonic() + timeout
        try:
            while True:
                offsets = await admin.list_consumer_group_offsets(
                    f"{self.prefix}media-signal.memberships", partitions=[tp]
                )
                committed = offsets.get(tp)
                if committed is not None and committed.offset > record.offset:
                    return
                assert time.monotonic() < deadline, "media-signal did not consume the record in time"
                await asyncio.sleep(0.2)
        finally:
            await admin.close()

    def user(self, user_id: str, address: str | None = None) -> User:
        channel = grpc.aio.insecure_channel(address or self.address)
        self.channels.append(channel)
        return User(user_id, self.mint.token(user_id), channel)


@dataclass
class User:
    user_id: str
    access_token: str
    channel: grpc.aio.Channel

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.access_token}"),)

    @property
    def rooms(self) -> pb_grpc.RoomServiceStub:
        return pb_grpc.RoomServiceStub(self.channel)

    async def create_room(self, school: School, kind: int, *, retry_for: float = 15.0, **fields: Any) -> pb.Room:
        """CreateRoom, retried while the membership projection catches up with the events."""
        request = pb.CreateRoomRequest(request_id=uuid.uuid4().hex, school_id=school.school_id, kind=kind, **fields)
        if kind != room_events.ROOM_KIND_CALL and "class_id" not in fields:
            request.class_id = school.class_id
        deadline = time.monotonic() + retry_for
        while True:
            try:
                reply = await self.rooms.CreateRoom(request, metadata=self.metadata, timeout=5)
                return reply.room
            except grpc.aio.AioRpcError as error:
                catching_up = (
                    error.code()
                    in (
                        grpc.StatusCode.PERMISSION_DENIED,
                        grpc.StatusCode.NOT_FOUND,
                        grpc.StatusCode.INVALID_ARGUMENT,
                    )
                    or error_reason(error) == "PROFILE_MISSING"
                )
                if time.monotonic() > deadline or not catching_up:
                    raise
                await asyncio.sleep(0.2)

    async def join_token(self, room_id: str) -> pb.CreateJoinTokenResponse:
        return await self.rooms.CreateJoinToken(
            pb.CreateJoinTokenRequest(room_id=room_id), metadata=self.metadata, timeout=5
        )

    async def join_token_when_member(self, room_id: str, retry_for: float = 15.0) -> pb.CreateJoinTokenResponse:
        """CreateJoinToken, retried while media-signal's membership projection has not seen this
        user yet (NOT_FOUND, the outsider's answer); any other refusal is raised at once."""
        deadline = time.monotonic() + retry_for
        while True:
            try:
                return await self.join_token(room_id)
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def signal(self, token: str | None = None, room_id: str = "") -> SignalClient:
        client = SignalClient(self)
        if token is None:
            token = (await self.join_token(room_id)).token
        await client.open(token)
        return client


def _own_ping_raced_the_close(error: grpc.aio.AioRpcError) -> bool:
    """A keep-alive ping written after the server had finished the stream but before this client
    had read the status: grpc.aio then fails the write and replaces the server's status with a
    local INTERNAL ("Internal error from Core", execute_batch of a SendMessageOperation). Only
    taken for that once room_ended was read, i.e. the server had announced its clean close; seen
    under load in make test-stress (test_lesson_teacher_publishes_three_students_receive_frames)."""
    return error.code() == grpc.StatusCode.INTERNAL and "SendMessageOperation" in (error.debug_error_string() or "")


class SignalClient:
    """One signalling stream: write requests, wait for responses of a kind (others are buffered)."""

    def __init__(self, user: User):
        self.user = user
        self.call: Any = None
        self.inbox: list[pb.SignalResponse] = []
        self._arrived = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None
        self.error: grpc.aio.AioRpcError | None = None
        self.closed = asyncio.Event()
        self.participant_id = ""
        self._pinger: asyncio.Task[None] | None = None
        self._ending = False  # the server said room_ended: it closes the stream next
        # grpc.aio allows one write at a time per stream (a second one fails with
        # TOO_MANY_OPERATIONS): the keep-alive pinger and the test's own sends take turns.
        self._writing = asyncio.Lock()

    async def open(self, token: str, *, join: bool = True) -> None:
        self.call = pb_grpc.SignalServiceStub(self.user.channel).Signal(metadata=self.user.metadata)
        self._reader = asyncio.create_task(self._read())
        if join:
            await self.send(pb.SignalRequest(join=pb.JoinRequest(token=token)))
            # Like a real client: keep-alive pings well inside the server's timeout.
            self._pinger = asyncio.create_task(self._ping())

    async def _ping(self) -> None:
        with contextlib.suppress(Exception):
            while not self.closed.is_set():
                await asyncio.sleep(0.5)
                if self._ending or self.call.done():
                    return  # no pings into a stream the server is closing
                async with self._writing:
                    await self.call.write(pb.SignalRequest(ping=pb.PingRequest(client_time_ms=-1)))

    async def _read(self) -> None:
        try:
            async for response in self.call:
                if response.WhichOneof("message") == "pong" and response.pong.client_time_ms == -1:
                    continue  # our own keep-alive
                if response.WhichOneof("message") == "room_ended":
                    self._ending = True
                async with self._arrived:
                    self.inbox.append(response)
                    self._arrived.notify_all()
        except grpc.aio.AioRpcError as error:
            if not (self._ending and _own_ping_raced_the_close(error)):
                self.error = error
        finally:
            self.closed.set()
            async with self._arrived:
                self._arrived.notify_all()

    async def send(self, request: pb.SignalRequest) -> None:
        async with self._writing:
            await self.call.write(request)

    async def expect(
        self, kind: str, timeout: float = 10.0, where: Any = None, *, or_error: bool = False
    ) -> pb.SignalResponse:
        """The first buffered or arriving response of `kind` matching `where`; with `or_error`, an
        in-stream error answers too (so a refused request fails at once, not at the timeout)."""

        async def find() -> pb.SignalResponse:
            async with self._arrived:
                while True:
                    for i, response in enumerate(self.inbox):
                        which = response.WhichOneof("message")
                        if (which == kind and (where is None or where(response))) or (or_error and which == "error"):
                            del self.inbox[i]
                            return response
                    if self.closed.is_set():
                        raise AssertionError(f"stream closed before {kind}: {self.error!r}")
                    await self._arrived.wait()

        response = await asyncio.wait_for(find(), timeout)
        if kind == "joined":
            self.participant_id = response.joined.state.self.participant_id
        return response

    async def wait_closed(self, timeout: float = 10.0) -> grpc.aio.AioRpcError | None:
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.error

    async def close(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
        if self.call is not None:
            self.call.cancel()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader


def error_reason(error: grpc.aio.AioRpcError) -> str:
    """The stable reason of a failed call (google.rpc.ErrorInfo in the status details)."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


# ---------------------------------------------------------------- aiortc peers


def synthetic_video(*, fps: int = 0, luma: int = -1) -> Any:
    """A small moving test pattern: cheap to encode on a shared CI machine. `fps` (0: aiortc's 30)
    slows it down for calls of many peers; `luma` (0..255) paints a flat frame of that brightness,
    so a receiver can tell two streams apart (e.g. a camera from a screen)."""
    import av
    from aiortc import VideoStreamTrack
    from aiortc.mediastreams import VIDEO_CLOCK_RATE, VIDEO_TIME_BASE

    width, height = 160, 120

    class Pattern(VideoStreamTrack):
        def __init__(self) -> None:
            super().__init__()
            self.n = 0
            self.started = 0.0

        # Not `_timestamp`: aiortc's next_timestamp() keeps its clock in an attribute of that name.
        async def _pace(self) -> tuple[int, Any]:
            if not fps:
                return await self.next_timestamp()
            if not self.started:
                self.started = time.time()
            pts = self.n * VIDEO_CLOCK_RATE // fps
            await asyncio.sleep(max(0.0, self.started + self.n / fps - time.time()))
            return pts, VIDEO_TIME_BASE

        async def recv(self) -> Any:
            pts, time_base = await self._pace()
            self.n += 1
            frame = av.VideoFrame(width=width, height=height, format="yuv420p")
            shade = luma if luma >= 0 else (self.n * 3) % 256
            for index, plane in enumerate(frame.planes):
                size = plane.line_size * (height if index == 0 else height // 2)
                plane.update(bytes([shade if index == 0 else 128]) * size)
            frame.pts, frame.time_base = pts, time_base
            return frame

    return Pattern()


def synthetic_audio() -> Any:
    from aiortc.mediastreams import AudioStreamTrack

    return AudioStreamTrack()


class FrameCounter:
    """Consumes a remote track: every recv() is one decoded frame."""

    def __init__(self) -> None:
        self.frames: dict[str, int] = {"audio": 0, "video": 0}
        self.tasks: list[asyncio.Task[None]] = []

    def attach(self, track: Any) -> None:
        async def pump() -> None:
            with contextlib.suppress(Exception):
                while True:
                    await track.recv()
                    self.frames[track.kind] += 1

        self.tasks.append(asyncio.create_task(pump()))

    async def wait_for(self, kind: str, count: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.frames[kind] < count and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return self.frames[kind]

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()


@dataclass
class SfuPeer:
    """One participant's media: publishes what it is given, answers every SFU offer and counts the
    decoded frames and their brightness per (publisher participant, source)."""

    client: SignalClient
    pcs: list[Any] = field(default_factory=list)
    frames: dict[tuple[str, int], int] = field(default_factory=dict)
    luma: dict[tuple[str, int], float] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # Set when the first remote video frame is decoded (time.perf_counter()).
    first_frame: asyncio.Event = field(default_factory=asyncio.Event)
    first_frame_at: float = 0.0
    failures: list[str] = field(default_factory=list)

    async def publish(self, source: int = pb.MEDIA_SOURCE_CAMERA, *, luma: int = -1, fps: int = 5) -> None:
        from aiortc import RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection()
        self.pcs.append(pc)
        pc.addTransceiver(synthetic_video(fps=fps, luma=luma), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        await self.client.send(
            pb.SignalRequest(offer=pb.SessionDescription(sdp=pc.localDescription.sdp, source=source))
        )
        answer = await self.client.expect(
            "answer", timeout=30, where=lambda r: r.answer.source == source, or_error=True
        )
        assert answer.WhichOneof("message") == "answer", answer
        await pc.setRemoteDescription(RTCSessionDescription(answer.answer.sdp, "answer"))

    def answer_offers(self) -> None:
        self.tasks.append(asyncio.create_task(self._answer_offers()))

    async def _answer_offers(self) -> None:
        while True:
            offer = (await self.client.expect("offer", timeout=3600)).offer
            self.tasks.append(asyncio.create_task(self._answer(offer)))

    async def _answer(self, offer: pb.SessionDescription) -> None:
        """Answers one SFU offer (each in its own task, as a browser would: one slow negotiation
        does not hold the others up); a failure is kept in `failures`."""
        from aiortc import RTCPeerConnection, RTCSessionDescription

        key = (offer.participant_id, offer.source)
        try:
            pc = RTCPeerConnection()
            self.pcs.append(pc)
            pc.on("track", lambda track: self.tasks.append(asyncio.create_task(self._count(track, key))))
            await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            await self.client.send(
                pb.SignalRequest(
                    answer=pb.SessionDescription(sdp=pc.localDescription.sdp, subscription_id=offer.subscription_id)
                )
            )
        except Exception as exc:
            self.failures.append(f"{key}: {exc!r}")

    async def _count(self, track: Any, key: tuple[str, int]) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = await track.recv()
                if track.kind != "video":
                    continue
                self.frames[key] = self.frames.get(key, 0) + 1
                if not self.first_frame.is_set():
                    self.first_frame_at = time.perf_counter()
                    self.first_frame.set()
                self.luma[key] = mean_luma(frame)

    def senders_with(self, frames: int) -> set[str]:
        return {pid for (pid, _), n in self.frames.items() if n >= frames}

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for pc in self.pcs:
            await pc.close()
        await self.client.close()


def mean_luma(frame: Any) -> float:
    """The mean brightness of a decoded frame's Y plane (rows without their padding)."""
    plane = frame.planes[0]
    data, stride = bytes(plane), plane.line_size
    total = sum(sum(data[y * stride : y * stride + frame.width]) for y in range(frame.height))
    return total / (frame.width * frame.height)


@contextlib.asynccontextmanager
async def peer_connection() -> AsyncIterator[Any]:
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    try:
        yield pc
    finally:
        await pc.close()


__all__ = ["Path", "fractions", "free_port", "room_events"]
