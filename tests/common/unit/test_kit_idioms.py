"""The kit's one idiom per concept: timestamps, id and text validation, retries of a lost
concurrent write, derived ids, periodic workers, the serve entry point."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from google.protobuf import timestamp_pb2
from parta.school.v1 import events_pb2 as school_pb2
from parta_common.errors import CONCURRENT_CHANGE, Aborted, ConcurrentChange, InvalidArgument, Violations
from parta_common.ids import IDEMPOTENCY, IdNamespace, new_id
from parta_common.mongo import idempotent_id
from parta_common.retries import saved, with_retries
from parta_common.timestamps import from_ts, ts
from parta_common.validation import (
    check_id,
    check_request_id,
    check_text,
    has_control_chars,
    id_problem,
    require_id,
    require_request_id,
)
from parta_common.workers import PeriodicWorker

pytestmark = pytest.mark.unit

WHEN = datetime(2026, 9, 1, 8, 30, 15, 250_000, tzinfo=UTC)


# ---- timestamps ---------------------------------------------------------------------------------


def test_ts_round_trips_and_leaves_an_absent_time_unset():
    stamp = ts(WHEN)
    assert isinstance(stamp, timestamp_pb2.Timestamp)
    assert from_ts(stamp) == WHEN
    assert ts(None) is None
    invite = school_pb2.InviteSnapshot(expires_at=ts(None))
    assert not invite.HasField("expires_at")
    assert from_ts(invite.expires_at) is None


# ---- ids and text ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [new_id(), "c1", "class_5-A", "x" * 64, str(uuid.uuid4()).upper()])
def test_an_id_is_up_to_64_ascii_letters_digits_dashes_or_underscores(value: str):
    assert id_problem(value) is None


@pytest.mark.parametrize("value", ["", "a b", "a/b", "ид", "a\x00", "x" * 65, "{" + new_id() + "}"])
def test_anything_else_is_not_an_id(value: str):
    assert id_problem(value) is not None


def test_uuid_ids_narrow_the_rule_and_come_back_canonical():
    minted = new_id()
    assert require_id(minted.upper(), "user_id", uuid=True) == minted
    assert require_id("c1", "class_id") == "c1"
    for bad in ("nope", "zzz", "x"):
        with pytest.raises(InvalidArgument) as caught:
            require_id(bad, "user_id", uuid=True)
        assert caught.value.violations[0].field == "user_id"
    assert require_id("", "user_id", required=False) == ""
    with pytest.raises(InvalidArgument):
        require_id("", "user_id")


def test_check_id_collects_violations():
    v = Violations()
    check_id(v, "school_id", "")
    check_id(v, "class_id", "", required=False)
    check_id(v, "user_id", "a b")
    assert [(i.field, i.description) for i in v.items] == [
        ("school_id", "must not be empty"),
        ("user_id", "is not a valid id"),
    ]


def test_text_rules():
    v = Violations()
    check_text(v, "name", "Школа №1", 200, required=True)
    assert not v.items
    for value, required, description in (
        ("", True, "must not be empty"),
        ("   ", False, "must not be blank"),
        (" padded", True, "must not start or end with spaces"),
        ("a\u202eb", True, "must not contain control characters"),
        ("x" * 201, True, "must be at most 200 characters"),
    ):
        v = Violations()
        check_text(v, "name", value, 200, required=required)
        assert [i.description for i in v.items] == [description], value
    assert has_control_chars("a\nb") and not has_control_chars("ab")


def test_prose_keeps_what_composes_text_and_refuses_what_hides_or_reorders_it():
    # chat's messages, captions, reports: line breaks, surrounding spaces and the ZWJ of an emoji
    # sequence are text; controls and bidirectional overrides are not.
    for fine in ("a\nb\tc", " padded ", "👨\u200d👩\u200d👧", "привет 👋"):
        v = Violations()
        check_text(v, "text", fine, 20, required=True, prose=True)
        assert not v.items, fine
    for value, required, description in (
        ("   ", True, "must not be empty"),
        ("x" * 21, True, "must be at most 20 characters"),
        ("bell\x07", True, "must not contain control characters"),
        ("nul\x00", True, "must not contain control characters"),
        ("rtl\u202etxt", True, "must not contain control characters"),
    ):
        v = Violations()
        check_text(v, "text", value, 20, required=required, prose=True)
        assert [i.description for i in v.items] == [description], value
    v = Violations()
    check_text(v, "reason", "   ", 20, required=False, prose=True)
    assert not v.items  # an optional reason may be blank
    assert has_control_chars("a\u200db") and not has_control_chars("a\u200db", prose=True)
    assert has_control_chars("a\nb", prose=True) and not has_control_chars("a\nb", prose=True, newlines=True)


def test_a_wider_id_rule_for_ids_clients_choose():
    # chat's: up to 128 printable characters without spaces; the default rule stays 64 of the alphabet.
    for fine in ("cls-5A", "msg:2026/09/01#1", "ид-1", "x" * 128):
        assert id_problem(fine, max_len=128, printable=True) is None, fine
    assert id_problem("x" * 129, max_len=128, printable=True) == "must be at most 128 characters"
    for bad in ("a b", "tab\t", "a\x01", "rtl\u202e"):
        assert id_problem(bad, max_len=128, printable=True) == "must not contain spaces or control characters", bad
    assert id_problem("msg:1") == "is not a valid id"
    v = Violations()
    check_id(v, "chat_id", "", max_len=128, printable=True)
    assert [i.description for i in v.items] == ["must not be empty"]


def test_request_ids():
    assert require_request_id("", required=False) == ""
    assert require_request_id("req-1") == "req-1"
    for bad in ("x" * 129, "a b", "a\x01"):
        v = Violations()
        check_request_id(v, bad)
        assert v.items, bad
    v = Violations()
    check_request_id(v, "")
    assert v.items[0].description.startswith("must not be empty")


# ---- retries and the one reason code -------------------------------------------------------------


async def test_with_retries_rereads_after_a_lost_write_and_returns_the_winner():
    tries = []

    async def attempt() -> str:
        tries.append(1)
        return saved("done", written=len(tries) == 3)

    assert await with_retries(attempt) == "done"
    assert len(tries) == 3


async def test_with_retries_gives_up_with_concurrent_change_and_passes_other_errors_through():
    async def always_lost() -> None:
        raise ConcurrentChange()

    with pytest.raises(ConcurrentChange) as caught:
        await with_retries(always_lost, tries=3)
    assert isinstance(caught.value, Aborted) and caught.value.reason == CONCURRENT_CHANGE == "CONCURRENT_CHANGE"

    calls = []

    async def other() -> None:
        calls.append(1)
        raise Aborted("something else", reason="OTHER")

    with pytest.raises(Aborted):
        await with_retries(other)
    assert len(calls) == 1


# ---- derived ids ---------------------------------------------------------------------------------


def test_derived_ids_are_stable_per_namespace():
    school = IdNamespace(uuid.UUID("2b7c8a4e-5f0e-4c1e-9d8f-1c0a7a6b5e21"))
    assert school.derive("staff-room", "s1") == school.derive("staff-room", "s1")
    assert school.derive("staff-room", "s1") != school.derive("staff-room", "s2")
    # The same parts in another namespace give another id; the kit's own is idempotent_id's.
    assert school.derive("a", "b", "c") != IDEMPOTENCY.derive("a", "b", "c") == idempotent_id("a", "b", "c")
    # Values stay what they were before the helpers moved into the kit.
    expected = str(uuid.uuid5(uuid.UUID("2b7c8a4e-5f0e-4c1e-9d8f-1c0a7a6b5e21"), "staff-room\x1fs1"))
    assert school.derive("staff-room", "s1") == expected
    assert id_problem(school.derive("x")) is None


# ---- periodic workers ----------------------------------------------------------------------------


async def test_a_periodic_worker_runs_until_stopped_and_survives_a_failing_tick():
    ticks: list[int] = []
    enough = asyncio.Event()

    async def tick() -> None:
        ticks.append(1)
        if len(ticks) == 2:
            raise RuntimeError("the store is down")
        if len(ticks) >= 4:
            enough.set()

    worker = PeriodicWorker("test-worker", tick, 0.001)
    await worker.start()
    await asyncio.wait_for(enough.wait(), timeout=5)
    await worker.stop()
    after_stop = len(ticks)
    await asyncio.sleep(0.01)
    assert len(ticks) == after_stop >= 4


async def test_a_periodic_worker_with_no_interval_does_not_run():
    async def tick() -> None:
        raise AssertionError("must not run")

    worker = PeriodicWorker("off", tick, 0)
    await worker.start()
    await worker.stop()


async def test_run_once_reports_a_failed_tick():
    async def down() -> None:
        raise ConnectionError("the store is down")

    assert await PeriodicWorker("once", down, 1).run_once() is False
