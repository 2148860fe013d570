"""Files uploaded to chats: what a stored file is, where it was sent, its kind, and the quota rules."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum

from parta_common.errors import PermissionDenied

from chat.domain.members import Member
from chat.domain.messages import Message

MEDIA_PREFIXES = ("image/", "video/", "audio/")


class FileKind(IntEnum):
    UNSPECIFIED = 0
    MEDIA = 1
    DOCUMENT = 2


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    owner_user_id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256_hex: str
    uploaded_at: datetime
    chat_ids: tuple[str, ...] = ()
    # (chat_id, seq) of every message the file was sent with: what deleting it has to reach.
    refs: tuple[tuple[str, int], ...] = ()


def kind_of(content_type: str) -> FileKind:
    return FileKind.MEDIA if content_type.startswith(MEDIA_PREFIXES) else FileKind.DOCUMENT


def without_attachment(message: Message, file_id: str) -> Message | None:
    """The message with `file_id` moved from its attachments to its removed ones; None when it does
    not carry it (removed already, or never)."""
    if file_id not in message.file_ids:
        return None
    return replace(
        message,
        file_ids=[f for f in message.file_ids if f != file_id],
        removed_file_ids=[*message.removed_file_ids, file_id],
    )


@dataclass(frozen=True)
class QuotaBounds:
    """The operator's limits (chat settings): the quota a school may give each person lies within
    [minimum, maximum]; `default` applies where no school of the person set one."""

    default: int
    minimum: int
    maximum: int
    max_file_bytes: int


def quota_problem(value: int, bounds: QuotaBounds) -> str | None:
    if value == 0:
        return None  # back to the operator's default
    if not bounds.minimum <= value <= bounds.maximum:
        return f"must be 0 (the default) or within {bounds.minimum}..{bounds.maximum} bytes"
    return None


def effective_quota(school_quotas: list[int], bounds: QuotaBounds) -> int:
    """Storage is personal, not per school: a person in several schools gets the most generous quota
    any of them gives (never beyond the operator's maximum), else the default."""
    return min(max(school_quotas), bounds.maximum) if school_quotas else bounds.default


def ensure_can_remove_attachment(message: Message, member: Member) -> None:
    """The message's author (any time: taking a file back is always allowed) or a moderator."""
    if member.is_moderator:
        return
    if message.system or message.sender_user_id != member.user_id:
        raise PermissionDenied("only the author or a moderator removes an attachment", reason="NOT_AUTHOR")
