"""Reports of messages to the school's moderators."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Report:
    """A member's report of a message to the school's moderators (one per reporter and message)."""

    report_id: str
    chat_id: str
    seq: int
    reporter: str
    reason: str
    at: datetime
