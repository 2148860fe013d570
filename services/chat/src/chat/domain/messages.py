"""Messages, their reactions and quiet-hours holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from chat.domain.system_notes import SystemNote


@dataclass
class Reaction:
    emoji: str
    user_ids: list[str]


@dataclass
class Message:
    chat_id: str
    message_id: str
    seq: int
    update_seq: int
    school_id: str
    sender_user_id: str
    text: str
    sent_at: datetime
    client_message_id: str = ""
    reply_to_seq: int = 0
    file_ids: list[str] = field(default_factory=list)
    edited_at: datetime | None = None
    deleted: bool = False
    system: bool = False
    urgent: bool = False
    held_until: datetime | None = None
    held_for: list[str] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    system_note: SystemNote | None = None  # what a system message says (system_notes.py)
    removed_file_ids: list[str] = field(default_factory=list)  # attachments removed after sending (files.py)
    urgent_reason: str = ""  # a parent's urgent message: why it could not wait
    author_erased: bool = False  # the author's account was erased: an empty placeholder (erasure.py)

    def held_from(self, user_id: str, now: datetime) -> bool:
        return held_from(self.held_until, self.held_for, user_id, now)


def held_from(held_until: datetime | None, held_for: Sequence[str], user_id: str, now: datetime) -> bool:
    """Quiet hours: a message held for `user_id` until `held_until` is not theirs to see yet."""
    return held_until is not None and now < held_until and user_id in held_for
