"""Retention of ended academic years: one rule for school (which validates and publishes a school's
setting) and chat (which applies it). docs/school.md and docs/chat.md, "Retention".

A chat's clock starts at the rollover that ended its class's year (`retained_from`). `keep_days`
later the chat is archived (read-only, hidden from its members, its history kept as a JSON file for
the school's admins); `archive_grace_days` after the archive it is purged with its files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from parta_common.errors import Violations

DEFAULT_KEEP_DAYS = 365  # "one year after graduation"
DEFAULT_GRACE_DAYS = 30
# An admin cannot make a year's chats vanish the month it ends, nor keep them beyond ten years.
KEEP_DAYS = (30, 3650)
# Long enough for an admin to notice the archive and download it.
GRACE_DAYS = (7, 365)


@dataclass(frozen=True)
class RetentionRule:
    keep_days: int = DEFAULT_KEEP_DAYS
    archive_grace_days: int = DEFAULT_GRACE_DAYS

    def archive_at(self, retained_from: datetime) -> datetime:
        return retained_from + timedelta(days=self.keep_days)

    def purge_at(self, archived_at: datetime) -> datetime:
        """From the archive, not from the clock: admins get the whole grace even after a late archive."""
        return archived_at + timedelta(days=self.archive_grace_days)


DEFAULT_RETENTION = RetentionRule()


def check_retention(v: Violations, prefix: str, keep_days: int, archive_grace_days: int) -> RetentionRule:
    """An admin's setting: 0 means the default; anything else within the bounds (a field violation
    per value otherwise). Returns the rule (meaningful only when `v` stays empty)."""
    keep = keep_days or DEFAULT_KEEP_DAYS
    grace = archive_grace_days or DEFAULT_GRACE_DAYS
    for name, value, (low, high) in (("keep_days", keep, KEEP_DAYS), ("archive_grace_days", grace, GRACE_DAYS)):
        if not low <= value <= high:
            v.add(f"{prefix}{name}", f"must be 0 (the default) or {low}..{high} days")
    return RetentionRule(keep, grace)


def retention_of(keep_days: int, archive_grace_days: int) -> RetentionRule:
    """What a consumer reads from a snapshot: zeros (an older producer) are the defaults, and a value
    out of bounds is held to them (the producer validated it; a consumer never purges earlier)."""
    keep = min(max(keep_days or DEFAULT_KEEP_DAYS, KEEP_DAYS[0]), KEEP_DAYS[1])
    grace = min(max(archive_grace_days or DEFAULT_GRACE_DAYS, GRACE_DAYS[0]), GRACE_DAYS[1])
    return RetentionRule(keep, grace)
