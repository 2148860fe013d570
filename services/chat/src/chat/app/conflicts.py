"""A group's forbidden pairs, recomputed with the rule book whenever its people or their seats change.

Sending reads the result from the chat document (`contact_conflicts`), so the send path pays
nothing for it; this runs when a group changes, when school's events change a member's seats, and when the
school's policy changes.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from parta_common import safety

from chat.app.access import ANY_PROFILE
from chat.app.ports import ChatRepository, MemberRepository, MessageRepository, Policies, SchoolFacts
from chat.app.writes import change_chat
from chat.domain.chats import Chat, ChatKind
from chat.domain.provisioning import person_of


async def refresh_conflicts(
    chats: ChatRepository,
    members: MemberRepository,
    messages: MessageRepository,
    facts: SchoolFacts,
    policies: Policies,
    chat_id: str,
) -> bool:
    """Returns True when the group's conflicts changed."""
    chat = await chats.get(chat_id)
    if chat is None or chat.kind is not ChatKind.GROUP:
        return False
    school_id = chat.school_id
    user_ids = await members.user_ids(chat_id)
    seats = await asyncio.gather(*(facts.memberships_of(school_id, u) for u in user_ids))
    people = [person_of(school_id, u, ms, ANY_PROFILE) for u, ms in zip(user_ids, seats, strict=True)]
    found = tuple(sorted(safety.conflicts(people, policies.get(school_id))))
    if found == chat.contact_conflicts:
        return False

    def change(c: Chat) -> Chat:
        return replace(c, contact_conflicts=found)

    await change_chat(chats, messages, chat_id, change, current=chat)
    return True
