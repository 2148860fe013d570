"""school benchmark: invite acceptances per second and CheckPermission latency (p50/p99), through a
real school process on loopback, beside the bare grpc.aio echo ceiling measured by run_all.

Tokens are minted locally; a tiny in-process SigningKeyService publishes their public key, so the
school process verifies them exactly as it verifies identity's (no identity process needed).

    python tests/bench/bench_school.py      # env PARTA_KAFKA_BOOTSTRAP, PARTA_TEST_MONGODB_URI
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ms, run_load  # noqa: E402
from cost import Meter, metered_env  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402
from parta.identity.v1 import keys_pb2, keys_pb2_grpc  # noqa: E402
from parta.school.v1 import events_pb2 as ev  # noqa: E402
from parta.school.v1 import school_pb2 as pb  # noqa: E402
from parta.school.v1 import school_pb2_grpc as rpc  # noqa: E402
from parta_common.auth import sign_access_token  # noqa: E402
from parta_common.testing.fakes import TokenMint  # noqa: E402

from tests.e2e.harness import Stack  # noqa: E402

SECONDS = float(os.environ.get("PARTA_BENCH_SECONDS", "5"))
OPERATOR = "+79990000000"


class _Keys(keys_pb2_grpc.SigningKeyServiceServicer):
    def __init__(self, mint: TokenMint):
        raw = mint.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._reply = keys_pb2.ListSigningKeysResponse(
            keys=[keys_pb2.SigningKey(key_id=mint.key_id, algorithm="EdDSA", public_key=raw)]
        )

    async def ListSigningKeys(self, request, context):  # type: ignore[no-untyped-def]
        return self._reply


def _token(mint: TokenMint, user_id: str, phone: str) -> list[tuple[str, str]]:
    token = sign_access_token(
        mint.private_key,
        key_id=mint.key_id,
        issuer=mint.issuer,
        audience=mint.audience,
        user_id=user_id,
        session_id="bench",
        issued_at=int(time.time()),
        ttl_seconds=900,
        extra={"phone_number": phone},
    )
    return [("authorization", f"Bearer {token}")]


async def run(env: dict[str, str]) -> list[tuple[str, str]]:
    mint = TokenMint()
    key_server = grpc.aio.server()
    keys_pb2_grpc.add_SigningKeyServiceServicer_to_server(_Keys(mint), key_server)
    key_port = key_server.add_insecure_port("127.0.0.1:0")
    await key_server.start()
    stack = Stack(env["PARTA_TEST_MONGODB_URI"], env["PARTA_KAFKA_BOOTSTRAP"], "b" + uuid.uuid4().hex[:8])
    rows: list[tuple[str, str]] = []
    try:
        school_env = {
            "SCHOOL_IDENTITY_ADDRESS": f"127.0.0.1:{key_port}",
            "SCHOOL_OPERATOR_PHONES": OPERATOR,
            "SCHOOL_LOG_LEVEL": "warning",
            **metered_env("SCHOOL_"),
        }
        school_svc = await stack.start("school", school_env)
        meter = Meter(school_svc.process.pid, school_env)
        async with grpc.aio.insecure_channel(school_svc.address) as channel:
            schools = rpc.SchoolServiceStub(channel)
            classes = rpc.ClassServiceStub(channel)
            invites = rpc.InviteServiceStub(channel)
            members = rpc.MembershipServiceStub(channel)
            admin_phone = "+79990000001"
            admin = _token(mint, "bench-admin", admin_phone)
            school = (
                await schools.RegisterSchool(
                    pb.RegisterSchoolRequest(
                        request_id="bench", name="Bench", academic_year="2026/2027", admin_phone=admin_phone
                    ),
                    metadata=_token(mint, "bench-operator", OPERATOR),
                )
            ).school
            await schools.ClaimPendingRoles(pb.ClaimPendingRolesRequest(), metadata=admin)
            klass = getattr(
                await classes.CreateClass(
                    pb.CreateClassRequest(request_id="c", school_id=school.school_id, grade=5, letter="А"),
                    metadata=admin,
                ),
                "class",
            )
            invite = await invites.CreateInvite(
                pb.CreateInviteRequest(
                    request_id="i",
                    school_id=school.school_id,
                    class_id=klass.class_id,
                    role=ev.SCHOOL_ROLE_STUDENT,
                    ttl_seconds=86400,
                    max_uses=10_000,
                ),
                metadata=admin,
            )
            students: list[str] = []

            async def accept(i: int) -> None:
                user = f"bench-student-{i}"
                await invites.AcceptInvite(
                    pb.AcceptInviteRequest(token=invite.token), metadata=_token(mint, user, f"+7998{i:07d}"), timeout=30
                )
                students.append(user)

            alone = await run_load(lambda i: accept(1_000_000 + i), concurrency=1, seconds=SECONDS / 2)
            rows.append(
                (
                    "invite acceptance latency (student: 2 memberships + events), concurrency 1",
                    f"{alone.rate:.0f}/s  {ms(alone.latencies)}",
                )
            )
            accepted = await run_load(accept, concurrency=16, seconds=SECONDS)
            cost = await meter.measure(
                "school AcceptInvite (student), concurrency 16",
                "rpc:AcceptInvite",
                lambda: run_load(lambda i: accept(2_000_000 + i), concurrency=16, seconds=SECONDS / 2),
                settle=meter.quiesce,  # the acceptances' events are published inside the window
                note="relay/consumer work of the window in 'all'",
            )
            rows.append(("AcceptInvite cost, concurrency 16", str(cost)))
            rows.append(
                (
                    "invite acceptances/s (student: 2 memberships + events), concurrency 16",
                    f"{accepted.rate:.0f}/s  {ms(accepted.latencies)}",
                )
            )

            async def check(i: int) -> None:
                reply = await members.CheckPermission(
                    pb.CheckPermissionRequest(
                        user_id=students[i % len(students)],
                        school_id=school.school_id,
                        class_id=klass.class_id,
                        action=pb.ACTION_POST_CLASS_CHAT,
                    ),
                    metadata=admin,
                    timeout=10,
                )
                assert reply.allowed

            single = await run_load(check, concurrency=1, seconds=SECONDS / 2)
            rows.append(("CheckPermission latency, concurrency 1", ms(single.latencies)))
            loaded = await run_load(check, concurrency=16, seconds=SECONDS / 2)
            cost = await meter.measure(
                "school CheckPermission, concurrency 16",
                "rpc:CheckPermission",
                lambda: run_load(check, concurrency=16, seconds=SECONDS / 2),
            )
            rows.append(("CheckPermission cost, concurrency 16", str(cost)))
            rows.append(("CheckPermission, concurrency 16", f"{loaded.rate:.0f}/s  {ms(loaded.latencies)}"))
    finally:
        stack.stop_all()
        await key_server.stop(0)
    return rows


if __name__ == "__main__":
    for name, value in asyncio.run(run(dict(os.environ))):
        print(f"{name:70} {value}")
