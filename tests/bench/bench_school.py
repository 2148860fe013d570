"""school benchmark: invite acceptances per second and CheckPermission latency (p50/p99), through a
real school process on loopback, beside the bare grpc.aio echo ceiling measured by run_all; the school
process's CPU per call (from /proc over the window); and store commands per call, counted by PyMongo
command monitoring on a second, in-process school (the numbers that do not depend on the store).

Tokens are minted locally; a tiny in-process stand-in for identity publishes their public key (so the
school process verifies them exactly as it verifies identity's) and answers GetMyProfile for school's
profile fallback (every bench person has a profile; no identity process needed).

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

import pymongo.monitoring  # noqa: E402
from common import ms, run_load  # noqa: E402
from cost import Meter, metered_env  # noqa: E402
from parta.identity.v1 import profiles_pb2, profiles_pb2_grpc  # noqa: E402
from parta.school.v1 import events_pb2 as ev  # noqa: E402
from parta.school.v1 import school_pb2 as pb  # noqa: E402
from parta.school.v1 import school_pb2_grpc as rpc  # noqa: E402
from parta_common.auth import sign_access_token  # noqa: E402
from parta_common.testing.fakes import TokenMint  # noqa: E402
from stacks import bench_stack  # noqa: E402

SECONDS = float(os.environ.get("PARTA_BENCH_SECONDS", "5"))
OPERATOR = "+79990000000"


class _Profiles(profiles_pb2_grpc.ProfileServiceServicer):
    """Everyone has a profile: the acceptance path's fallback when the projection has not seen one."""

    async def GetMyProfile(self, request, context):  # type: ignore[no-untyped-def]
        import base64
        import json

        header = dict(context.invocation_metadata()).get("authorization", "")
        payload = header.removeprefix("Bearer ").split(".")[1]
        user_id = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
        return profiles_pb2.GetMyProfileResponse(profile=profiles_pb2.Profile(user_id=user_id))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _per_call_us(before: float, after: float, calls: int) -> str:
    return f"{(after - before) / max(calls, 1) * 1e6:.0f} µs CPU/call" if calls else "n/a"


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


