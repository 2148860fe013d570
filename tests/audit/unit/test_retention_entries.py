"""Chat's retention events become audit entries (docs/audit.md): `retention.archived` and
`retention.purged` in the chat's school, with the counts and no actor (the school's rule did it),
and a school's retention setting is part of `school.settings_updated`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from audit.api.consumers import Recorder
from audit.domain.chain import Record
from parta.chat.v1 import events_pb2 as chat_pb2
from parta.school.v1 import events_pb2 as school_pb2
from parta_common.events.envelope import make_envelope
from parta_common.timestamps import ts

pytestmark = pytest.mark.unit

AT = datetime(2028, 10, 1, 3, 0, tzinfo=UTC)


async def _entries(*payloads: Any) -> list[Record]:
    got: list[Record] = []

    async def record(r: Record) -> None:
        got.append(r)

    recorder = Recorder(None, record)  # type: ignore[arg-type]  # these events need no projection
    for p in payloads:
        await recorder(
            make_envelope(p, aggregate_type="t", aggregate_id="a", aggregate_version=1, producer="t", occurred_at=AT)
        )
    return got


async def test_archive_and_purge_are_recorded_with_their_counts() -> None:
    counts = chat_pb2.RetentionCounts(messages=120, files_deleted=3, files_detached=2, members=28)
    archived = chat_pb2.ChatArchivedForRetention(
        chat_id="cls-11a",
        school_id="s1",
        class_id="11a",
        kind=chat_pb2.CHAT_KIND_CLASS,
        retained_from=ts(datetime(2027, 9, 1, tzinfo=UTC)),
        archived_at=ts(AT),
        purge_after=ts(datetime(2028, 10, 31, 3, 0, tzinfo=UTC)),
        archive_file_id="f-arch",
        counts=counts,
    )
    purged = chat_pb2.ChatPurged(
        chat_id="cls-11a",
        school_id="s1",
        class_id="11a",
        kind=chat_pb2.CHAT_KIND_CLASS,
        purged_at=ts(AT),
        counts=counts,
    )
    first, second = await _entries(archived, purged)
    assert (first.kind, first.school_id, first.actor, tuple(first.subjects)) == ("retention.archived", "s1", "", ())
    assert first.occurred_at == AT
    assert first.attrs["archive_file_id"] == "f-arch" and first.attrs["chat_kind"] == "class"
    assert first.attrs["purge_after"].startswith("2028-10-31")
    assert second.kind == "retention.purged"
    assert {k: second.attrs[k] for k in ("messages", "files_deleted", "files_detached", "members")} == {
        "messages": "120",
        "files_deleted": "3",
        "files_detached": "2",
        "members": "28",
    }


async def test_the_schools_retention_is_part_of_its_settings_entry() -> None:
    snap = school_pb2.SchoolSnapshot(
        school_id="s1", retention=school_pb2.RetentionPolicy(keep_days=730, archive_grace_days=14)
    )
    (entry,) = await _entries(school_pb2.SchoolUpdated(school=snap))
    assert entry.kind == "school.settings_updated"
    assert (entry.attrs["retention.keep_days"], entry.attrs["retention.archive_grace_days"]) == ("730", "14")
    (older,) = await _entries(school_pb2.SchoolUpdated(school=school_pb2.SchoolSnapshot(school_id="s1")))
    assert not any(k.startswith("retention.") for k in older.attrs)
