"""The last admin's account deleted at identity, played through real Kafka: the school records its vacant admin
seat (GetSchool, ListVacantSchools, AdminSeatVacated once despite a replay), an operator appoints a successor
(AdminSeatFilled) while a non-operator cannot, and the new admin in turn cannot step down as the last one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import pytest
from aiokafka import AIOKafkaProducer
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.identity.v1 import events_pb2 as identity_pb2
from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import school_pb2 as pb
from parta_common.events.envelope import make_envelope
from parta_common.events.topics import IDENTITY_USER, SCHOOL_SCHOOL

from tests.school.integration.world import World, register
from tests.school.support import payloads, read_events


async def _delete_account(env, user_id: str, kafka_bootstrap: str) -> None:  # type: ignore[no-untyped-def]
    envelope = make_envelope(
        identity_pb2.AccountDeleted(user_id=user_id),
        aggregate_type="user",
        aggregate_id=user_id,
        aggregate_version=5,
        producer="identity",
        occurred_at=datetime.now(UTC),
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for _ in range(2):  # delivered twice: the handler is idempotent
            await producer.send_and_wait(env.prefix + IDENTITY_USER, envelope.SerializeToString(), key=user_id.encode())
    finally:
        await producer.stop()


async def _refused(call) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    """The status code and the stable ErrorInfo reason of a refused call."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    status = rpc_status.from_call(info.value)  # type: ignore[arg-type]
    reasons = [
        error_details_pb2.ErrorInfo.FromString(d.value).reason
        for d in (status.details if status else [])
        if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)
    ]
    return info.value.code(), reasons[0] if reasons else ""


async def test_a_deleted_last_admin_leaves_a_vacancy_an_operator_fills(env, kafka_bootstrap: str):
    admin, teacher, outsider = env.mint.user(), env.mint.user(), env.mint.user()
    school = await register(env, admin, "Школа без директора")
    w = World(env, school, admin, *(None,) * 8)  # type: ignore[arg-type]
    await w.join(teacher, ev.SCHOOL_ROLE_TEACHER)
    s, sid = env.stubs, school.school_id
    appoint = pb.AppointAdminRequest(school_id=sid, user_id=teacher.user_id)

    # Before: the operator does not reach into a school that has its admin.
    fp = grpc.StatusCode.FAILED_PRECONDITION
    assert await _refused(s.schools.AppointAdmin(appoint, metadata=env.operator.md)) == (fp, "ADMIN_SEAT_OCCUPIED")

    await _delete_account(env, admin.user_id, kafka_bootstrap)
    deadline = asyncio.get_running_loop().time() + 20
    while not (
        got := await s.schools.GetSchool(pb.GetSchoolRequest(school_id=sid), metadata=teacher.md)
    ).school.admin_vacant:
        assert asyncio.get_running_loop().time() < deadline, "vacancy not recorded"
        await asyncio.sleep(0.2)
    assert got.school.admin_vacant_since.seconds > 0
    vacant = await s.schools.ListVacantSchools(pb.ListVacantSchoolsRequest(), metadata=env.operator.md)
    assert sid in {x.school_id for x in vacant.schools}
    assert await _refused(s.schools.ListVacantSchools(pb.ListVacantSchoolsRequest(), metadata=teacher.md)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "OPERATOR_ONLY",
    )

    # Non-operators cannot fill the seat: a teacher of the school, nor an outsider.
    assert (await _refused(s.schools.AppointAdmin(appoint, metadata=teacher.md)))[
        0
    ] == grpc.StatusCode.PERMISSION_DENIED
    assert await _refused(s.schools.AppointAdmin(appoint, metadata=outsider.md)) == (
        grpc.StatusCode.NOT_FOUND,
        "SCHOOL_NOT_FOUND",
    )
    # The operator appoints a staff member (a retry is harmless).
    await s.schools.AppointAdmin(appoint, metadata=env.operator.md)
    await s.schools.AppointAdmin(appoint, metadata=env.operator.md)
    after = await s.schools.GetSchool(pb.GetSchoolRequest(school_id=sid), metadata=teacher.md)
    assert not after.school.admin_vacant and not after.school.HasField("admin_vacant_since")
    members = await s.members.ListMembers(pb.ListMembersRequest(school_id=sid), metadata=teacher.md)
    assert (teacher.user_id, ev.SCHOOL_ROLE_ADMIN) in {(m.user_id, m.school_role) for m in members.members}
    vacant = await s.schools.ListVacantSchools(pb.ListVacantSchoolsRequest(), metadata=env.operator.md)
    assert sid not in {x.school_id for x in vacant.schools}
    # The successor is now the last admin and cannot step down.
    remove = pb.RemoveAdminRequest(school_id=sid, user_id=teacher.user_id)
    assert await _refused(s.schools.RemoveAdmin(remove, metadata=teacher.md)) == (fp, "LAST_ADMIN")
    assert await _refused(s.members.Leave(pb.LeaveRequest(school_id=sid), metadata=teacher.md)) == (fp, "LAST_ADMIN")

    def done(seen):  # type: ignore[no-untyped-def]
        return any(x.school.school_id == sid for x in payloads(seen, ev.AdminSeatFilled))

    seen = await read_events(kafka_bootstrap, [env.prefix + SCHOOL_SCHOOL], until=done)
    vacated = [x for x in payloads(seen, ev.AdminSeatVacated) if x.school.school_id == sid]
    filled = [x for x in payloads(seen, ev.AdminSeatFilled) if x.school.school_id == sid]
    assert len(vacated) == 1 and vacated[0].reason == "account_deleted" and vacated[0].school.admin_vacant
    assert [(x.admin_user_id, x.appointed_by_user_id, x.school.admin_vacant) for x in filled] == [
        (teacher.user_id, env.operator.user_id, False)
    ]
