"""Pure rules: text limits, edit window, quiet hours, who may post, moderate, and start a DM."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from functools import partial
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parta_common import safety, validation
from parta_common.errors import FailedPrecondition, NotFound, PermissionDenied, Violations
from parta_common.integers import MAX_CURSOR, check_int

from chat.domain.chats import Chat, ChatKind, PostingPolicy
from chat.domain.members import Grant, Member
from chat.domain.messages import Message
from chat.domain.provisioning import Membership, SchoolRole

MAX_TITLE_CHARS = 120
MAX_EMOJI_CHARS = 16
MAX_ID_CHARS = 128
MAX_FILES_PER_MESSAGE = 10
MAX_REPORT_CHARS = 1000

T = TypeVar("T")


# chat's ids (chats, messages, files, a client's message and request ids): the kit's id rule widened
# to up to 128 printable characters without spaces, as clients have always sent them.
check_id = partial(validation.check_id, max_len=MAX_ID_CHARS, printable=True)


def check_title(v: Violations, name: str, title: str) -> None:
    if not title.strip():
        v.add(name, "must not be empty")
    elif len(title) > MAX_TITLE_CHARS:
        v.add(name, f"at most {MAX_TITLE_CHARS} characters")
    elif validation.has_control_chars(title, prose=True):
        v.add(name, "must not contain control characters")


def check_seq(v: Violations, name: str, seq: int, *, required: bool = True) -> None:
    if check_int(v, name, seq, maximum=MAX_CURSOR) and required and seq == 0:
        v.add(name, "must be a message sequence number (> 0)")


def check_at_seq(chat_id: str, seq: int) -> None:
    """The address of what a message carries (an announcement, a poll): its chat and its seq."""
    v = Violations()
    check_id(v, "chat_id", chat_id)
    check_seq(v, "seq", seq)
    v.raise_if_any()


def ensure_at_seq(found: T | None, noun: str, reason: str) -> T:
    """What a message carries, found at its seq, or NOT_FOUND naming it ("no poll at this seq in
    this chat", `reason` POLL_NOT_FOUND)."""
    if found is None:
        raise NotFound(f"no {noun} at this seq in this chat", reason=reason)
    return found


def check_emoji(v: Violations, name: str, emoji: str) -> None:
    if not emoji or len(emoji) > MAX_EMOJI_CHARS or validation.has_control_chars(emoji, prose=True):
        v.add(name, f"must be 1..{MAX_EMOJI_CHARS} characters without control characters")
    elif any(ch.isspace() or ch.isalnum() for ch in emoji):
        v.add(name, "must be an emoji")


# ---- posting and moderation --------------------------------------------------------------------


def ensure_can_post(
    chat: Chat, member: Member, now: datetime, *, awaiting_guardian: bool, has_profile: bool = True
) -> None:
    """Everything decided from the chat, my member row and my profile — what the send path has
    already read. The rule book decided the rest ahead of time: the staff-channel grant records
    verification, a group's `contact_conflicts` records pairs no longer allowed."""
    safety.check_archived(chat.read_only)
    refusal = safety.identity_refusal(member.user_id, has_profile=has_profile, awaiting_guardian=awaiting_guardian)
    if refusal is not None:
        raise refusal
    if chat.kind is ChatKind.STAFF_CHANNEL and not member.grants & {Grant.ADMIN, Grant.STAFF}:
        raise safety.staff_not_verified()
    if chat.kind is ChatKind.GROUP and chat.contact_conflicts:
        raise safety.group_conflict(chat.contact_conflicts)
    if not can_post(chat, member):
        raise PermissionDenied("only admins post in this chat", reason="POSTING_NOT_ALLOWED")
    if member.muted_until is not None and now < member.muted_until and not member.is_moderator:
        raise PermissionDenied("you are muted in this chat", reason="MEMBER_MUTED")


def can_post(chat: Chat, member: Member) -> bool:
    if member.is_moderator:
        return True
    if chat.kind is ChatKind.SCHOOL_CHANNEL:
        return False  # admins post, everyone reads
    return chat.posting_policy is not PostingPolicy.ADMINS_ONLY


def slow_mode_wait(chat: Chat, member: Member, now: datetime) -> float:
    """Seconds the member still has to wait before the next message (0 = may send)."""
    if chat.slow_mode_seconds <= 0 or member.is_moderator or member.last_sent_at is None:
        return 0.0
    wait = chat.slow_mode_seconds - (now - member.last_sent_at).total_seconds()
    return max(0.0, wait)


def ensure_can_edit(message: Message, user_id: str, now: datetime, window: timedelta) -> None:
    if message.deleted:
        raise FailedPrecondition("the message was deleted", reason="MESSAGE_DELETED")
    if message.system or message.sender_user_id != user_id:
        raise PermissionDenied("only the author edits a message", reason="NOT_AUTHOR")
    if now - message.sent_at > window:
        raise FailedPrecondition("the edit window has passed", reason="EDIT_WINDOW_PASSED")


def ensure_can_delete(message: Message, member: Member, now: datetime, window: timedelta) -> None:
    if member.is_moderator:
        return
    if message.system or message.sender_user_id != member.user_id:
        raise PermissionDenied("only the author or a moderator deletes a message", reason="NOT_AUTHOR")
    if now - message.sent_at > window:
        raise FailedPrecondition("the delete window has passed", reason="EDIT_WINDOW_PASSED")


def ensure_found(message: Message | None) -> Message:
    if message is None:
        raise NotFound("no such message", reason="MESSAGE_NOT_FOUND")
    return message


def ensure_visible(message: Message | None, user_id: str, now: datetime) -> Message:
    """A message held by quiet hours is not there yet for the person it is held from."""
    if message is None or message.held_from(user_id, now):
        raise NotFound("no such message", reason="MESSAGE_NOT_FOUND")
    return message


def ensure_moderator(member: Member) -> None:
    if not member.is_moderator:
        raise PermissionDenied("moderators only", reason="NOT_MODERATOR")


# ---- direct messages ---------------------------------------------------------------------------
# Who may DM whom is the rule book's (parta_common.safety); chat only adds quiet hours.


def _roles(ms: Iterable[Membership]) -> set[SchoolRole]:
    return {m.school_role for m in ms if m.active}


def is_parent_to_teacher(sender: list[Membership], recipient: list[Membership]) -> bool:
    """Quiet hours apply to parents writing to teachers (not to staff writing to each other)."""
    s, r = _roles(sender), _roles(recipient)
    return (
        SchoolRole.PARENT in s
        and not (s & {SchoolRole.ADMIN, SchoolRole.TEACHER})
        and bool(r & {SchoolRole.TEACHER, SchoolRole.ADMIN})
    )


# ---- quiet hours -------------------------------------------------------------------------------


def zone(name: str, fallback: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or fallback)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(fallback)


def quiet_hours_release(now: datetime, tz: ZoneInfo, start_minute: int, end_minute: int) -> datetime | None:
    """None inside working hours; otherwise the instant working hours next begin (in now's zone).

    The school publishes one daily window (minutes after local midnight); weekends are not in the
    contract, so every day has the same window. An empty or inverted window means no quiet hours.
    """
    if not (0 <= start_minute < end_minute <= 24 * 60):
        return None
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    if start_minute <= minute < end_minute:
        return None
    day = local.date() + timedelta(days=1) if minute >= end_minute else local.date()
    opening = datetime.combine(day, time(start_minute // 60, start_minute % 60), tzinfo=tz)
    return opening.astimezone(now.tzinfo)
