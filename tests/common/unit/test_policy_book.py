"""The per-school policy book (in memory) and the worker that keeps it current from a projection."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from parta_common.policy_sync import PolicySync
from parta_common.safety import DEFAULT_POLICY, PolicyBook, PolicyRow, SchoolPolicy

STRICT = SchoolPolicy(students_reach_classmates=False)


def test_an_unknown_school_has_the_defaults() -> None:
    assert PolicyBook().get("s1") == DEFAULT_POLICY


def test_newest_version_wins_and_a_replay_changes_nothing() -> None:
    book = PolicyBook()
    assert book.apply("s1", STRICT, 3)
    assert not book.apply("s1", DEFAULT_POLICY, 2)  # a late, older event
    assert not book.apply("s1", DEFAULT_POLICY, 3)  # a duplicate
    assert book.get("s1") == STRICT
    assert book.apply("s1", DEFAULT_POLICY, 4)
    assert book.get("s1") == DEFAULT_POLICY
    assert book.get("s2") == DEFAULT_POLICY


class FakeProjection:
    def __init__(self) -> None:
        self.rows: list[tuple[datetime, PolicyRow]] = []
        self.asked: list[datetime | None] = []

    async def load(self, since: datetime | None) -> Iterable[PolicyRow]:
        self.asked.append(since)
        return [row for at, row in self.rows if since is None or at >= since]


async def test_sync_loads_everything_at_start_then_what_changed_with_an_overlap() -> None:
    t0 = datetime(2026, 9, 1, 8, tzinfo=UTC)
    clock = [t0]
    projection = FakeProjection()
    projection.rows.append((t0 - timedelta(days=30), ("s1", STRICT, 5)))
    book = PolicyBook()
    sync = PolicySync(book, projection.load, now=lambda: clock[0], overlap=timedelta(seconds=30))
    assert await sync.run_once() == 1
    assert projection.asked == [None]
    assert book.get("s1") == STRICT
    # Another replica's consumer projected a change: the next pass reads rows since the last one.
    clock[0] = t0 + timedelta(seconds=2)
    projection.rows.append((t0 + timedelta(seconds=1), ("s1", DEFAULT_POLICY, 6)))
    assert await sync.run_once() == 1
    assert projection.asked[-1] == t0 - timedelta(seconds=30)
    assert book.get("s1") == DEFAULT_POLICY
    # Rows read again in the overlap apply nothing.
    assert await sync.run_once() == 0


async def test_sync_starts_even_when_the_store_fails_and_keeps_trying() -> None:
    calls: list[datetime | None] = []

    async def failing(since: datetime | None) -> Iterable[PolicyRow]:
        calls.append(since)
        if len(calls) == 1:
            raise ConnectionError("store starting")
        return [("s1", STRICT, 1)]

    book = PolicyBook()
    sync = PolicySync(book, failing, now=lambda: datetime.now(UTC), interval=0.01)
    await sync.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=5)
        while book.get("s1") != STRICT and datetime.now(UTC) < deadline:
            await asyncio.sleep(0.01)
    finally:
        await sync.stop()
    assert book.get("s1") == STRICT
