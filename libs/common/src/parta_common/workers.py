"""Periodic background work (a `grpc.server.Worker`): run `tick` soon after start, then every
`interval` seconds, until stopped. A failing tick is logged and tried again at the next one (the
store or a peer may be down); it never ends the loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("parta.workers")


class PeriodicWorker:
    def __init__(self, name: str, tick: Callable[[], Awaitable[object]], interval: float, *, first_delay: float = 0.0):
        """`interval <= 0` disables the worker (start does nothing)."""
        self.name = name
        self._tick = tick
        self._interval = interval
        self._first_delay = first_delay
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._interval > 0:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> bool:
        """One tick; False when it failed (logged)."""
        try:
            await self._tick()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("periodic_work_failed", worker=self.name, error=type(exc).__name__)
            return False
        return True

    async def _loop(self) -> None:
        structlog.contextvars.bind_contextvars(worker=self.name)
        await asyncio.sleep(self._first_delay)
        while True:
            await self.run_once()
            await asyncio.sleep(self._interval)
