"""Keeps a replica's PolicyBook current from the service's own projection (a Worker).

Consumers share a group, so the one replica that applies a school event updates its book at once;
the others learn it here: at start the whole projection is loaded (before the server takes calls),
then every `interval` seconds the rows the projection changed since the last pass (with an overlap,
so a write racing a pass is read again; applying a row twice changes nothing). This runs off the
request path: deciding never waits for the store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta

import structlog

from parta_common.safety.book import PolicyBook, PolicyRow

log = structlog.get_logger("parta.policy_sync")

# Rows changed at or after `since` (None: every row).
PolicyLoader = Callable[[datetime | None], Awaitable[Iterable[PolicyRow]]]


class PolicySync:
    def __init__(
        self,
        book: PolicyBook,
        load: PolicyLoader,
        *,
        # Wall-clock time, as the projections stamp their rows (not a service's test clock).
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        interval: float = 1.0,
        overlap: timedelta = timedelta(seconds=30),
    ):
        self._book = book
        self._load = load
        self._now = now
        self._interval = interval
        self._overlap = overlap
        self._since: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        started = self._now()
        applied = self._book.apply_all(await self._load(self._since))
        self._since = started - self._overlap
        return applied

    async def start(self) -> None:
        try:
            await self.run_once()
        except Exception as exc:  # the store may be starting too: the loop keeps trying
            log.warning("policy_sync_deferred", error=type(exc).__name__)
        self._task = asyncio.create_task(self._run(), name="policy-sync")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("policy_sync_failed", error=type(exc).__name__)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
