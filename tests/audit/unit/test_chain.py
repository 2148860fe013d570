"""The chain's canonical form, hashing and the walk that finds a removed, altered, replaced or
reordered entry (pure; the store-level tamper tests are in ../integration)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from audit.domain.chain import GENESIS, ChainWalk, Entry, Problem, Record, chain_entry, rfc3339, to_millis

T0 = datetime(2026, 12, 7, 6, 0, 0, 123456, tzinfo=UTC)


def record(i: int, school: str = "s1") -> Record:
    return Record(
        school_id=school,
        kind="chat.direct_message",
        actor=f"u{i}",
        subjects=(f"v{i}",),
        occurred_at=T0 + timedelta(seconds=i),
        source=f"ev-{i}",
        source_type="parta.chat.v1.MessagePosted",
        attrs={"chat_id": "dm-1", "seq": str(i), "pair": "staff-student"},
    )


def build(n: int, school: str = "s1") -> list[Entry]:
    chain: list[Entry] = []
    prev = GENESIS
    for i in range(1, n + 1):
        e = chain_entry(record(i, school), seq=i, prev_hash=prev, recorded_at=T0 + timedelta(seconds=i, milliseconds=5))
        chain.append(e)
        prev = e.hash
    return chain


def walk(entries: list[Entry], head: int) -> tuple[ChainWalk, object]:
    w = ChainWalk("s1")
    w.feed(entries)
    return w, w.finish(head)


def test_canonical_form_is_sorted_compact_json_with_millisecond_utc_times() -> None:
    e = build(1)[0]
    raw = e.canonical()
    body = json.loads(raw)
    assert raw == json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert body["occurred_at"] == "2026-12-07T06:00:01.123Z"
    assert body["prev_hash"] == GENESIS and body["seq"] == 1 and body["v"] == 1
    assert "hash" not in body
    assert e.hash == hashlib.sha256(raw).hexdigest()


def test_the_same_instant_in_another_zone_or_with_microseconds_hashes_the_same() -> None:
    moscow = timezone(timedelta(hours=3))
    a = chain_entry(record(1), seq=1, prev_hash=GENESIS, recorded_at=T0)
    shifted = dataclasses.replace(record(1), occurred_at=(T0 + timedelta(seconds=1)).astimezone(moscow))
    b = chain_entry(shifted, seq=1, prev_hash=GENESIS, recorded_at=to_millis(T0))
    assert a.hash == b.hash
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000Z"  # naive = UTC


def test_non_ascii_is_hashed_as_utf8() -> None:
    e = chain_entry(
        dataclasses.replace(record(1), attrs={"reason": "удалён"}), seq=1, prev_hash=GENESIS, recorded_at=T0
    )
    assert "удалён".encode() in e.canonical()


@pytest.mark.parametrize("field", ["kind", "actor", "source", "prev_hash"])
def test_every_field_is_covered_by_the_hash(field: str) -> None:
    e = build(1)[0]
    assert dataclasses.replace(e, **{field: "x"}).computed_hash() != e.hash


def test_seq_subjects_times_and_attributes_are_covered_by_the_hash() -> None:
    e = build(1)[0]
    for changed in (
        dataclasses.replace(e, seq=2),
        dataclasses.replace(e, subjects=("someone-else",)),
        dataclasses.replace(e, occurred_at=e.occurred_at + timedelta(milliseconds=1)),
        dataclasses.replace(e, recorded_at=e.recorded_at + timedelta(milliseconds=1)),
        dataclasses.replace(e, attrs={**e.attrs, "pair": "adult-child"}),
        dataclasses.replace(e, school_id="s2"),
    ):
        assert changed.computed_hash() != e.hash


def test_an_intact_chain_verifies() -> None:
    w, broken = walk(build(10), 10)
    assert broken is None and w.checked == 10


def test_an_empty_chain_verifies() -> None:
    w, broken = walk([], 0)
    assert broken is None and w.checked == 0


@pytest.mark.parametrize("removed", [1, 5, 10])
def test_a_removed_entry_is_found(removed: int) -> None:
    chain = build(10)
    del chain[removed - 1]
    _, broken = walk(chain, 10)
    assert broken is not None and broken.seq == removed and broken.problem is Problem.MISSING


def test_an_altered_entry_is_found() -> None:
    chain = build(10)
    chain[3] = dataclasses.replace(chain[3], actor="someone-else")
    _, broken = walk(chain, 10)
    assert broken is not None and (broken.seq, broken.problem) == (4, Problem.ALTERED)


def test_an_altered_entry_with_a_recomputed_hash_breaks_the_next_link() -> None:
    chain = build(10)
    forged = dataclasses.replace(chain[3], attrs={"chat_id": "dm-2"})
    chain[3] = dataclasses.replace(forged, hash=forged.computed_hash())
    _, broken = walk(chain, 10)
    assert broken is not None and (broken.seq, broken.problem) == (5, Problem.LINK_BROKEN)


def test_swapped_entries_are_found() -> None:
    chain = build(10)
    # Swap the content of 3 and 4 but keep the seqs in place (hashes recomputed by a forger).
    a, b = chain[2], chain[3]
    new_a = dataclasses.replace(b, seq=3, prev_hash=chain[1].hash)
    new_a = dataclasses.replace(new_a, hash=new_a.computed_hash())
    new_b = dataclasses.replace(a, seq=4, prev_hash=new_a.hash)
    new_b = dataclasses.replace(new_b, hash=new_b.computed_hash())
    chain[2], chain[3] = new_a, new_b
    _, broken = walk(chain, 10)
    assert broken is not None and (broken.seq, broken.problem) == (5, Problem.LINK_BROKEN)


def test_entries_fed_out_of_order_are_found() -> None:
    chain = build(5)
    chain[1], chain[2] = chain[2], chain[1]
    _, broken = walk(chain, 5)
    assert broken is not None and broken.seq == 2 and broken.problem is Problem.MISSING


def test_a_truncated_tail_is_found_against_the_head() -> None:
    _, broken = walk(build(10)[:8], 10)
    assert broken is not None and (broken.seq, broken.problem) == (9, Problem.MISSING)


def test_an_entry_of_another_school_is_found() -> None:
    chain = build(3)
    chain[1] = build(3, school="s2")[1]
    _, broken = walk(chain, 3)
    assert broken is not None and broken.seq == 2 and broken.problem is Problem.ALTERED


def test_pages_can_be_fed_one_at_a_time() -> None:
    chain = build(12)
    w = ChainWalk("s1")
    for start in range(0, 12, 5):
        assert w.feed(chain[start : start + 5])
    assert w.finish(12) is None and w.checked == 12


def test_a_record_crosses_the_record_log_unchanged_at_millisecond_precision() -> None:
    from audit.codecs import record_of, recorded_event
    from parta.audit.v1 import events_pb2
    from parta_common.events.envelope import MalformedEvent

    at = datetime(2026, 12, 7, 6, 1, 23, 456789, tzinfo=UTC)
    record = Record(
        "s1",
        "chat.direct_message",
        "t1",
        ("s2", "s3"),
        at,
        "ev-1",
        "parta.chat.v1.MessagePosted",
        {"pair": "staff-student"},
    )
    back = record_of(events_pb2.AuditRecorded.FromString(recorded_event(record).SerializeToString()))
    assert back == Record(**{**record.__dict__, "occurred_at": at.replace(microsecond=456000)})
    with pytest.raises(MalformedEvent):
        record_of(events_pb2.AuditRecorded(school_id="s1", source="ev-2"))
