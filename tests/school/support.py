"""Test support for school: an in-process service on port 0 with locally minted access tokens."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from parta.school.v1 import school_pb2_grpc as rpc
from parta_common.auth import sign_access_token
from parta_common.testing.fakes import TokenMint

OPERATOR_PHONE = "+79990000000"


def phone_for(n: int) -> str:
    return f"+7999{n:07d}"


@dataclass
class User:
    user_id: str
    phone: str
    token: str

    @property
    def md(self) -> Sequence[tuple[str, str]]:
        return (("authorization", f"Bearer {self.token}"),)


@dataclass
class Mint:
    mint: TokenMint = field(default_factory=TokenMint)
    counter: int = 0

    def user(self, phone: str | None = None, user_id: str | None = None) -> User:
        self.counter += 1
        uid = user_id or f"u-{uuid.uuid4().hex[:12]}"
        phone = phone or phone_for(1_000_000 + self.counter + int(uuid.uuid4().int % 5_000_000))
        token = sign_access_token(
            self.mint.private_key,
            key_id=self.mint.key_id,
            issuer=self.mint.issuer,
            audience=self.mint.audience,
            user_id=uid,
            session_id="s-" + uid,
            issued_at=int(time.time()),
            ttl_seconds=900,
            extra={"phone_number": phone},
        )
        return User(uid, phone, token)


class FakeIdentityProfiles:
    """identity's ProfileService as school's profile fallback sees it: everyone has a profile except the
    users in `no_profile`. The caller is read from the forwarded token's `sub` (the token was checked by
    school already; this stand-in only needs to know who asks)."""

    def __init__(self) -> None:
        self.no_profile: set[str] = set()
        self.asked: list[str] = []
        self.server: Any = None

    async def start(self) -> str:
        from parta.identity.v1 import profiles_pb2, profiles_pb2_grpc

        outer = self

        class Servicer(profiles_pb2_grpc.ProfileServiceServicer):
            async def GetMyProfile(self, request, context):  # type: ignore[no-untyped-def]
                user_id = _token_subject(dict(context.invocation_metadata()).get("authorization", ""))
                outer.asked.append(user_id)
                if not user_id or user_id in outer.no_profile:
                    await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "no profile yet")
                return profiles_pb2.GetMyProfileResponse(profile=profiles_pb2.Profile(user_id=user_id))

        self.server = grpc.aio.server()
        profiles_pb2_grpc.add_ProfileServiceServicer_to_server(Servicer(), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        await self.server.start()
        return f"127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(0)


def _token_subject(header: str) -> str:
    import base64
    import json

    try:
        payload = header.removeprefix("Bearer ").split(".")[1]
        return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])
    except (IndexError, ValueError, KeyError):
        return ""


class Stubs:
    def __init__(self, channel: grpc.aio.Channel):
        self.schools = rpc.SchoolServiceStub(channel)
        self.classes = rpc.ClassServiceStub(channel)
        self.members = rpc.MembershipServiceStub(channel)
        self.invites = rpc.InviteServiceStub(channel)
        self.join_requests = rpc.JoinRequestServiceStub(channel)
        self.infos = rpc.SchoolInfoServiceStub(channel)


def settings_for(mongo_uri: str, database: str, kafka: str, prefix: str, **extra: Any):  # type: ignore[no-untyped-def]
    from school.config import SchoolSettings

    return SchoolSettings(
        mongodb_uri=mongo_uri,
        mongodb_database=database,
        kafka_bootstrap=kafka,
        kafka_topic_prefix=prefix,
        grpc_port=0,
        operator_phones=OPERATOR_PHONE,
        outbox_poll_seconds=0.2,
        **extra,
    )


async def read_events(bootstrap: str, topics: Sequence[str], *, until, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    """Reads envelopes from the start of `topics` until `until(envelopes)` is true (or fails on timeout)."""
    import asyncio

    from aiokafka import AIOKafkaConsumer
    from parta_common.events.envelope import parse_envelope

    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        metadata_max_age_ms=1000,
    )
    await consumer.start()
    seen: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not until(seen):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"events not seen in {timeout}s; got {[e.event_type for e in seen]}")
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                seen.extend(parse_envelope(r.value) for r in records)
    finally:
        await consumer.stop()
    return seen


async def refused(call) -> tuple[Any, str]:  # type: ignore[no-untyped-def]
    """(status code, ErrorInfo reason) of a call that must fail."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

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
    raise AssertionError("the call succeeded")


def payloads(envelopes, message_type):  # type: ignore[no-untyped-def]
    from parta_common.events.envelope import unpack

    name = message_type.DESCRIPTOR.full_name
    return [unpack(e, message_type) for e in envelopes if e.event_type == name]
