"""The reads every chat use case starts with: my chat and member row, and the seats the rule book
needs (school admins moderate, pairs of people). The rules themselves are domain/access.py's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from parta_common import safety
from parta_common.errors import Violations

from chat.app.ports import MemberRepository, SchoolFacts
from chat.domain.access import as_school_admin, ensure_member, may_ask_school_moderation
from chat.domain.announcements import ensure_may_post
from chat.domain.chats import Chat
from chat.domain.members import Member
from chat.domain.provisioning import Membership, Profile, person_of

# For rules about someone's seats only (their profile is not the question there).
ANY_PROFILE = Profile("", "")


@dataclass
class Access:
    members: MemberRepository
    facts: SchoolFacts

    async def check(self, chat_id: str, user_id: str, *, moderation: bool = True) -> tuple[Chat, Member]:
        """The chat and my membership in one store command. `moderation=False` skips the
        school-admin look-up on paths whose rules do not depend on it."""
        chat, member, _profile = await self.members.access(chat_id, user_id)
        chat, member = ensure_member(chat, member)
        return chat, await self.with_school_moderation(chat, member) if moderation else member

    async def with_school_moderation(
        self, chat: Chat, member: Member, memberships: list[Membership] | None = None
    ) -> Member:
        """`memberships`: the member's seats when the caller has read them already."""
        if not may_ask_school_moderation(chat, member):
            return member
        if memberships is None:
            memberships = await self.facts.memberships_of(chat.school_id, member.user_id)
        if person_of(chat.school_id, member.user_id, memberships, ANY_PROFILE).is_admin:
            return as_school_admin(member)
        return member

    async def announcer(self, chat_id: str, user_id: str, ensure_chat: Callable[[Chat], None]) -> tuple[Chat, Member]:
        """The chat and my member row when I may post an announcement or a poll there: a chat of
        the kind (`ensure_chat`) and my seats (domain/announcements.py ensure_may_post)."""
        chat, member = await self.check(chat_id, user_id, moderation=False)
        ensure_chat(chat)
        ensure_may_post(chat, member, await self.person(chat.school_id, user_id, with_profile=False))
        return chat, member

    async def person(self, school_id: str, user_id: str, *, with_profile: bool = True) -> safety.Person:
        """The rule book's view of one person, from chat's projections (memberships, profile).
        `with_profile=False` when only seats matter (has_profile then reads True)."""
        if not with_profile:
            return person_of(school_id, user_id, await self.facts.memberships_of(school_id, user_id), ANY_PROFILE)
        memberships, profile = await asyncio.gather(
            self.facts.memberships_of(school_id, user_id), self.facts.profile(user_id)
        )
        return person_of(school_id, user_id, memberships, profile)

    async def people(self, school_id: str, user_ids: list[str]) -> list[safety.Person]:
        """The people someone puts together with them: their seats decide the pairs."""
        return list(await asyncio.gather(*(self.person(school_id, u, with_profile=False) for u in user_ids)))

    async def ensure_school_members(self, school_id: str, user_ids: list[str], field: str) -> None:
        results = await asyncio.gather(*(self.facts.memberships_of(school_id, u) for u in user_ids))
        v = Violations()
        for i, (uid, ms) in enumerate(zip(user_ids, results, strict=True)):
            if not any(m.active for m in ms):
                v.add(f"{field}[{i}]", f"{uid} is not a member of this school")
        v.raise_if_any()
