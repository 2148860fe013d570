"""Chat use cases: list and open chats, groups and direct chats, settings, members, pins."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, replace

from parta_common import safety
from parta_common.clock import Clock
from parta_common.errors import Violations

from chat.app.access import Access
from chat.app.conflicts import refresh_conflicts
from chat.app.ports import ChatRepository, MemberRepository, MessageRepository, Notifier, Policies
from chat.app.writes import change_chat, refresh_count, set_grant
from chat.domain import access, rules
from chat.domain import events as ev
from chat.domain.chats import Chat, ChatKind, PostingPolicy, direct_chat_id
from chat.domain.members import Grant, Member

MAX_GROUP_MEMBERS = 500
MAX_SLOW_MODE_SECONDS = 3600


@dataclass
class ChatView:
    chat: Chat
    member: Member
    last_seq: int = 0
    unread: int = 0

    @property
    def peer_user_id(self) -> str:
        return self.chat.peer_of(self.member.user_id) if self.chat.kind is ChatKind.DIRECT else ""

    @property
    def can_post(self) -> bool:
        return access.can_post(self.chat, self.member)


def check_chat_id(chat_id: str, v: Violations | None = None) -> None:
    own = v is None
    v = v or Violations()
    rules.check_id(v, "chat_id", chat_id)
    if own:
        v.raise_if_any()


@dataclass
class Chats:
    chats: ChatRepository
    members: MemberRepository
    messages: MessageRepository
    access: Access
    clock: Clock
    notify: Notifier
    policies: Policies

    async def _view(self, chat: Chat, member: Member) -> ChatView:
        last = await self.messages.last_seq(chat.chat_id)
        unread = 0
        if last > member.last_read_seq:
            unread = await self.messages.count_unread(chat.chat_id, member.user_id, member.last_read_seq, cap=999)
        return ChatView(chat, member, last, unread)

    async def list_chats(self, user_id: str, school_id: str = "") -> list[ChatView]:
        v = Violations()
        rules.check_id(v, "school_id", school_id, required=False)
        v.raise_if_any()
        members = {m.chat_id: m for m in await self.members.of_user(user_id, school_id)}
        chats = await self.chats.get_many(list(members))
        # Chats provisioned from events may not exist yet (member seen before its class): skipped.
        views = await asyncio.gather(*(self._view(c, members[c.chat_id]) for c in chats))
        return sorted(views, key=lambda view: (-view.last_seq, view.chat.chat_id))

    async def get_chat(self, user_id: str, chat_id: str) -> ChatView:
        check_chat_id(chat_id)
        chat, member = await self.access.check(chat_id, user_id)
        return await self._view(chat, member)

    async def create_group_chat(
        self, user_id: str, request_id: str, school_id: str, title: str, subject: str, members: list[str]
    ) -> ChatView:
        v = Violations()
        rules.check_id(v, "request_id", request_id)
        rules.check_id(v, "school_id", school_id)
        rules.check_title(v, "title", title)
        if subject:
            rules.check_title(v, "subject", subject)
        if len(members) > MAX_GROUP_MEMBERS:
            v.add("member_user_ids", f"at most {MAX_GROUP_MEMBERS}")
        for i, m in enumerate(members):
            rules.check_id(v, f"member_user_ids[{i}]", m)
        v.raise_if_any()
        me = await self.access.person(school_id, user_id)
        safety.check_can_create_group(me)
        chat_id = "grp-" + hashlib.sha256(f"{school_id}\x1f{user_id}\x1f{request_id}".encode()).hexdigest()[:32]
        existing = await self.chats.get(chat_id)
        if existing is None:
            wanted = sorted(set(members) - {user_id})
            await self.access.ensure_school_members(school_id, wanted, "member_user_ids")
            # Every pair, creator included: an adult shares a group with a child only where the
            # adult could DM that child.
            safety.check_together(
                me, await self.access.people(school_id, wanted), safety.Contact.GROUP, self.policies.get(school_id)
            )
            chat = Chat(chat_id, school_id, ChatKind.GROUP, title.strip(), subject=subject.strip(), created_by=user_id)
            await self.chats.add(chat, [ev.ChatCreated(chat)])
            await set_grant(self.members, chat_id, school_id, user_id, "creator", Grant.CREATOR)
            for other in wanted:
                await set_grant(self.members, chat_id, school_id, other, "added", Grant.ADDED)
            await refresh_count(self.chats, self.members, chat_id)
            self.notify()
        return await self.get_chat(user_id, chat_id)

    async def open_direct_chat(self, user_id: str, school_id: str, peer: str) -> ChatView:
        v = Violations()
        rules.check_id(v, "school_id", school_id)
        rules.check_id(v, "user_id", peer)
        if peer == user_id:
            v.add("user_id", "must be someone else")
        v.raise_if_any()
        me, them = await asyncio.gather(self.access.person(school_id, user_id), self.access.person(school_id, peer))
        safety.check_contact(me, them, safety.Contact.DM, self.policies.get(school_id))
        chat_id = direct_chat_id(school_id, user_id, peer)
        if await self.chats.get(chat_id) is None:
            pair = tuple(sorted((user_id, peer)))
            chat = Chat(chat_id, school_id, ChatKind.DIRECT, "", members=pair, member_count=2)
            await self.chats.add(chat, [ev.ChatCreated(chat)])
        # Also after one of them left the school and came back (leaving drops their DM grants).
        granted = [
            await set_grant(self.members, chat_id, school_id, u, "direct", Grant.MEMBER) for u in (user_id, peer)
        ]
        if any(granted):
            await refresh_count(self.chats, self.members, chat_id)
            self.notify()
        return await self.get_chat(user_id, chat_id)

    async def update_chat(
        self,
        user_id: str,
        chat_id: str,
        title: str | None,
        posting_policy: PostingPolicy | None,
        slow_mode_seconds: int | None,
    ) -> ChatView:
        v = Violations()
        check_chat_id(chat_id, v)
        if title is not None:
            rules.check_title(v, "title", title)
        if slow_mode_seconds is not None and not 0 <= slow_mode_seconds <= MAX_SLOW_MODE_SECONDS:
            v.add("slow_mode_seconds", f"must be within 0..{MAX_SLOW_MODE_SECONDS}")
        v.raise_if_any()
        chat, member = await self.access.check(chat_id, user_id)
        rules.ensure_moderator(member)
        access.ensure_has_settings(chat)

        def change(c: Chat) -> Chat:
            return replace(
                c,
                title=title.strip() if title is not None else c.title,
                posting_policy=posting_policy if posting_policy is not None else c.posting_policy,
                slow_mode_seconds=slow_mode_seconds if slow_mode_seconds is not None else c.slow_mode_seconds,
            )

        if title is not None or posting_policy is not None or slow_mode_seconds is not None:
            # The change and its ChatUpdated are one write.
            await change_chat(self.chats, self.messages, chat_id, change, current=chat, always=True, by=user_id)
            self.notify()
        return await self.get_chat(user_id, chat_id)

    async def add_members(self, user_id: str, chat_id: str, user_ids: list[str]) -> ChatView:
        v = Violations()
        check_chat_id(chat_id, v)
        if not user_ids or len(user_ids) > MAX_GROUP_MEMBERS:
            v.add("user_ids", f"1..{MAX_GROUP_MEMBERS} user ids")
        for i, u in enumerate(user_ids):
            rules.check_id(v, f"user_ids[{i}]", u)
        v.raise_if_any()
        chat, member = await self.access.check(chat_id, user_id)
        access.ensure_group(chat)
        rules.ensure_moderator(member)
        await self.access.ensure_school_members(chat.school_id, list(user_ids), "member_user_ids")
        present = await self.members.user_ids(chat_id)
        everyone = sorted((set(present) | set(user_ids)) - {user_id})
        me = await self.access.person(chat.school_id, user_id)
        people = await self.access.people(chat.school_id, everyone)
        safety.check_together(me, people, safety.Contact.GROUP, self.policies.get(chat.school_id))
        for other in user_ids:
            await set_grant(self.members, chat_id, chat.school_id, other, "added", Grant.ADDED)
        await refresh_count(self.chats, self.members, chat_id)
        self.notify()
        return await self.get_chat(user_id, chat_id)

    async def remove_member(self, user_id: str, chat_id: str, target: str) -> None:
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_id(v, "user_id", target)
        v.raise_if_any()
        chat, member = await self.access.check(chat_id, user_id)
        access.ensure_group(chat)
        if target != user_id:
            rules.ensure_moderator(member)
        await set_grant(self.members, chat_id, chat.school_id, target, "added", None, by=user_id)
        await set_grant(self.members, chat_id, chat.school_id, target, "creator", None, by=user_id)
        await refresh_count(self.chats, self.members, chat_id)
        await refresh_conflicts(self.chats, self.members, self.messages, self.access.facts, self.policies, chat_id)
        self.notify()

    async def pin(self, user_id: str, chat_id: str, seq: int, pinned: bool) -> Chat:
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        v.raise_if_any()
        chat, member = await self.access.check(chat_id, user_id)
        if chat.kind is not ChatKind.DIRECT:
            rules.ensure_moderator(member)
        rules.ensure_visible(await self.messages.get_by_seq(chat_id, seq), user_id, self.clock.now())

        def change(c: Chat) -> Chat:
            pins = [s for s in c.pinned_seqs if s != seq]
            return replace(c, pinned_seqs=[*pins, seq][-20:] if pinned else pins)

        updated = await change_chat(self.chats, self.messages, chat_id, change, current=chat, by=user_id)
        if updated is None:
            return chat
        if updated is not chat:
            self.notify()
        return updated
