"""The communication policy through the real service: admins read and set it (GetSchoolPolicy,
SetSchoolPolicy), others are refused NOT_AN_ADMIN, outsiders NOT_FOUND, and each change reaches
Kafka as a SchoolUpdated whose snapshot carries the policy, with a higher aggregate version."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import school_pb2 as pb
from parta_common.events.topics import SCHOOL_SCHOOL

from tests.school.integration.world import World, register
from tests.school.support import payloads, read_events


async def _refused(call) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    status = rpc_status.from_call(info.value)  # type: ignore[arg-type]
    reasons = [
        error_details_pb2.ErrorInfo.FromString(d.value).reason
        for d in (status.details if status else [])
        if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)
    ]
    return info.value.code(), reasons[0] if reasons else ""


async def test_admins_set_the_policy_and_it_is_published_in_the_school_snapshot(env, kafka_bootstrap: str):
    admin, outsider = env.mint.user(), env.mint.user()
    school = await register(env, admin, "Школа с правилами")
    w = World(env, school, admin, *(None,) * 8)  # type: ignore[arg-type]
    teacher = await w.new_teacher(verified=True)
    s, sid = env.stubs.schools, school.school_id

    shown = await s.GetSchoolPolicy(pb.GetSchoolPolicyRequest(school_id=sid), metadata=admin.md)
    # Every switch is filled in, at its default.
    assert [(f.name, v) for f, v in shown.policy.ListFields()] == [
        ("students_reach_classmates", True),
        ("parents_reach_parents", True),
        ("calls_with_students", True),
        ("erased_message_placeholders", True),
    ]

    off = pb.SetSchoolPolicyRequest(school_id=sid, policy=ev.CommunicationPolicy(students_reach_classmates=False))
    set_reply = await s.SetSchoolPolicy(off, metadata=admin.md)
    assert set_reply.policy.students_reach_classmates is False
    assert set_reply.policy.parents_reach_parents is True
    again = await s.GetSchoolPolicy(pb.GetSchoolPolicyRequest(school_id=sid), metadata=admin.md)
    assert again.policy == set_reply.policy

    denied = (grpc.StatusCode.PERMISSION_DENIED, "NOT_AN_ADMIN")
    assert await _refused(s.GetSchoolPolicy(pb.GetSchoolPolicyRequest(school_id=sid), metadata=teacher.md)) == denied
    assert await _refused(s.SetSchoolPolicy(off, metadata=teacher.md)) == denied
    nf = await _refused(s.SetSchoolPolicy(off, metadata=outsider.md))
    assert nf[0] == grpc.StatusCode.NOT_FOUND

    def published(seen) -> list[ev.SchoolUpdated]:  # type: ignore[no-untyped-def]
        return [x for x in payloads(seen, ev.SchoolUpdated) if x.school.school_id == sid]

    def done(seen) -> bool:  # type: ignore[no-untyped-def]
        return any(not x.school.communication_policy.students_reach_classmates for x in published(seen))

    seen = await read_events(kafka_bootstrap, [env.prefix + SCHOOL_SCHOOL], until=done)
    snapshot = published(seen)[-1].school.communication_policy
    assert snapshot.HasField("students_reach_classmates") and not snapshot.students_reach_classmates
    assert snapshot.calls_with_students and snapshot.parents_reach_parents
    created = [e for e in seen if e.event_type.endswith("SchoolCreated") and e.aggregate_id == sid]
    updated = [e for e in seen if e.event_type.endswith("SchoolUpdated") and e.aggregate_id == sid]
    assert updated[-1].aggregate_version > created[0].aggregate_version
