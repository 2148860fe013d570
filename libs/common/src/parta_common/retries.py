"""Optimistic concurrency: re-run a read-modify-write that lost to a concurrent writer.

The contract: an attempt reads, decides, and writes with the version it read; when the write
loses (the version moved) it raises `ConcurrentChange` — repositories raise it, or a use case
turns a lost `save(...) -> bool` into it with `saved()`. `with_retries` then reads again after a
short random pause (so writers that collided do not collide again in lockstep) and, after
`tries` lost races, lets the last `ConcurrentChange` reach the client (ABORTED, CONCURRENT_CHANGE).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from parta_common.errors import ConcurrentChange

T = TypeVar("T")

DEFAULT_TRIES = 8


async def with_retries(attempt: Callable[[], Awaitable[T]], tries: int = DEFAULT_TRIES) -> T:
    """`attempt()`'s result once it does not raise `ConcurrentChange`; at most `tries` attempts."""
    for n in range(tries):
        try:
            return await attempt()
        except ConcurrentChange:
            if n == tries - 1:
                raise
        await asyncio.sleep(random.uniform(0, 0.002 * 2**n))
    raise AssertionError("unreachable")


def saved(value: T, written: bool) -> T:
    """`value` when the versioned write succeeded (`written`), else `ConcurrentChange`."""
    if not written:
        raise ConcurrentChange()
    return value
