"""Writes shared by several use cases (chats, moderation, provisioning): grants, member counts,
chat settings with their ChatUpdated."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from parta_common.errors import ConcurrentChange

from chat.app.ports import ChatRepository, MemberRepository, MessageRepository
from chat.domain import events as ev
from chat.domain.access import regrant
from chat.domain.chats import Chat
from chat.domain.members import Grant, Member

ATTEMPTS = 20


async def set_grant(
    members: MemberRepository,
    chat_id: str,
    school_id: str,
    user_id: str,
    key: str,
    grant: Grant | None,
    by: str = "",
) -> bool:
    """Adds or removes one reason for membership (MemberAdded/Removed ride along when membership
    flips; a removal names `by`, who removed the member, when a person did). Returns True when the
    person became a member by this call."""
    for _attempt in range(ATTEMPTS):
        current = await members.find(chat_id, user_id) or Member(chat_id, user_id, school_id=school_id)
        changed, events = regrant(current, key, grant)
        events = [replace(e, by=by, school_id=school_id) if isinstance(e, ev.MemberRemoved) else e for e in events]
        if changed is current:
            return False
        if await members.save(replace(changed, school_id=school_id), current.rev, events):
            return changed.active and not current.active
    raise ConcurrentChange("membership changed concurrently; retry")


async def refresh_count(chats: ChatRepository, members: MemberRepository, chat_id: str) -> None:
    await chats.set_member_count(chat_id, await members.count(chat_id))


async def remove_everywhere(members: MemberRepository, user_id: str) -> list[str]:
    """Drops every grant the person holds in every chat; returns the chats they were in."""
    rows = await members.of_user(user_id)
    for member in rows:
        for key in list(member.keyed):
            await set_grant(members, member.chat_id, member.school_id, user_id, key, None)
    return [m.chat_id for m in rows]


async def change_chat(
    chats: ChatRepository,
    messages: MessageRepository,
    chat_id: str,
    change: Callable[[Chat], Chat],
    *,
    current: Chat | None = None,
    always: bool = False,
    by: str = "",
) -> Chat | None:
    """Applies `change` to the chat and writes it with its ChatUpdated in one write, under a new
    update_seq (so live streams order it among the messages). Re-reads and re-applies when the
    chat changed meanwhile. `current`: the chat as the caller read it (saves a read); `always`:
    write even when the settings stay the same (an explicit UpdateChat); `by`: who changed it (empty
    when no person did). None: no such chat."""
    for _attempt in range(ATTEMPTS):
        chat = current if current is not None else await chats.get(chat_id)
        current = None
        if chat is None:
            return None
        changed = change(chat)
        if not always and changed.settings == chat.settings:
            return chat
        changed = replace(changed, update_seq=await messages.next_seq(chat_id))
        if await chats.save(changed, chat.update_seq, [ev.ChatUpdated(changed, by)]):
            return changed
        await messages.burn_seq(chat_id, changed.update_seq)
    raise ConcurrentChange("the chat changed concurrently; retry")
