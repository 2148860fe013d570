"""A development clock whose "now" is an instant written in a file (e2e tests move it; never in production)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime


class FileClock:
    def __init__(self, path: str):
        self._path = path
        self._mtime = -1.0
        self._value: datetime | None = None

    def now(self) -> datetime:
        try:
            mtime = os.stat(self._path).st_mtime
            if mtime != self._mtime:
                with open(self._path) as f:
                    self._value = datetime.fromisoformat(f.read().strip()).astimezone(UTC)
                self._mtime = mtime
        except (OSError, ValueError):
            self._value = None
        return self._value or datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()
