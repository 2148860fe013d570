"""Urgent messages across quiet hours: a parent's reason, the per-day allowance, the reset time."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from parta_common import validation
from parta_common.errors import ResourceExhausted, Violations

MAX_URGENT_REASON_CHARS = 200
# How many urgent messages a parent may send across quiet hours per school-local day (each school
# day resets at local midnight). Configurable (CHAT_URGENT_PER_DAY); see docs/chat.md.
DEFAULT_URGENT_PER_DAY = 2


def check_reason(v: Violations, reason: str, *, required: bool) -> None:
    validation.check_text(v, "urgent_reason", reason, MAX_URGENT_REASON_CHARS, required=required, prose=True)


def local_day(now: datetime, tz: ZoneInfo) -> str:
    """The school-local date a use counts against (ISO yyyy-mm-dd)."""
    return now.astimezone(tz).date().isoformat()


def next_reset(now: datetime, tz: ZoneInfo) -> datetime:
    """The next school-local midnight, in now's zone: when the allowance is whole again."""
    local = now.astimezone(tz)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0, 0), tzinfo=tz)
    return midnight.astimezone(now.tzinfo)


def limit_reached(now: datetime, tz: ZoneInfo, per_day: int) -> ResourceExhausted:
    wait = max(1.0, (next_reset(now, tz) - now).total_seconds())
    return ResourceExhausted(
        f"at most {per_day} urgent messages a day; the allowance renews at midnight school time",
        retry_after_seconds=wait,
        reason="URGENT_LIMIT",
    )
