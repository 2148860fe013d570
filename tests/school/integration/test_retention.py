"""The school's retention of ended academic years through the real service: the default shown to
admins, a change read back and published on Kafka in SchoolUpdated's snapshot (chat applies it from
there), a bad value refused naming its field with nothing changed, teachers refused NOT_AN_ADMIN."""

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


async def test_admins_set_the_retention_and_it_is_published_in_the_school_snapshot(env, kafka_bootstrap: str):
    admin = env.mint.user()
    school = await register(env, admin, "Школа с архивом")
    w = World(env, school, admin, *(None,) * 8)  # type: ignore[arg-type]
    teacher = await w.new_teacher(verified=True)
    s, sid = env.stubs.schools, school.school_id

    shown = await s.GetRetentionPolicy(pb.GetRetentionPolicyRequest(school_id=sid), metadata=admin.md)
    assert (shown.retention.keep_days, shown.retention.archive_grace_days) == (365, 30)

    wanted = pb.SetRetentionPolicyRequest(
        school_id=sid, retention=ev.RetentionPolicy(keep_days=730, archive_grace_days=14)
    )
    assert (await s.SetRetentionPolicy(wanted, metadata=admin.md)).retention == wanted.retention
    again = await s.GetRetentionPolicy(pb.GetRetentionPolicyRequest(school_id=sid), metadata=admin.md)
    assert again.retention == wanted.retention

    bad = pb.SetRetentionPolicyRequest(school_id=sid, retention=ev.RetentionPolicy(keep_days=7))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await s.SetRetentionPolicy(bad, metadata=admin.md)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(refused.value)  # type: ignore[arg-type]
    assert status is not None
    fields = [
        v.field
        for d in status.details
        if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)
        for v in error_details_pb2.BadRequest.FromString(d.value).field_violations
    ]
    assert fields == ["retention.keep_days"]
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await s.SetRetentionPolicy(wanted, metadata=teacher.md)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await s.GetRetentionPolicy(pb.GetRetentionPolicyRequest(school_id=sid), metadata=admin.md)) == again

    def published(seen) -> list[ev.SchoolUpdated]:  # type: ignore[no-untyped-def]
        return [x for x in payloads(seen, ev.SchoolUpdated) if x.school.school_id == sid]

    seen = await read_events(
        kafka_bootstrap,
        [env.prefix + SCHOOL_SCHOOL],
        until=lambda seen: any(x.school.retention.keep_days == 730 for x in published(seen)),
    )
    assert [x.school.retention.keep_days for x in published(seen)] == [730]
    assert published(seen)[0].school.retention.archive_grace_days == 14
