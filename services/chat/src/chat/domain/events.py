"""Chat's domain events (past tense); adapters turn them into parta.chat.v1 envelopes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chat.domain.announcements import Confirmation
from chat.domain.chats import Chat
from chat.domain.messages import Message
from chat.domain.moderation import Report
from chat.domain.sealing import Seal


@dataclass(frozen=True)
class ChatCreated:
    chat: Chat


@dataclass(frozen=True)
class ChatUpdated:
    chat: Chat
    by: str = ""  # who changed the settings; empty when no person did (provisioning)


@dataclass(frozen=True)
class MessagePosted:
    message: Message


@dataclass(frozen=True)
class MessageEdited:
    message: Message


@dataclass(frozen=True)
class MessageDeleted:
    message: Message
    deleted_by: str
    # The seal of the deleted text and file ids (domain/sealing.py); None without a sealing key.
    seal: Seal | None = None


@dataclass(frozen=True)
class MessageChanged:
    """Reactions changed, or a message held by quiet hours was released."""

    message: Message


@dataclass(frozen=True)
class ReadUpdated:
    chat_id: str
    user_id: str
    last_read_seq: int


@dataclass(frozen=True)
class MemberAdded:
    chat_id: str
    user_id: str


@dataclass(frozen=True)
class MemberRemoved:
    chat_id: str
    user_id: str
    by: str = ""  # who removed the member; empty when no person did here (school's events)
    school_id: str = ""


@dataclass(frozen=True)
class MemberMuted:
    """A chat moderator muted (until set) or unmuted (until None) a member."""

    chat_id: str
    school_id: str
    user_id: str
    by: str
    until: datetime | None
    at: datetime


@dataclass(frozen=True)
class MessageReported:
    """A member reported a message (the reason stays in chat's queue)."""

    report: Report


@dataclass(frozen=True)
class ReportDecided:
    """A moderator decided on a report (the report's last decision)."""

    report: Report


@dataclass(frozen=True)
class AnnouncementConfirmed:
    """A family confirmed an announcement: live to its author (count = the counter after it)."""

    chat_id: str
    seq: int
    author_user_id: str
    confirmation: Confirmation
    confirmed_count: int
    family_count: int


@dataclass(frozen=True)
class PollVoted:
    """Someone voted in a poll: live to its author (names no voter, carries no counts)."""

    chat_id: str
    seq: int
    poll_id: str
    author_user_id: str
    at: datetime


ChatEvent = (
    ChatCreated
    | ChatUpdated
    | MessagePosted
    | MessageEdited
    | MessageDeleted
    | MessageChanged
    | ReadUpdated
    | MemberAdded
    | MemberRemoved
    | ReportDecided
    | AnnouncementConfirmed
    | MemberMuted
    | MessageReported
    | PollVoted
)
