"""Members of a chat: why they belong (grants), their read state, mute and slow-mode clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Grant(StrEnum):
    """Why someone is a member of a chat; a member may hold several grants."""

    ADMIN = "admin"
    STAFF = "staff"
    # A teacher an admin has not verified yet: reads the staff channel, does not post there.
    STAFF_UNVERIFIED = "staff_unverified"
    MEMBER = "member"
    CLASS_HEAD = "class_head"
    TEACHER = "teacher"
    STUDENT = "student"
    PARENT = "parent"
    CREATOR = "creator"
    ADDED = "added"


# Grants that make a member a moderator of the chat (delete any message, mute, settings).
MODERATOR_GRANTS = frozenset({Grant.ADMIN, Grant.CLASS_HEAD, Grant.CREATOR})


@dataclass
class Member:
    chat_id: str
    user_id: str
    grants: set[Grant] = field(default_factory=set)
    last_read_seq: int = 0
    muted_until: datetime | None = None
    last_sent_at: datetime | None = None
    # Each reason for membership by its key (a membership id, "direct", "added", "creator"):
    # `grants` is their set of values. `rev` counts changes of the keys (compare-and-set).
    keyed: dict[str, Grant] = field(default_factory=dict)
    rev: int = 0
    school_id: str = ""

    @property
    def active(self) -> bool:
        return bool(self.grants)

    @property
    def is_moderator(self) -> bool:
        return bool(self.grants & MODERATOR_GRANTS)
