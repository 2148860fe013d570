"""Chat use cases: chats, direct messages, messages, read state, moderation."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from parta_common import safety
from parta_common.clock import Clock
from parta_common.errors import (
    Aborted,
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Violations,
)

from chat.app.conflicts import refresh_conflicts
from chat.app.ports import ChatStore, DuplicateMessage, Notifier, Policies
from chat.domain import events as ev
from chat.domain import rules
from chat.domain.model import (
    Chat,
    ChatKind,
    Grant,
    Member,
    Message,
    PostingPolicy,
    Profile,
    Reaction,
    direct_chat_id,
    person_of,
)

_NS = uuid.UUID("0b8f3c2e-8f1d-4c51-9d7e-2a6c1d1f5e77")

MAX_GROUP_MEMBERS = 500
# For rules about someone else's seats only (their profile is not the question there).
_ANY_PROFILE = Profile("", "")
MAX_SLOW_MODE_SECONDS = 3600


def message_id_for(sender: str, client_message_id: str) -> str:
    # Same as parta_common.mongo.idempotent_id("send", ...) but without importing the driver layer.
    return str(uuid.uuid5(_NS, f"send\x1f{sender}\x1f{client_message_id}"))


@dataclass(frozen=True)
class ChatPolicy:
    max_text_chars: int = 4096
    edit_window: timedelta = timedelta(hours=48)
    default_timezone: str = "Europe/Moscow"


@dataclass
class ChatView:
    chat: Chat
    member: Member
    last_seq: int = 0
    unread: int = 0
    peer_user_id: str = ""

    @property
    def can_post(self) -> bool:
        if self.chat.read_only or (self.chat.kind is ChatKind.GROUP and self.chat.contact_conflicts):
            return False
        if self.chat.kind is ChatKind.STAFF_CHANNEL and not self.member.grants & {Grant.ADMIN, Grant.STAFF}:
            return False
        return rules.can_post(self.chat, self.member)


@dataclass
class SendResult:
    message: Message
    deliver_at: datetime | None = None


@dataclass
class Chats:
    store: ChatStore
    clock: Clock
    notify: Notifier
    policy: ChatPolicy = field(default_factory=ChatPolicy)
    # Each school's communication switches, in memory (no store read for them on any path).
    policies: Policies = field(default_factory=safety.PolicyBook)

    # ---- access ---------------------------------------------------------------------------------

    async def _access(self, chat_id: str, user_id: str, *, moderation: bool = True) -> tuple[Chat, Member]:
        """The chat and my membership; PERMISSION_DENIED whether the chat exists or not, so chat
        ids of other schools cannot be probed. `moderation=False` skips the school-admin lookup on
        hot paths that do not need it."""
        chat, member, _profile = await self.store.chat_access(chat_id, user_id)  # one store command
        return await self._checked_access(chat, member, moderation=moderation)

    async def _checked_access(
        self, chat: Chat | None, member: Member | None, *, moderation: bool
    ) -> tuple[Chat, Member]:
        if chat is None or member is None or not member.active:
            raise PermissionDenied("not a member of this chat", reason="NOT_A_MEMBER")
        return chat, await self._with_school_moderation(chat, member) if moderation else member

    async def _with_school_moderation(self, chat: Chat, member: Member) -> Member:
        # School admins moderate every chat of their school they are in (e.g. class chats).
        if member.is_moderator or chat.kind is ChatKind.DIRECT:
            return member
        if (await self._person(chat.school_id, member.user_id, with_profile=False)).is_admin:
            return replace(member, grants=member.grants | {Grant.ADMIN})
        return member

    async def _person(self, school_id: str, user_id: str, *, with_profile: bool = True) -> safety.Person:
        """The rule book's view of one person, from chat's projections (memberships, profile).
        `with_profile=False` when only seats matter (has_profile then reads True)."""
        if not with_profile:
            return person_of(school_id, user_id, await self.store.memberships_of(school_id, user_id), _ANY_PROFILE)
        memberships, profile = await asyncio.gather(
            self.store.memberships_of(school_id, user_id), self.store.profile(user_id)
        )
        return person_of(school_id, user_id, memberships, profile)

    async def _people(self, school_id: str, user_ids: list[str]) -> list[safety.Person]:
        """The people someone puts together with them: their seats decide the pairs."""
        return list(await asyncio.gather(*(self._person(school_id, u, with_profile=False) for u in user_ids)))

    async def _view(self, chat: Chat, member: Member) -> ChatView:
        last = await self.store.last_seq(chat.chat_id)
        unread = 0
        if last > member.last_read_seq:
            unread = await self.store.count_unread(chat.chat_id, member.user_id, member.last_read_seq, cap=999)
        peer = ""
        if chat.kind is ChatKind.DIRECT:
            peer = next((u for u in chat.created_by.split(",") if u and u != member.user_id), "")
        return ChatView(chat, member, last, unread, peer)

    # ---- chats ----------------------------------------------------------------------------------

    async def list_chats(self, user_id: str, school_id: str = "") -> list[ChatView]:
        v = Violations()
        rules.check_id(v, "school_id", school_id, required=False)
        v.raise_if_any()
        members = {m.chat_id: m for m in await self.store.list_member_chats(user_id, school_id)}
        chats = await self.store.get_chats(list(members))
        # Chats provisioned from events may not exist yet (member seen before its class): skipped.
        views = await asyncio.gather(*(self._view(c, members[c.chat_id]) for c in chats))
        return sorted(views, key=lambda view: (-view.last_seq, view.chat.chat_id))

    async def get_chat(self, user_id: str, chat_id: str) -> ChatView:
        _check_chat_id(chat_id)
        chat, member = await self._access(chat_id, user_id)
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
        me = await self._person(school_id, user_id)
        safety.check_can_create_group(me)
        chat_id = "grp-" + hashlib.sha256(f"{school_id}\x1f{user_id}\x1f{request_id}".encode()).hexdigest()[:32]
        existing = await self.store.get_chat(chat_id)
        if existing is None:
            wanted = sorted(set(members) - {user_id})
            await self._ensure_school_members(school_id, wanted)
            # Every pair, creator included: an adult shares a group with a child only where the
            # adult could DM that child.
            safety.check_together(
                me, await self._people(school_id, wanted), safety.Contact.GROUP, self.policies.get(school_id)
            )
            chat = Chat(chat_id, school_id, ChatKind.GROUP, title.strip(), subject=subject.strip(), created_by=user_id)
            await self.store.insert_chat(chat, ev.ChatCreated(chat))
            await self.store.set_grant(chat_id, school_id, user_id, "creator", Grant.CREATOR)
            for other in wanted:
                await self.store.set_grant(chat_id, school_id, other, "added", Grant.ADDED)
            await self._refresh_count(chat_id)
            self.notify()
        return await self.get_chat(user_id, chat_id)

    async def _ensure_school_members(self, school_id: str, user_ids: list[str]) -> None:
        results = await asyncio.gather(*(self.store.memberships_of(school_id, u) for u in user_ids))
        v = Violations()
        for i, (uid, ms) in enumerate(zip(user_ids, results, strict=True)):
            if not any(m.active for m in ms):
                v.add(f"member_user_ids[{i}]", f"{uid} is not a member of this school")
        v.raise_if_any()

    async def _refresh_count(self, chat_id: str) -> None:
        await self.store.update_chat(chat_id, {"member_count": await self.store.count_members(chat_id)}, bump=False)

    async def open_direct_chat(self, user_id: str, school_id: str, peer: str) -> ChatView:
        v = Violations()
        rules.check_id(v, "school_id", school_id)
        rules.check_id(v, "user_id", peer)
        if peer == user_id:
            v.add("user_id", "must be someone else")
        v.raise_if_any()
        me, them = await asyncio.gather(self._person(school_id, user_id), self._person(school_id, peer))
        safety.check_contact(me, them, safety.Contact.DM, self.policies.get(school_id))
        chat_id = direct_chat_id(school_id, user_id, peer)
        if await self.store.get_chat(chat_id) is None:
            low, high = sorted((user_id, peer))
            chat = Chat(chat_id, school_id, ChatKind.DIRECT, "", created_by=f"{low},{high}", member_count=2)
            await self.store.insert_chat(chat, ev.ChatCreated(chat))
        # Also after one of them left the school and came back (leaving drops their DM grants).
        granted = [await self.store.set_grant(chat_id, school_id, u, "direct", Grant.MEMBER) for u in (user_id, peer)]
        if any(granted):
            await self._refresh_count(chat_id)
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
        _check_chat_id(chat_id, v)
        if title is not None:
            rules.check_title(v, "title", title)
        if slow_mode_seconds is not None and not 0 <= slow_mode_seconds <= MAX_SLOW_MODE_SECONDS:
            v.add("slow_mode_seconds", f"must be within 0..{MAX_SLOW_MODE_SECONDS}")
        v.raise_if_any()
        chat, member = await self._access(chat_id, user_id)
        rules.ensure_moderator(member)
        if chat.kind is ChatKind.DIRECT:
            raise PermissionDenied("direct chats have no settings", reason="DIRECT_CHAT")
        fields: dict[str, object] = {}
        if title is not None:
            fields["title"] = title.strip()
        if posting_policy is not None:
            fields["posting_policy"] = int(posting_policy)
        if slow_mode_seconds is not None:
            fields["slow_mode_seconds"] = slow_mode_seconds
        if fields:
            await self.store.update_chat(chat_id, fields, bump=True)
            self.notify()
        return await self.get_chat(user_id, chat_id)

    async def add_members(self, user_id: str, chat_id: str, user_ids: list[str]) -> ChatView:
        v = Violations()
        _check_chat_id(chat_id, v)
        if not user_ids or len(user_ids) > MAX_GROUP_MEMBERS:
            v.add("user_ids", f"1..{MAX_GROUP_MEMBERS} user ids")
        for i, u in enumerate(user_ids):
            rules.check_id(v, f"user_ids[{i}]", u)
        v.raise_if_any()
        chat, member = await self._access(chat_id, user_id)
        if chat.kind is not ChatKind.GROUP:
            raise PermissionDenied("members of provisioned chats follow school memberships", reason="PROVISIONED_CHAT")
        rules.ensure_moderator(member)
        await self._ensure_school_members(chat.school_id, list(user_ids))
        present = await self.store.member_ids(chat_id)
        everyone = sorted((set(present) | set(user_ids)) - {user_id})
        me = await self._person(chat.school_id, user_id)
        people = await self._people(chat.school_id, everyone)
        safety.check_together(me, people, safety.Contact.GROUP, self.policies.get(chat.school_id))
        for other in user_ids:
            await self.store.set_grant(chat_id, chat.school_id, other, "added", Grant.ADDED)
        await self._refresh_count(chat_id)
        self.notify()
        return await self.get_chat(user_id, chat_id)

    async def remove_member(self, user_id: str, chat_id: str, target: str) -> None:
        v = Violations()
        _check_chat_id(chat_id, v)
        rules.check_id(v, "user_id", target)
        v.raise_if_any()
        chat, member = await self._access(chat_id, user_id)
        if chat.kind is not ChatKind.GROUP:
            raise PermissionDenied("members of provisioned chats follow school memberships", reason="PROVISIONED_CHAT")
        if target != user_id:
            rules.ensure_moderator(member)
        await self.store.set_grant(chat_id, chat.school_id, target, "added", None)
        await self.store.set_grant(chat_id, chat.school_id, target, "creator", None)
        await self._refresh_count(chat_id)
        await refresh_conflicts(self.store, self.policies, chat_id)
        self.notify()

    # ---- messages -------------------------------------------------------------------------------

    async def send_message(
        self,
        user_id: str,
        chat_id: str,
        client_message_id: str,
        text: str,
        *,
        reply_to_seq: int = 0,
        file_ids: list[str] | None = None,
        urgent: bool = False,
    ) -> SendResult:
        file_ids = list(file_ids or [])
        v = Violations()
        _check_chat_id(chat_id, v)
        rules.check_id(v, "client_message_id", client_message_id)
        rules.check_text(v, "text", text, self.policy.max_text_chars, required=not file_ids)
        rules.check_seq(v, "reply_to_seq", reply_to_seq, required=False)
        if len(file_ids) > rules.MAX_FILES_PER_MESSAGE:
            v.add("file_ids", f"at most {rules.MAX_FILES_PER_MESSAGE}")
        for i, f in enumerate(file_ids):
            rules.check_id(v, f"file_ids[{i}]", f)
        v.raise_if_any()
        message_id = message_id_for(user_id, client_message_id)
        # One read decides access on the common path: chat, membership and profile together.
        found_chat, found_member, profile = await self.store.chat_access(chat_id, user_id)
        chat, member = await self._checked_access(found_chat, found_member, moderation=False)
        if (
            chat.kind is ChatKind.SCHOOL_CHANNEL
            or chat.posting_policy is PostingPolicy.ADMINS_ONLY
            or chat.slow_mode_seconds > 0
            or member.muted_until is not None
        ):
            member = await self._with_school_moderation(chat, member)  # only when a rule depends on it
        now = self.clock.now()
        try:
            deliver_at, held_for = await self._check_send(chat, member, now, reply_to_seq, file_ids, urgent, profile)
        except Exception:
            # A retry of a message that was accepted before (e.g. now in slow mode) gets the first result.
            first = await self.store.get_message(message_id)
            if first is not None and first.chat_id == chat_id:
                return SendResult(first, first.held_until)
            raise
        seq = await self.store.next_seq(chat_id)
        message = Message(
            chat_id=chat_id,
            message_id=message_id,
            seq=seq,
            update_seq=seq,
            school_id=chat.school_id,
            sender_user_id=user_id,
            text=text,
            sent_at=now,
            client_message_id=client_message_id,
            reply_to_seq=reply_to_seq,
            file_ids=file_ids,
            urgent=urgent,
            held_until=deliver_at,
            held_for=held_for,
        )
        try:
            await self.store.insert_message(message, ev.MessagePosted(message))
        except DuplicateMessage:
            await self.store.burn_seq(chat_id, seq)
            first = await self.store.get_message(message_id)
            if first is None or first.chat_id != chat_id:
                raise AlreadyExists(
                    "client_message_id was used for another chat", reason="CLIENT_MESSAGE_ID_REUSED"
                ) from None
            return SendResult(first, first.held_until)
        self.notify()
        if file_ids:
            await self.store.attach_files(file_ids, chat_id)
        if chat.slow_mode_seconds > 0:
            await self.store.set_member_fields(chat_id, user_id, {"last_sent_at": now})
        return SendResult(message, deliver_at)

    async def _check_send(
        self,
        chat: Chat,
        member: Member,
        now: datetime,
        reply_to_seq: int,
        file_ids: list[str],
        urgent: bool,
        profile: Profile | None,
    ) -> tuple[datetime | None, list[str]]:
        awaiting = bool(profile and profile.awaiting_guardian)
        has_profile = bool(profile and profile.has_profile)
        rules.ensure_can_post(chat, member, now, awaiting_guardian=awaiting, has_profile=has_profile)
        wait = rules.slow_mode_wait(chat, member, now)
        if wait > 0:
            raise ResourceExhausted(
                "slow mode: wait before the next message", retry_after_seconds=wait, reason="SLOW_MODE"
            )
        if reply_to_seq and await self.store.get_message_by_seq(chat.chat_id, reply_to_seq) is None:
            raise InvalidArgument.field("reply_to_seq", "no such message in this chat")
        for i, file_id in enumerate(file_ids):
            stored = await self.store.get_file(file_id)
            if stored is None or stored.owner_user_id != member.user_id:
                raise InvalidArgument.field(f"file_ids[{i}]", "not a file in your storage")
        if chat.kind is ChatKind.DIRECT:
            # The one extra read a DM always had (both people's seats, for quiet hours) now also
            # feeds the rule book: the writer still in the school, the peer too (else read-only),
            # the pair still allowed.
            peer = next((u for u in chat.created_by.split(",") if u and u != member.user_id), "")
            sender_ms, peer_ms = await asyncio.gather(
                self.store.memberships_of(chat.school_id, member.user_id),
                self.store.memberships_of(chat.school_id, peer),
            )
            me = person_of(chat.school_id, member.user_id, sender_ms, profile)
            peer_person = person_of(chat.school_id, peer, peer_ms, _ANY_PROFILE)
            safety.check_direct_write(me, peer_person, self.policies.get(chat.school_id))
        if urgent:
            mine = await self.store.memberships_of(chat.school_id, member.user_id)
            if not person_of(chat.school_id, member.user_id, mine, profile).is_admin:
                raise PermissionDenied("only admins mark messages urgent", reason="URGENT_NOT_ALLOWED")
            return None, []
        if chat.kind is not ChatKind.DIRECT:
            return None, []
        if not rules.is_parent_to_teacher(sender_ms, peer_ms):
            return None, []
        school = await self.store.school(chat.school_id)
        if school is None:
            return None, []
        tz = rules.zone(school.timezone, self.policy.default_timezone)
        release = rules.quiet_hours_release(now, tz, school.workday_start_minute, school.workday_end_minute)
        return (release, [peer]) if release is not None else (None, [])

    async def _message(self, chat_id: str, seq: int) -> Message:
        message = await self.store.get_message_by_seq(chat_id, seq)
        if message is None:
            raise NotFound("no such message", reason="MESSAGE_NOT_FOUND")
        return message

    async def _visible_message(self, chat_id: str, seq: int, user_id: str) -> Message:
        message = await self._message(chat_id, seq)
        if message.held_from(user_id, self.clock.now()):
            raise NotFound("no such message", reason="MESSAGE_NOT_FOUND")
        return message

    async def edit_message(self, user_id: str, chat_id: str, seq: int, text: str) -> Message:
        v = Violations()
        _check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        rules.check_text(v, "text", text, self.policy.max_text_chars)
        v.raise_if_any()
        chat, member = await self._access(chat_id, user_id, moderation=False)
        message = await self._message(chat_id, seq)
        now = self.clock.now()
        rules.ensure_can_edit(message, user_id, now, self.policy.edit_window)
        if chat.read_only:
            rules.ensure_can_post(chat, member, now, awaiting_guardian=False)
        if message.text == text:
            return message
        changed = replace(message, text=text, edited_at=now, update_seq=await self.store.next_seq(chat_id))
        await self.store.update_message(changed, ev.MessageEdited(changed), expected_update_seq=message.update_seq)
        self.notify()
        return changed

    async def delete_message(self, user_id: str, chat_id: str, seq: int) -> Message:
        v = Violations()
        _check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        v.raise_if_any()
        _chat, member = await self._access(chat_id, user_id)
        message = await self._message(chat_id, seq)
        if message.deleted:
            return message
        rules.ensure_can_delete(message, member, self.clock.now(), self.policy.edit_window)
        changed = replace(
            message, text="", file_ids=[], reactions=[], deleted=True, update_seq=await self.store.next_seq(chat_id)
        )
        await self.store.update_message(
            changed, ev.MessageDeleted(changed, user_id), expected_update_seq=message.update_seq
        )
        self.notify()
        return changed

    async def react(self, user_id: str, chat_id: str, seq: int, emoji: str, add: bool) -> Message:
        v = Violations()
        _check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        rules.check_emoji(v, "emoji", emoji)
        v.raise_if_any()
        chat, member = await self._access(chat_id, user_id, moderation=False)
        if chat.read_only:
            rules.ensure_can_post(chat, member, self.clock.now(), awaiting_guardian=False)
        message = await self._visible_message(chat_id, seq, user_id)
        if message.deleted:
            raise NotFound("no such message", reason="MESSAGE_NOT_FOUND")
        reactions = {r.emoji: list(r.user_ids) for r in message.reactions}
        users = reactions.setdefault(emoji, [])
        if add == (user_id in users):
            return message  # already so: idempotent
        if add:
            if len(reactions) > 50:
                raise ResourceExhausted("too many different reactions", reason="TOO_MANY_REACTIONS")
            users.append(user_id)
        else:
            users.remove(user_id)
        new = [Reaction(e, u) for e, u in reactions.items() if u]
        changed = replace(message, reactions=new, update_seq=await self.store.next_seq(chat_id))
        await self.store.update_message(changed, ev.MessageChanged(changed), expected_update_seq=message.update_seq)
        self.notify()
        return changed

    async def pin(self, user_id: str, chat_id: str, seq: int, pinned: bool) -> Chat:
        v = Violations()
        _check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        v.raise_if_any()
        chat, member = await self._access(chat_id, user_id)
        if chat.kind is not ChatKind.DIRECT:
            rules.ensure_moderator(member)
        await self._visible_message(chat_id, seq, user_id)
        pins = [s for s in chat.pinned_seqs if s != seq]
        if pinned:
            pins = [*pins, seq][-20:]
        if pins == chat.pinned_seqs:
            return chat
        updated = await self.store.update_chat(chat_id, {"pinned_seqs": pins}, bump=True)
        self.notify()
        assert updated is not None
        return updated

    async def list_messages(
        self, user_id: str, chat_id: str, before_seq: int, after_seq: int, limit: int
    ) -> tuple[list[Message], bool]:
        v = Violations()
        _check_chat_id(chat_id, v)
        rules.check_seq(v, "before_seq", before_seq, required=False)
        rules.check_seq(v, "after_seq", after_seq, required=False)
        if before_seq and after_seq:
            v.add("after_seq", "set either before_seq or after_seq, not both")
        if not 0 <= limit <= 100:
            v.add("limit", "must be within 0..100")
        v.raise_if_any()
        limit = limit or 50
        await self._access(chat_id, user_id, moderation=False)
        if after_seq:
            page = await self.store.messages_after(chat_id, after_seq, limit + 1)
        else:
            page = await self.store.messages_before(chat_id, before_seq, limit + 1)
        has_more = len(page) > limit
        page = page[:limit] if after_seq else page[-limit:]
        now = self.clock.now()
        return [m for m in page if not m.held_from(user_id, now)], has_more

    async def mark_read(self, user_id: str, chat_id: str, seq: int) -> int:
        v = Violations()
        _check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        v.raise_if_any()
        await self._access(chat_id, user_id, moderation=False)
        last = await self.store.last_seq(chat_id)
        if seq > last:
            raise InvalidArgument.field("seq", "beyond the last message of the chat")
        result = await self.store.mark_read(chat_id, user_id, seq)
        self.notify()
        return result

    async def read_count(self, user_id: str, chat_id: str, seq: int) -> tuple[int, int]:
        v = Violations()
        _check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        v.raise_if_any()
        _chat, member = await self._access(chat_id, user_id)
        message = await self._visible_message(chat_id, seq, user_id)
        if message.sender_user_id != user_id and not member.is_moderator:
            raise PermissionDenied("read counts are for the author", reason="NOT_AUTHOR")
        return await self.store.count_read(chat_id, seq, exclude_user=message.sender_user_id)

    # ---- moderation -----------------------------------------------------------------------------

    async def report(self, user_id: str, chat_id: str, seq: int, reason: str) -> str:
        v = Violations()
        _check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        rules.check_text(v, "reason", reason, rules.MAX_REPORT_CHARS, required=False)
        v.raise_if_any()
        await self._access(chat_id, user_id, moderation=False)
        await self._visible_message(chat_id, seq, user_id)
        report_id = str(uuid.uuid5(_NS, f"report\x1f{user_id}\x1f{chat_id}\x1f{seq}"))
        await self.store.add_report(report_id, chat_id, seq, user_id, reason, self.clock.now())
        return report_id

    async def mute(self, user_id: str, chat_id: str, target: str, duration_seconds: int) -> datetime | None:
        v = Violations()
        _check_chat_id(chat_id, v)
        rules.check_id(v, "user_id", target)
        if not 0 <= duration_seconds <= 366 * 86400:
            v.add("duration_seconds", "must be within 0..366 days")
        v.raise_if_any()
        _chat, member = await self._access(chat_id, user_id)
        rules.ensure_moderator(member)
        victim = await self.store.get_member(chat_id, target)
        if victim is None or not victim.active:
            raise NotFound("not a member of this chat", reason="MEMBER_NOT_FOUND")
        if target == user_id:
            raise InvalidArgument.field("user_id", "moderators do not mute themselves")
        until = self.clock.now() + timedelta(seconds=duration_seconds) if duration_seconds else None
        await self.store.set_member_fields(chat_id, target, {"muted_until": until})
        return until

    # ---- quiet hours ----------------------------------------------------------------------------

    async def release_held(self, limit: int = 200) -> int:
        """Deliver held messages whose time has come: a new update_seq puts them into the live stream."""
        due = await self.store.due_held_messages(self.clock.now(), limit)
        for message in due:
            released = replace(message, held_for=[], update_seq=await self.store.next_seq(message.chat_id))
            try:
                await self.store.update_message(
                    released, ev.MessageChanged(released), expected_update_seq=message.update_seq
                )
            except Aborted:
                continue  # changed meanwhile (edited, deleted); the next pass sees the new state
        if due:
            self.notify()
        return len(due)


def _check_chat_id(chat_id: str, v: Violations | None = None) -> None:
    own = v is None
    v = v or Violations()
    rules.check_id(v, "chat_id", chat_id)
    if own:
        v.raise_if_any()
