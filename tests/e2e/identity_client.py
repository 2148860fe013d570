"""Client helpers for tests of any service: sign in through identity with the dev SMS file."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

import grpc
from parta.identity.v1 import auth_pb2, auth_pb2_grpc, profiles_pb2, profiles_pb2_grpc


@dataclass(frozen=True)
class SignedIn:
    user_id: str
    access_token: str
    refresh_token: str
    phone: str
    session_id: str = ""

    @property
    def metadata(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.access_token}")]


def random_phone() -> str:
    """A valid Russian mobile number (+7 9xx) that is unlikely to collide between tests."""
    return f"+7999{random.randrange(10**7):07d}"


def auth(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


async def read_code(sms_file: Path, phone: str, *, after_line: int = 0, timeout: float = 10.0) -> str:
    """The newest code the dev gateway wrote for `phone` (looking past the first `after_line` lines)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if sms_file.exists():
            lines = sms_file.read_text().splitlines()[after_line:]
            for line in reversed(lines):
                record = json.loads(line)
                if record["phone"] == phone:
                    return str(record["code"])
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"no code for the phone in {sms_file}")
        await asyncio.sleep(0.05)


def _line_count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


async def sign_in(address: str, phone: str, sms_file: Path, device: str = "test") -> SignedIn:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        before = _line_count(sms_file)
        sent = await stub.RequestCode(auth_pb2.RequestCodeRequest(phone=phone, request_id=uuid.uuid4().hex), timeout=10)
        code = await read_code(sms_file, phone, after_line=before)
        reply = await stub.VerifyCode(
            auth_pb2.VerifyCodeRequest(challenge_id=sent.challenge_id, code=code, device_name=device), timeout=10
        )
    return SignedIn(reply.user_id, reply.access_token, reply.refresh_token, phone, reply.session_id)


async def create_profile(
    address: str, token: str, first_name: str, last_name: str, birth_date: str, patronymic: str = ""
) -> profiles_pb2.Profile:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = profiles_pb2_grpc.ProfileServiceStub(channel)
        reply = await stub.CreateProfile(
            profiles_pb2.CreateProfileRequest(
                first_name=first_name,
                last_name=last_name,
                patronymic=patronymic,
                birth_date=birth_date,
                request_id=uuid.uuid4().hex,
            ),
            metadata=auth(token),
            timeout=10,
        )
    return reply.profile
