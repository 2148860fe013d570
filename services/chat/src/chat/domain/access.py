"""Who may do what in a chat, decided from what the use case has read: the chat, my member row."""

from __future__ import annotations

from dataclasses import replace

from parta_common.errors import PermissionDenied

from chat.domain import events as ev
from chat.domain import rules
from chat.domain.chats import Chat, ChatKind, PostingPolicy
from chat.domain.members import Grant, Member


def ensure_member(chat: Chat | None, member: Member | None) -> tuple[Chat, Member]:
    """PERMISSION_DENIED whether the chat exists or not, so chat ids of other schools cannot be probed."""
    if chat is None or member is None or not member.active:
        raise PermissionDenied("not a member of this chat", reason="NOT_A_MEMBER")
    return chat, member


def may_ask_school_moderation(chat: Chat, member: Member) -> bool:
    """School admins moderate every chat of their school they are in (e.g. class chats); a
    moderator of the chat or a direct chat needs no look-up of the school's seats."""
    return not member.is_moderator and chat.kind is not ChatKind.DIRECT


def send_depends_on_moderation(chat: Chat, member: Member) -> bool:
    """Whether a send's rules look at moderation at all (the common send skips the seat look-up)."""
    return (
        chat.kind is ChatKind.SCHOOL_CHANNEL
        or chat.posting_policy is PostingPolicy.ADMINS_ONLY
        or chat.slow_mode_seconds > 0
        or member.muted_until is not None
    )


def as_school_admin(member: Member) -> Member:
    return replace(member, grants=member.grants | {Grant.ADMIN})


def can_post(chat: Chat, member: Member) -> bool:
    """What a chat view shows as `can_post` (the send path decides with rules.ensure_can_post)."""
    if chat.read_only or (chat.kind is ChatKind.GROUP and chat.contact_conflicts):
        return False
    if chat.kind is ChatKind.STAFF_CHANNEL and not member.grants & {Grant.ADMIN, Grant.STAFF}:
        return False
    return rules.can_post(chat, member)


def ensure_group(chat: Chat) -> None:
    if chat.kind is not ChatKind.GROUP:
        raise PermissionDenied("members of provisioned chats follow school memberships", reason="PROVISIONED_CHAT")


def ensure_has_settings(chat: Chat) -> None:
    if chat.kind is ChatKind.DIRECT:
        raise PermissionDenied("direct chats have no settings", reason="DIRECT_CHAT")


def regrant(member: Member, key: str, grant: Grant | None) -> tuple[Member, list[ev.ChatEvent]]:
    """One reason for membership added (grant) or removed (None); MemberAdded/MemberRemoved when
    membership flips. Returns the member unchanged (same object) when nothing changes."""
    keyed = {k: g for k, g in member.keyed.items() if k != key}
    if grant is not None:
        keyed[key] = grant
    if keyed == member.keyed:
        return member, []
    changed = replace(member, keyed=keyed, grants=set(keyed.values()))
    events: list[ev.ChatEvent] = []
    if changed.active and not member.active:
        events.append(ev.MemberAdded(member.chat_id, member.user_id))
    elif member.active and not changed.active:
        events.append(ev.MemberRemoved(member.chat_id, member.user_id))
    return changed, events
