"""A group's forbidden pairs, recomputed with the rule book whenever its people or their seats change.

Sending reads the result from the chat document (`contact_conflicts`), so the send path pays
nothing for it; this runs when a group changes, when school's events change a member's seats, and when the
school's policy changes.
"""

from __future__ import annotations

import asyncio

from parta_common import safety

from chat.app.ports import ChatStore, Policies
from chat.domain.model import ChatKind, Profile, person_of

_SEATS_ONLY = Profile("", "")  # pairs depend on seats, not on profiles


async def refresh_conflicts(store: ChatStore, policies: Policies, chat_id: str) -> bool:
    """Returns True when the group's conflicts changed."""
    chat = await store.get_chat(chat_id)
    if chat is None or chat.kind is not ChatKind.GROUP:
        return False
    school_id = chat.school_id
    user_ids = await store.member_ids(chat_id)
    seats = await asyncio.gather(*(store.memberships_of(school_id, u) for u in user_ids))
    people = [person_of(school_id, u, ms, _SEATS_ONLY) for u, ms in zip(user_ids, seats, strict=True)]
    found = tuple(sorted(safety.conflicts(people, policies.get(school_id))))
    if found == chat.contact_conflicts:
        return False
    await store.update_chat(chat_id, {"contact_conflicts": list(found)}, bump=True)
    return True
