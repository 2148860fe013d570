"""Message use cases: send (with quiet hours), edit, delete, react, history pages, releasing held messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from parta_common import safety, validation
from parta_common.clock import Clock
from parta_common.errors import (
    Aborted,
    AlreadyExists,
    ConcurrentChange,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Violations,
)

from chat.app.access import ANY_PROFILE, Access
from chat.app.chats import check_chat_id
from chat.app.ports import (
    DuplicateMessage,
    FileRepository,
    MessageRepository,
    Notifier,
    Policies,
    Preferences,
    SchoolFacts,
    UrgentAllowance,
)
from chat.domain import access, rules
from chat.domain import events as ev
from chat.domain import urgent as urgency
from chat.domain.chats import Chat, ChatKind
from chat.domain.members import Member
from chat.domain.messages import Message, Reaction
from chat.domain.provisioning import Membership, Profile, person_of
from chat.domain.sealing import Sealer

_NS = uuid.UUID("0b8f3c2e-8f1d-4c51-9d7e-2a6c1d1f5e77")
MAX_REACTIONS = 50


def dm_not_accepted() -> PermissionDenied:
    """A blocked sender learns only that this person does not take their direct messages: not
    since when, nor anything about anyone else (docs/chat.md "Blocking")."""
    return PermissionDenied(
        "this person does not accept direct messages from you", reason="DIRECT_MESSAGES_NOT_ACCEPTED"
    )


def message_id_for(sender: str, client_message_id: str) -> str:
    # Same as parta_common.mongo.idempotent_id("send", ...) but without importing the driver layer.
    return str(uuid.uuid5(_NS, f"send\x1f{sender}\x1f{client_message_id}"))


@dataclass(frozen=True)
class ChatPolicy:
    max_text_chars: int = 4096
    edit_window: timedelta = timedelta(hours=48)
    default_timezone: str = "Europe/Moscow"
    urgent_per_day: int = urgency.DEFAULT_URGENT_PER_DAY
    # Seals deleted content into MessageDeleted (domain/sealing.py); None: no sealing key configured.
    sealer: Sealer | None = None


@dataclass
class SendResult:
    message: Message
    deliver_at: datetime | None = None


class _Sender:
    """The sender's seats, read at most once per send whichever rules ask for them."""

    def __init__(self, facts: SchoolFacts, school_id: str, user_id: str):
        self._facts = facts
        self._school_id = school_id
        self._user_id = user_id
        self._memberships: list[Membership] | None = None

    async def memberships(self) -> list[Membership]:
        if self._memberships is None:
            self._memberships = await self._facts.memberships_of(self._school_id, self._user_id)
        return self._memberships