async def _school_with_invite(
    channel: grpc.aio.Channel, mint: TokenMint, who: str, admin_phone: str
) -> tuple[list[tuple[str, str]], pb.School, pb.SchoolClass, pb.CreateInviteResponse]:
    """An operator registers a school, its admin claims it, makes class 5А and a student invite for many."""
    schools, classes = rpc.SchoolServiceStub(channel), rpc.ClassServiceStub(channel)
    invites = rpc.InviteServiceStub(channel)
    admin = _token(mint, f"{who}-admin", admin_phone)
    school = (
        await schools.RegisterSchool(
            pb.RegisterSchoolRequest(request_id=who, name="Bench", academic_year="2026/2027", admin_phone=admin_phone),
            metadata=_token(mint, f"{who}-operator", OPERATOR),
        )
    ).school
    await schools.ClaimPendingRoles(pb.ClaimPendingRolesRequest(), metadata=admin)
    klass = getattr(
        await classes.CreateClass(
            pb.CreateClassRequest(request_id="c", school_id=school.school_id, grade=5, letter="А"), metadata=admin
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
    return admin, school, klass, invite


async def run(env: dict[str, str]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    profiles = [lambda server: profiles_pb2_grpc.add_ProfileServiceServicer_to_server(_Profiles(), server)]
    async with bench_stack(env, "b", profiles) as bench:
        mint, key_port, stack = bench.mint, bench.key_port, bench.stack
        school_env = {
            "SCHOOL_IDENTITY_ADDRESS": f"127.0.0.1:{key_port}",
            "SCHOOL_OPERATOR_PHONES": OPERATOR,
            "SCHOOL_LOG_LEVEL": "warning",
            **metered_env("SCHOOL_"),
        }
        school_svc = await stack.start("school", school_env)
        meter = Meter(school_svc.process.pid, school_env)
        async with grpc.aio.insecure_channel(school_svc.address) as channel:
            invites, members = rpc.InviteServiceStub(channel), rpc.MembershipServiceStub(channel)
            admin, school, klass, invite = await _school_with_invite(channel, mint, "bench", "+79990000001")
            students: list[str] = []
            # Students made their profiles long before scanning the code: their ProfileCreated is in
            # school's projection already (seeded here directly, as the consumer would have written it),
            # so the common path is measured; the identity fallback is for the seconds after CreateProfile.
            await _seed_profiles(
                env,
                f"school_{stack.run_id}",
                [f"bench-student-{i}" for i in (*range(8000), *range(1_000_000, 1_002_000))],
            )

            async def accept(i: int) -> None:
                user = f"bench-student-{i}"
                await invites.AcceptInvite(
                    pb.AcceptInviteRequest(token=invite.token), metadata=_token(mint, user, f"+7998{i:07d}"), timeout=30
                )
                students.append(user)

            pid = school_svc.process.pid
            alone = await run_load(lambda i: accept(1_000_000 + i), concurrency=1, seconds=SECONDS / 2)
            rows.append(
                (
                    "invite acceptance latency (student: 2 memberships + events), concurrency 1",
                    f"{alone.rate:.0f}/s  {ms(alone.latencies)}",
                )
            )
            cpu = _cpu_seconds(pid)
            accepted = await run_load(accept, concurrency=16, seconds=SECONDS)
            rows.append(
                (
                    "invite acceptances/s (student: 2 memberships + events), concurrency 16",
                    f"{accepted.rate:.0f}/s  {ms(accepted.latencies)}  "
                    f"{_per_call_us(cpu, _cpu_seconds(pid), accepted.requests)} (relay included)",
                )
            )
            cost = await meter.measure(
                "school AcceptInvite (student), concurrency 16",
                "rpc:AcceptInvite",
                lambda: run_load(lambda i: accept(2_000_000 + i), concurrency=16, seconds=SECONDS / 2),
                settle=meter.quiesce,  # the acceptances' events are published inside the window
                note="relay/consumer work of the window in 'all'",
            )
            rows.append(("AcceptInvite cost, concurrency 16", str(cost)))

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
            cpu = _cpu_seconds(pid)
            loaded = await run_load(check, concurrency=16, seconds=SECONDS / 2)
            rows.append(
                (
                    "CheckPermission, concurrency 16",
                    f"{loaded.rate:.0f}/s  {ms(loaded.latencies)}  "
                    f"{_per_call_us(cpu, _cpu_seconds(pid), loaded.requests)}",
                )
            )
            cost = await meter.measure(
                "school CheckPermission, concurrency 16",
                "rpc:CheckPermission",
                lambda: run_load(check, concurrency=16, seconds=SECONDS / 2),
            )
            rows.append(("CheckPermission cost, concurrency 16", str(cost)))
        rows += await _commands_per_call(env, mint, f"127.0.0.1:{key_port}")
    return rows


async def _seed_profiles(env: dict[str, str], database: str, user_ids: list[str]) -> None:
    from parta_common.mongo import create_mongo_client

    client = create_mongo_client(env["PARTA_TEST_MONGODB_URI"], app_name="bench")
    try:
        await client[database]["profiles"].insert_many([{"_id": u, "state": 1, "version": 1} for u in user_ids])
    finally:
        await client.close()


class _Commands(pymongo.monitoring.CommandListener):
    """PyMongo command monitoring: counts the commands every client of this process sends, by name."""

    def __init__(self) -> None:
        from collections import Counter

        self.counts: Counter[str] = Counter()
        self.on = False

    def started(self, event) -> None:  # type: ignore[no-untyped-def]
        if self.on:
            target = event.command.get(event.command_name)
            self.counts[f"{event.command_name} {target}" if isinstance(target, str) else event.command_name] += 1

    def succeeded(self, event) -> None:  # type: ignore[no-untyped-def]
        return None

    def failed(self, event) -> None:  # type: ignore[no-untyped-def]
        return None

    def window(self) -> _Commands:
        self.counts.clear()
        self.on = True
        return self

    def total(self) -> int:
        self.on = False
        return sum(self.counts.values())

    def breakdown(self) -> str:
        return ", ".join(f"{name} {n}" for name, n in sorted(self.counts.items()))


async def _commands_per_call(env: dict[str, str], mint: TokenMint, identity_address: str) -> list[tuple[str, str]]:
    """Store commands per call, counted in-process (same code, same store, its own database): the relay's
    commands are part of an acceptance's cost and shown apart by name."""
    from parta_common.mongo import create_mongo_client
    from school.bootstrap import build
    from school.config import SchoolSettings

    # The bench's own client is made before the listener, so only the service's commands are counted.
    observer = create_mongo_client(env["PARTA_TEST_MONGODB_URI"], app_name="bench")
    commands = _Commands()
    pymongo.monitoring.register(commands)  # applies to clients created from here on
    run = uuid.uuid4().hex[:8]
    settings = SchoolSettings(
        mongodb_uri=env["PARTA_TEST_MONGODB_URI"],
        mongodb_database=f"bench_school_{run}",
        kafka_bootstrap=env["PARTA_KAFKA_BOOTSTRAP"],
        kafka_topic_prefix=f"bc{run}.",
        grpc_port=0,
        operator_phones=OPERATOR,
        identity_address=identity_address,
        log_level="warning",
    )
    service = await build(settings, key_source=mint.source())
    port = await service.runner.start()
    rows: list[tuple[str, str]] = []
    n = 40
    db = observer[settings.mongodb_database]

    async def relayed() -> None:
        """Until the relay has published every pending event (a condition with a deadline, not a sleep)."""
        deadline = time.monotonic() + 30
        while await db["memberships"].count_documents({"_outbox_n": {"$gt": 0}}, limit=1):
            assert time.monotonic() < deadline, "the relay did not drain"
            await asyncio.sleep(0.05)

    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            invites, members = rpc.InviteServiceStub(channel), rpc.MembershipServiceStub(channel)
            admin, school, klass, invite = await _school_with_invite(channel, mint, "cmd", "+79990000002")
            await _seed_profiles(env, settings.mongodb_database, ["cmd-warm", *(f"cmd-student-{i}" for i in range(n))])
            warm = _token(mint, "cmd-warm", "+79970000000")
            await invites.AcceptInvite(pb.AcceptInviteRequest(token=invite.token), metadata=warm)
            await relayed()  # the set-up's events go out before the window
            commands.window()
            for i in range(n):
                person = _token(mint, f"cmd-student-{i}", f"+7997{i:07d}")
                await invites.AcceptInvite(pb.AcceptInviteRequest(token=invite.token), metadata=person)
            await relayed()  # publishing these acceptances' events is part of their cost
            total = commands.total()
            rows.append(
                (
                    "store commands per invite acceptance (request path + relay)",
                    f"{total / n:.1f}  ({commands.breakdown()}, n={n})",
                )
            )
            check = pb.CheckPermissionRequest(
                user_id="cmd-student-0",
                school_id=school.school_id,
                class_id=klass.class_id,
                action=pb.ACTION_POST_CLASS_CHAT,
            )
            await members.CheckPermission(check, metadata=admin)  # warms the view
            commands.window()
            for _ in range(200):
                assert (await members.CheckPermission(check, metadata=admin)).allowed
            total = commands.total()
            rows.append(("store commands per CheckPermission (warm view)", f"{total / 200:.2f}  (n=200)"))
            # The use case alone, without gRPC and the edge (token check): school's own cost per call.
            from school.app.common import Caller
            from school.domain.permissions import Action

            asker, calls = Caller("cmd-admin"), 5000
            started = time.process_time()
            for _ in range(calls):
                await service.app.memberships.check_permission(
                    asker, "cmd-student-0", school.school_id, klass.class_id, Action.POST_CLASS_CHAT
                )
            own = (time.process_time() - started) / calls
            rows.append(("CheckPermission use case alone, warm view (in-process)", f"{own * 1e6:.1f} µs CPU/call"))
    finally:
        await service.runner.stop()
        await observer.drop_database(settings.mongodb_database)
        await observer.close()
    return rows


if __name__ == "__main__":
    for name, value in asyncio.run(run(dict(os.environ))):
        print(f"{name:70} {value}")
