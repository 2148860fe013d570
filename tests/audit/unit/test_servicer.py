"""The AuditService servicer: the caller's own authorization goes to the admin check, entries map to
protobuf with their chain fields, and a time outside protobuf's range is INVALID_ARGUMENT on its field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from audit.api.servicers import AuditServicer
from audit.app.trail import AuditTrail
from audit.domain.chain import GENESIS, Record
from google.protobuf.timestamp_pb2 import Timestamp
from parta.audit.v1 import audit_pb2 as pb
from parta_common.auth import Principal
from parta_common.errors import InvalidArgument, PermissionDenied
from parta_common.grpc.context import current_principal

from tests.audit.fakes import FixedAdmins, MemoryChains, MemoryRecordLog

T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


class Ctx:
    def __init__(self, token: str):
        self.token = token

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-request-id", "r1"), ("authorization", f"Bearer {self.token}"))


async def servicer_as(user: str) -> tuple[AuditServicer, FixedAdmins]:
    admins = FixedAdmins({"s1": {"admin"}})
    chains = MemoryChains()
    trail = AuditTrail(
        chains=chains, log=MemoryRecordLog(chains, lambda: T0), admins=admins, now=lambda: T0, new_id=lambda: "x"
    )
    await trail.record(
        Record("s1", "school.staff_verified", "admin", ("t1",), T0, "ev-1", "parta.school.v1.StaffVerified", {"a": "b"})
    )
    current_principal.set(Principal(user, "sess", 0))
    return AuditServicer(trail), admins


async def test_lists_with_the_callers_credentials_and_maps_the_chain_fields() -> None:
    servicer, admins = await servicer_as("admin")
    reply = await servicer.ListAuditEntries(pb.ListAuditEntriesRequest(school_id="s1"), Ctx("tok"))  # type: ignore[arg-type]
    assert admins.asked == [("admin", "s1", "Bearer tok")]
    read, verified = reply.entries
    assert read.kind == "audit.read" and read.source_event_id == "" and read.prev_hash == verified.hash
    assert (verified.seq, verified.actor_user_id, list(verified.subject_user_ids)) == (1, "admin", ["t1"])
    assert verified.source_event_id == "ev-1" and verified.source_event_type.endswith("StaffVerified")
    assert verified.prev_hash == GENESIS and len(verified.hash) == 64 and dict(verified.attributes) == {"a": "b"}
    assert verified.occurred_at.ToDatetime(tzinfo=UTC) == T0


@pytest.mark.parametrize("field", ["occurred_after", "occurred_before"])
async def test_a_time_out_of_range_is_invalid_argument(field: str) -> None:
    servicer, _ = await servicer_as("admin")
    request = pb.ListAuditEntriesRequest(school_id="s1")
    getattr(request, field).CopyFrom(Timestamp(seconds=10**15))
    with pytest.raises(InvalidArgument) as refused:
        await servicer.ListAuditEntries(request, Ctx("tok"))  # type: ignore[arg-type]
    assert [v.field for v in refused.value.violations] == [field]


async def test_verify_for_a_non_admin_is_refused() -> None:
    servicer, _ = await servicer_as("teacher")
    with pytest.raises(PermissionDenied):
        await servicer.VerifyAuditChain(pb.VerifyAuditChainRequest(school_id="s1"), Ctx("tok"))  # type: ignore[arg-type]
