"""Chats: their kinds, ids and settings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import IntEnum


class ChatKind(IntEnum):
    # Values match parta.chat.v1.ChatKind so mappers stay trivial.
    SCHOOL_CHANNEL = 1
    STAFF_CHANNEL = 2
    CLASS = 3
    CLASS_PARENTS = 4
    GROUP = 5
    DIRECT = 6


class PostingPolicy(IntEnum):
    EVERYONE = 1
    ADMINS_ONLY = 2


def school_channel_id(school_id: str) -> str:
    return f"sch-{school_id}"


def staff_channel_id(school_id: str) -> str:
    return f"stf-{school_id}"


def class_chat_id(class_id: str) -> str:
    return f"cls-{class_id}"


def parents_chat_id(class_id: str) -> str:
    return f"par-{class_id}"


def direct_chat_id(school_id: str, a: str, b: str) -> str:
    low, high = sorted((a, b))
    digest = hashlib.sha256(f"{school_id}\x1f{low}\x1f{high}".encode()).hexdigest()[:32]
    return f"dm-{digest}"


@dataclass
class Chat:
    chat_id: str
    school_id: str
    kind: ChatKind
    title: str
    class_id: str = ""
    subject: str = ""
    posting_policy: PostingPolicy = PostingPolicy.EVERYONE
    slow_mode_seconds: int = 0
    read_only: bool = False
    pinned_seqs: list[int] = field(default_factory=list)
    member_count: int = 0
    update_seq: int = 0
    # Groups: who made it. Direct chats have no creator (see `members`).
    created_by: str = ""
    # Provisioned chats: the school/class aggregate version they follow.
    version: int = 0
    # Groups only: members in a pair the rule book no longer allows (a seat or verification
    # changed since they were put together). Non-empty = nobody writes until a moderator fixes it.
    contact_conflicts: tuple[str, ...] = ()
    # Direct chats only: the two people, sorted.
    members: tuple[str, ...] = ()

    def peer_of(self, user_id: str) -> str:
        """A direct chat's other person ("" in other chats)."""
        return next((u for u in self.members if u != user_id), "")

    @property
    def settings(self) -> tuple[object, ...]:
        """What a ChatUpdated event reports a change of (member_count is a counter, not a setting)."""
        return (
            self.title,
            self.class_id,
            self.subject,
            self.posting_policy,
            self.slow_mode_seconds,
            self.read_only,
            tuple(self.pinned_seqs),
            self.contact_conflicts,
        )
