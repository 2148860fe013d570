"""A token bucket for client WebSocket frames: `rate` per second, bursts of `burst`."""

from __future__ import annotations

from collections.abc import Callable


class TokenBucket:
    def __init__(self, rate: float, burst: float, now: Callable[[], float]):
        self._rate = rate
        self._burst = burst
        self._now = now
        self._tokens = burst
        self._at = now()

    def take(self) -> bool:
        at = self._now()
        self._tokens = min(self._burst, self._tokens + (at - self._at) * self._rate)
        self._at = at
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
