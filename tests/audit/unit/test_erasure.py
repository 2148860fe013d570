"""The recorder's erasure entries: an AccountDeleted names who deleted (the person, or the guardian
of a young child), and every service's erasure report becomes an `erasure.report` entry — ids and
counts only — in each school the person was ever in; a redelivered report is one entry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from audit.api.consumers import Recorder
from audit.domain.chain import Record
from google.protobuf.message import Message
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity_pb2
from parta_common.erasure import report_payload
from parta_common.timestamps import ts

pytestmark = pytest.mark.unit

AT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


class Directory:
    async def schools_of(self, user_id: str, *, including_left: bool = False) -> set[str]:
        return {"s1", "s2"} if user_id == "misha" and including_left else set()

    async def apply_membership(self, *args: Any) -> None: ...
    async def apply_minor(self, *args: Any) -> None: ...


def _envelope(payload: Message, event_id: str) -> envelope_pb2.EventEnvelope:
    envelope = envelope_pb2.EventEnvelope(event_id=event_id, event_type=payload.DESCRIPTOR.full_name)
    envelope.payload.Pack(payload)
    return envelope


async def test_erasure_reports_are_recorded_with_counts_in_every_school_of_the_person() -> None:
    records: dict[tuple[str, str], Record] = {}

    async def record(r: Record) -> None:
        records.setdefault((r.school_id, r.source), r)  # the chain's (school, source) uniqueness

    recorder = Recorder(Directory(), record)  # type: ignore[arg-type]
    deleted = identity_pb2.AccountDeleted(user_id="misha", deleted_at=ts(AT), deleted_by_user_id="anna")
    await recorder(_envelope(deleted, "e-del"))
    report = report_payload("misha", "chat", {"messages_replaced": 12, "files": 1}, "anna", AT)
    await recorder(_envelope(report, "e-chat"))
    await recorder(_envelope(report, "e-chat"))  # redelivered

    assert sorted(records) == [("s1", "e-chat"), ("s1", "e-del"), ("s2", "e-chat"), ("s2", "e-del")]
    gone = records[("s1", "e-del")]
    assert (gone.kind, gone.actor, gone.subjects) == ("identity.account_deleted", "anna", ("misha",))
    entry = records[("s2", "e-chat")]
    assert (entry.kind, entry.actor, entry.subjects, entry.occurred_at) == ("erasure.report", "anna", ("misha",), AT)
    assert entry.attrs == {"service": "chat", "files": "1", "messages_replaced": "12"}
