"""Guardian links: a guardian's link to a child, its state, how it was confirmed, and how many a child
keeps (pure Python). The links live on the child's User (domain/users.py), so a link, the child's
consent and their events change in one single-document write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MAX_GUARDIANS = 6  # confirmed links; pending requests never take a slot
# Pending requests kept per child, newest first; older ones fall off (they also expire). Requests
# by phone are rate-limited per child, so strangers cannot crowd out a parent for long, and a
# parent with a link code or a school binding never needs a pending request at all.
MAX_PENDING_LINKS = 20


class LinkState(StrEnum):
    PENDING = "pending"  # waiting for the child's confirmation
    LINKED = "linked"


class LinkConfirmation(StrEnum):
    NONE = ""
    CHILD = "child"
    LINK_CODE = "link_code"
    SCHOOL = "school"


@dataclass
class GuardianLink:
    guardian_id: str
    state: LinkState
    consent_granted: bool
    confirmed_by: LinkConfirmation
    created_at: datetime
    # A pending request lapses at this instant unless the child (or the school) confirms it.
    expires_at: datetime | None = None

    def lapsed(self, now: datetime, ttl: timedelta) -> bool:
        if self.state is not LinkState.PENDING:
            return False
        return now >= (self.expires_at or self.created_at + ttl)
