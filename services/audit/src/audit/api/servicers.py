"""The AuditService: thin mapping of requests to the trail's use cases and of entries to protobuf."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeAlias

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from parta.audit.v1 import audit_pb2 as pb
from parta.audit.v1 import audit_pb2_grpc as rpc
from parta_common.errors import InvalidArgument
from parta_common.grpc.context import require_principal

from audit.app.ports import Filters
from audit.app.trail import AuditTrail
from audit.domain.chain import Entry, Problem

Ctx: TypeAlias = grpc.aio.ServicerContext

PROBLEMS = {
    Problem.MISSING: pb.CHAIN_PROBLEM_MISSING,
    Problem.ALTERED: pb.CHAIN_PROBLEM_ALTERED,
    Problem.LINK_BROKEN: pb.CHAIN_PROBLEM_LINK_BROKEN,
}


def _credentials(context: Ctx) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str):
            return value
    return ""


def _time(ts: Timestamp, present: bool, field: str) -> datetime | None:
    if not present:
        return None
    try:
        return ts.ToDatetime(tzinfo=UTC)
    except ValueError:
        raise InvalidArgument.field(field, "not a valid time (years 1..9999)") from None


def _stamp(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


def entry_pb(e: Entry) -> pb.AuditEntry:
    return pb.AuditEntry(
        school_id=e.school_id,
        seq=e.seq,
        kind=e.kind,
        actor_user_id=e.actor,
        subject_user_ids=list(e.subjects),
        occurred_at=_stamp(e.occurred_at),
        recorded_at=_stamp(e.recorded_at),
        attributes=dict(e.attrs),
        source_event_id=e.source if e.source_type else "",
        source_event_type=e.source_type,
        prev_hash=e.prev_hash,
        hash=e.hash,
    )


class AuditServicer(rpc.AuditServiceServicer):
    def __init__(self, trail: AuditTrail):
        self.trail = trail

    async def ListAuditEntries(self, request: pb.ListAuditEntriesRequest, context: Ctx) -> pb.ListAuditEntriesResponse:
        principal = require_principal()
        filters = Filters(
            actor=request.actor_user_id,
            subject=request.subject_user_id,
            kind=request.kind,
            occurred_after=_time(request.occurred_after, request.HasField("occurred_after"), "occurred_after"),
            occurred_before=_time(request.occurred_before, request.HasField("occurred_before"), "occurred_before"),
        )
        page = await self.trail.list_entries(
            principal.user_id, _credentials(context), request.school_id, request.page_size, request.page_token, filters
        )
        return pb.ListAuditEntriesResponse(entries=[entry_pb(e) for e in page.entries], next_page_token=page.next_token)

    async def VerifyAuditChain(self, request: pb.VerifyAuditChainRequest, context: Ctx) -> pb.VerifyAuditChainResponse:
        principal = require_principal()
        result = await self.trail.verify(principal.user_id, _credentials(context), request.school_id)
        reply = pb.VerifyAuditChainResponse(
            intact=result.broken is None,
            entries_checked=result.checked,
            head_seq=result.head_seq,
            head_hash=result.head_hash,
        )
        if result.broken is not None:
            reply.first_broken_seq = result.broken.seq
            reply.problem = PROBLEMS[result.broken.problem]
            reply.detail = result.broken.detail
        return reply
