"""Drive TTL expiry in tests without waiting for the store's background monitor.

SecantusDB answers `secantusAdmin.pruneTtl` with one synchronous pass over every TTL index (the
same pass its 60 s sweeper thread runs). Real mongod has no such command: there we poll until its
TTL monitor (every 60 s by default) has run, so the same test stays meaningful on either store.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo.errors import OperationFailure

MONITOR_WAIT_SECONDS = 75.0  # mongod's ttlMonitorSleepSecs (60) plus one pass


async def expire_now(client: Any, done: Callable[[], Awaitable[bool]]) -> None:
    """Make the store remove what its TTL indexes say has expired, then wait until `done()`."""
    try:
        await client.admin.command("secantusAdmin.pruneTtl")
    except OperationFailure:
        pass  # not SecantusDB: rely on the server's own TTL monitor below
    deadline = time.monotonic() + MONITOR_WAIT_SECONDS
    while not await done():
        assert time.monotonic() < deadline, "the store did not remove expired documents"
        await asyncio.sleep(0.5)
