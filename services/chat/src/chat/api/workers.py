"""Periodic work of a replica: deliver messages held by quiet hours, clean up unfinished uploads."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog

from chat.app.files import Files
from chat.app.messages import Messages

log = structlog.get_logger("chat.workers")


class Housekeeper:
    def __init__(self, messages: Messages, files: Files, *, interval: float, upload_timeout: timedelta):
        self._messages = messages
        self._files = files
        self._interval = interval
        self._upload_timeout = upload_timeout
        self._task: asyncio.Task[None] | None = None
        self._cleanup_every = max(1, int(60 / interval))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="chat-housekeeper")

    async def run_once(self, *, cleanup: bool = True) -> int:
        released = await self._messages.release_held()
        if cleanup:
            await self._files.cleanup(self._upload_timeout)
        return released

    async def _run(self) -> None:
        tick = 0
        while True:
            try:
                await self.run_once(cleanup=tick % self._cleanup_every == 0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("housekeeping_failed", error=type(exc).__name__)
            tick += 1
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