@dataclass
class Messages:
    messages: MessageRepository
    files: FileRepository
    facts: SchoolFacts
    access: Access
    clock: Clock
    notify: Notifier
    policies: Policies
    policy: ChatPolicy = field(default_factory=ChatPolicy)
    # Blocks of direct messages and teachers' urgent notifications; the urgent allowance.
    preferences: Preferences | None = None
    allowance: UrgentAllowance | None = None

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
        urgent_reason: str = "",
    ) -> SendResult:
        file_ids = list(file_ids or [])
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_id(v, "client_message_id", client_message_id)
        validation.check_text(v, "text", text, self.policy.max_text_chars, required=not file_ids, prose=True)
        rules.check_seq(v, "reply_to_seq", reply_to_seq, required=False)
        if len(file_ids) > rules.MAX_FILES_PER_MESSAGE:
            v.add("file_ids", f"at most {rules.MAX_FILES_PER_MESSAGE}")
        for i, f in enumerate(file_ids):
            rules.check_id(v, f"file_ids[{i}]", f)
        urgency.check_reason(v, urgent_reason, required=False)
        if urgent_reason and not urgent:
            v.add("urgent_reason", "only with urgent")
        v.raise_if_any()
        message_id = message_id_for(user_id, client_message_id)
        # One read decides access on the common path: chat, membership and profile together.
        found_chat, found_member, profile = await self.access.members.access(chat_id, user_id)
        chat, member = access.ensure_member(found_chat, found_member)
        sender = _Sender(self.facts, chat.school_id, user_id)
        if access.send_depends_on_moderation(chat, member) and access.may_ask_school_moderation(chat, member):
            member = await self.access.with_school_moderation(chat, member, await sender.memberships())
        now = self.clock.now()
        try:
            deliver_at, held_for = await self._check_send(
                chat, member, sender, now, reply_to_seq, file_ids, urgent, profile, urgent_reason, message_id
            )
        except Exception:
            # A retry of a message that was accepted before (e.g. now in slow mode) gets the first result.
            first = await self.messages.get(message_id)
            if first is not None and first.chat_id == chat_id:
                return SendResult(first, first.held_until)
            raise
        seq = await self.messages.next_seq(chat_id)
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
            urgent_reason=urgent_reason,
        )
        try:
            await self.messages.add(message, [ev.MessagePosted(message)])
        except DuplicateMessage:
            await self.messages.burn_seq(chat_id, seq)
            first = await self.messages.get(message_id)
            if first is None or first.chat_id != chat_id:
                raise AlreadyExists(
                    "client_message_id was used for another chat", reason="CLIENT_MESSAGE_ID_REUSED"
                ) from None
            return SendResult(first, first.held_until)
        self.notify()
        if file_ids:
            await self.files.attach(file_ids, chat_id, seq)
        if chat.slow_mode_seconds > 0:
            await self.access.members.set_last_sent(chat_id, user_id, now)
        return SendResult(message, deliver_at)

    async def _check_send(
        self,
        chat: Chat,
        member: Member,
        sender: _Sender,
        now: datetime,
        reply_to_seq: int,
        file_ids: list[str],
        urgent: bool,
        profile: Profile | None,
        urgent_reason: str = "",
        message_id: str = "",
    ) -> tuple[datetime | None, list[str]]:
        awaiting = bool(profile and profile.awaiting_guardian)
        has_profile = bool(profile and profile.has_profile)
        rules.ensure_can_post(chat, member, now, awaiting_guardian=awaiting, has_profile=has_profile)
        wait = rules.slow_mode_wait(chat, member, now)
        if wait > 0:
            raise ResourceExhausted(
                "slow mode: wait before the next message", retry_after_seconds=wait, reason="SLOW_MODE"
            )
        if reply_to_seq and await self.messages.get_by_seq(chat.chat_id, reply_to_seq) is None:
            raise InvalidArgument.field("reply_to_seq", "no such message in this chat")
        for i, file_id in enumerate(file_ids):
            found = await self.files.find(file_id)
            if found is None or not found[1] or found[0].owner_user_id != member.user_id:
                raise InvalidArgument.field(f"file_ids[{i}]", "not a file in your storage")
        peer_ms: list[Membership] = []
        peer_takes_urgent = False
        if chat.kind is ChatKind.DIRECT:
            # The one extra read a DM always had (both people's seats, for quiet hours) now also
            # feeds the rule book: the writer still in the school, the peer too (else read-only),
            # the pair still allowed.
            peer = chat.peer_of(member.user_id)
            peer_ms = await self.facts.memberships_of(chat.school_id, peer)
            me = person_of(chat.school_id, member.user_id, await sender.memberships(), profile)
            peer_person = person_of(chat.school_id, peer, peer_ms, ANY_PROFILE)
            safety.check_direct_write(me, peer_person, self.policies.get(chat.school_id))
            if self.preferences is not None:
                # One read of the peer's preferences: their block list, and their urgent switch.
                blocked, peer_takes_urgent = await self.preferences.get(peer)
                if member.user_id in blocked:
                    raise dm_not_accepted()
        if urgent and person_of(chat.school_id, member.user_id, await sender.memberships(), profile).is_admin:
            return None, []  # an admin's urgent message: no hold, no allowance
        parent_to_teacher = chat.kind is ChatKind.DIRECT and rules.is_parent_to_teacher(
            await sender.memberships(), peer_ms
        )
        if urgent and not parent_to_teacher:
            raise PermissionDenied(
                "only admins, and parents writing to a teacher, mark messages urgent", reason="URGENT_NOT_ALLOWED"
            )
        if urgent and not urgent_reason.strip():
            raise InvalidArgument.field("urgent_reason", "say why it cannot wait")
        if not parent_to_teacher:
            return None, []
        school = await self.facts.school(chat.school_id)
        if school is None:
            return None, []
        tz = rules.zone(school.timezone, self.policy.default_timezone)
        release = rules.quiet_hours_release(now, tz, school.workday_start_minute, school.workday_end_minute)
        if release is None:
            return None, []  # working hours: nothing to cross (an urgent flag costs no allowance)
        teacher = chat.peer_of(member.user_id)
        if urgent and peer_takes_urgent and self.allowance is not None:
            day = urgency.local_day(now, tz)
            if not await self.allowance.use(
                member.user_id, chat.school_id, day, message_id, self.policy.urgent_per_day
            ):
                raise urgency.limit_reached(now, tz, self.policy.urgent_per_day)
            return None, []
        return release, [teacher]

    async def _save(self, before: Message, changed: Message, event: ev.ChatEvent) -> None:
        if not await self.messages.save(changed, before.update_seq, [event]):
            await self.messages.burn_seq(changed.chat_id, changed.update_seq)
            raise ConcurrentChange("the message changed meanwhile; retry")
        self.notify()

    async def edit_message(self, user_id: str, chat_id: str, seq: int, text: str) -> Message:
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        validation.check_text(v, "text", text, self.policy.max_text_chars, required=True, prose=True)
        v.raise_if_any()
        chat, member = await self.access.check(chat_id, user_id, moderation=False)
        message = rules.ensure_found(await self.messages.get_by_seq(chat_id, seq))
        now = self.clock.now()
        rules.ensure_can_edit(message, user_id, now, self.policy.edit_window)
        if chat.read_only:
            rules.ensure_can_post(chat, member, now, awaiting_guardian=False)
        if message.text == text:
            return message
        changed = replace(message, text=text, edited_at=now, update_seq=await self.messages.next_seq(chat_id))
        await self._save(message, changed, ev.MessageEdited(changed))
        return changed

    async def delete_message(self, user_id: str, chat_id: str, seq: int) -> Message:
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        v.raise_if_any()
        _chat, member = await self.access.check(chat_id, user_id)
        message = rules.ensure_found(await self.messages.get_by_seq(chat_id, seq))
        if message.deleted:
            return message
        rules.ensure_can_delete(message, member, self.clock.now(), self.policy.edit_window)
        changed = replace(
            message, text="", file_ids=[], reactions=[], deleted=True, update_seq=await self.messages.next_seq(chat_id)
        )
        seal = self.policy.sealer.seal(message) if self.policy.sealer else None
        await self._save(message, changed, ev.MessageDeleted(changed, user_id, seal))
        return changed

    async def react(self, user_id: str, chat_id: str, seq: int, emoji: str, add: bool) -> Message:
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        rules.check_emoji(v, "emoji", emoji)
        v.raise_if_any()
        chat, member = await self.access.check(chat_id, user_id, moderation=False)
        if chat.read_only:
            rules.ensure_can_post(chat, member, self.clock.now(), awaiting_guardian=False)
        message = rules.ensure_visible(await self.messages.get_by_seq(chat_id, seq), user_id, self.clock.now())
        if message.deleted:
            raise NotFound("no such message", reason="MESSAGE_NOT_FOUND")
        reactions = {r.emoji: list(r.user_ids) for r in message.reactions}
        users = reactions.setdefault(emoji, [])
        if add == (user_id in users):
            return message  # already so: idempotent
        if add:
            if len(reactions) > MAX_REACTIONS:
                raise ResourceExhausted("too many different reactions", reason="TOO_MANY_REACTIONS")
            users.append(user_id)
        else:
            users.remove(user_id)
        new = [Reaction(e, u) for e, u in reactions.items() if u]
        changed = replace(message, reactions=new, update_seq=await self.messages.next_seq(chat_id))
        await self._save(message, changed, ev.MessageChanged(changed))
        return changed

    async def list_messages(
        self, user_id: str, chat_id: str, before_seq: int, after_seq: int, limit: int
    ) -> tuple[list[Message], bool]:
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_seq(v, "before_seq", before_seq, required=False)
        rules.check_seq(v, "after_seq", after_seq, required=False)
        if before_seq and after_seq:
            v.add("after_seq", "set either before_seq or after_seq, not both")
        if not 0 <= limit <= 100:
            v.add("limit", "must be within 0..100")
        v.raise_if_any()
        limit = limit or 50
        await self.access.check(chat_id, user_id, moderation=False)
        if after_seq:
            page = await self.messages.after(chat_id, after_seq, limit + 1)
        else:
            page = await self.messages.before(chat_id, before_seq, limit + 1)
        has_more = len(page) > limit
        page = page[:limit] if after_seq else page[-limit:]
        now = self.clock.now()
        return [m for m in page if not m.held_from(user_id, now)], has_more

    async def release_held(self, limit: int = 200) -> int:
        """Quiet hours: deliver held messages whose time has come (a new update_seq puts them into
        the live stream)."""
        due = await self.messages.due_held(self.clock.now(), limit)
        for message in due:
            released = replace(message, held_for=[], update_seq=await self.messages.next_seq(message.chat_id))
            try:
                await self._save(message, released, ev.MessageChanged(released))
            except Aborted:
                continue  # changed meanwhile (edited, deleted); the next pass sees the new state
        if due:
            self.notify()
        return len(due)
