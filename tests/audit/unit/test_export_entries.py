"""Family export in the audit trail: export.requested and export.delivered from the events, in the
schools of the requester and the subject, with ids only (no names, no file contents)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from audit.api.consumers import Recorder
from audit.domain.chain import Record
from google.protobuf.message import Message
from parta.chat.v1 import exports_pb2 as chat_exports
from parta.identity.v1 import exports_pb2 as identity_exports
from parta_common.events.envelope import make_envelope
from parta_common.timestamps import ts

pytestmark = pytest.mark.unit

AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


class Schools:
    """The recorder's directory, reduced to what export entries read: whose schools."""

    def __init__(self, schools: Mapping[str, set[str]]):
        self._schools = schools

    async def schools_of(self, user_id: str, *, including_left: bool = False) -> set[str]:
        return set(self._schools.get(user_id, set()))

    def __getattr__(self, name: str) -> Any:  # the projections export entries never touch
        raise AssertionError(f"export entries must not use {name}")


def envelope(payload: Message, event_id: str) -> Any:
    return make_envelope(
        payload,
        aggregate_type="export",
        aggregate_id="e1",
        aggregate_version=1,
        producer="test",
        occurred_at=AT,
        event_id=event_id,
    )


async def recorded(schools: Mapping[str, set[str]], *payloads: tuple[Message, str]) -> list[Record]:
    records: list[Record] = []

    async def record(r: Record) -> None:
        records.append(r)

    recorder = Recorder(Schools(schools), record)  # type: ignore[arg-type]
    for payload, event_id in payloads:
        await recorder(envelope(payload, event_id))
    return records


async def test_a_guardians_export_is_recorded_requested_then_delivered_in_both_families_schools() -> None:
    requested = identity_exports.DataExportRequested(
        export_id="e1", requested_by_user_id="anna", subject_user_id="misha", requested_at=ts(AT), notify_subject=True
    )
    delivered = chat_exports.DataExportDelivered(
        export_id="e1",
        requested_by_user_id="anna",
        subject_user_id="misha",
        file_id="f1",
        size_bytes=1234,
        delivered_at=ts(AT),
    )
    records = await recorded({"anna": {"s1"}, "misha": {"s1", "s2"}}, (requested, "ev-1"), (delivered, "ev-2"))
    got = [(r.school_id, r.kind, r.actor, r.subjects, r.source) for r in records]
    assert got == [
        ("s1", "export.requested", "anna", ("misha",), "ev-1"),
        ("s2", "export.requested", "anna", ("misha",), "ev-1"),
        ("s1", "export.delivered", "anna", ("misha",), "ev-2"),
        ("s2", "export.delivered", "anna", ("misha",), "ev-2"),
    ]
    assert dict(records[0].attrs) == {"scope": "guardian", "export_id": "e1", "subject_told": "true"}
    assert dict(records[2].attrs) == {"scope": "guardian", "export_id": "e1", "file_id": "f1", "size_bytes": "1234"}
    assert records[0].occurred_at == AT


async def test_an_own_export_of_someone_in_no_school_is_not_recorded_anywhere() -> None:
    own = identity_exports.DataExportRequested(export_id="e2", requested_by_user_id="ivan", subject_user_id="ivan")
    assert await recorded({}, (own, "ev-3")) == []
    records = await recorded({"ivan": {"s9"}}, (own, "ev-3"))
    assert [(r.school_id, r.kind, dict(r.attrs)["scope"]) for r in records] == [("s9", "export.requested", "own")]
