"""Provisioning from school, identity and media-signal events: chats, members, profiles, system messages.

Every handler is idempotent: projections apply only newer aggregate versions, chat ids are derived
from school ids, and grants are keyed by membership id, so replaying a topic yields the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from parta_common.clock import Clock

from chat.app.conflicts import refresh_conflicts
from chat.app.messages import message_id_for
from chat.app.ports import (
    ChatRepository,
    DuplicateMessage,
    MemberRepository,
    MessageRepository,
    Notifier,
    Policies,
    ProjectionStore,
    SchoolFacts,
)
from chat.app.writes import refresh_count, remove_everywhere, set_grant
from chat.domain import events as ev
from chat.domain.chats import (
    Chat,
    ChatKind,
    PostingPolicy,
    class_chat_id,
    parents_chat_id,
    school_channel_id,
    staff_channel_id,
)
from chat.domain.materials import Material
from chat.domain.members import Grant
from chat.domain.messages import Message
from chat.domain.provisioning import Membership, Profile, SchoolInfo, chat_grants, person_of
from chat.domain.rules import zone
from chat.domain.system_notes import (
    SystemNote,
    lesson_note,
    material_published,
    member_joined,
    note_text,
    parents_title,
    staff_title,
)

_SEATS_ONLY = Profile("", "")  # grants follow seats; profiles are checked when people write


@dataclass(frozen=True)
class ClassInfo:
    class_id: str
    school_id: str
    title: str
    is_staff_room: bool
    archived: bool


@dataclass
class Provisioning:
    chats: ChatRepository
    members: MemberRepository
    messages: MessageRepository
    facts: SchoolFacts
    projections: ProjectionStore
    clock: Clock
    notify: Notifier
    policies: Policies
    # The zone of a school chat does not know yet (lesson notes render the school's wall clock).
    default_timezone: str = "Europe/Moscow"

    async def _refresh_conflicts(self, chat_id: str) -> None:
        await refresh_conflicts(self.chats, self.members, self.messages, self.facts, self.policies, chat_id)

    async def _provision_chat(self, chat: Chat, version: int) -> bool:
        """Provisioned chats follow their school/class aggregate version; older versions are ignored.
        Creates the chat, or writes its title/read-only/class with ChatUpdated in one write."""
        existing = await self.chats.get(chat.chat_id)
        if existing is None:
            created = replace(chat, version=version, update_seq=await self.messages.next_seq(chat.chat_id))
            if await self.chats.add(created, [ev.ChatCreated(created)]):
                return True
            existing = await self.chats.get(chat.chat_id)
            assert existing is not None
        if existing.version >= version:
            return False
        changed = replace(existing, title=chat.title, read_only=chat.read_only, class_id=chat.class_id, version=version)
        if changed.settings == existing.settings:
            await self.chats.save(changed, existing.update_seq, [])  # the version only: no event
            return False
        changed = replace(changed, update_seq=await self.messages.next_seq(chat.chat_id))
        if await self.chats.save(changed, existing.update_seq, [ev.ChatUpdated(changed)]):
            return True
        await self.messages.burn_seq(chat.chat_id, changed.update_seq)
        return False

    async def school_changed(self, school: SchoolInfo, version: int) -> None:
        await self.projections.put_school(school, version)
        before = self.policies.get(school.school_id)
        # This replica decides by the new policy at once (others load it from the projection).
        if self.policies.apply(school.school_id, school.policy, version) and school.policy != before:
            # Groups made under the old policy may now hold pairs it forbids: nobody writes there
            # until a moderator removes someone (or the school switches back).
            for chat_id in await self.chats.group_ids(school.school_id):
                await self._refresh_conflicts(chat_id)
        channel = Chat(
            school_channel_id(school.school_id),
            school.school_id,
            ChatKind.SCHOOL_CHANNEL,
            school.name,
            posting_policy=PostingPolicy.ADMINS_ONLY,
        )
        staff = Chat(
            staff_channel_id(school.school_id), school.school_id, ChatKind.STAFF_CHANNEL, staff_title(school.name)
        )
        for chat in (channel, staff):
            await self._provision_chat(chat, version)
            # Members may have arrived (another topic) before the chat existed: count them now.
            await refresh_count(self.chats, self.members, chat.chat_id)
        self.notify()

    async def class_changed(self, info: ClassInfo, version: int) -> None:
        if info.is_staff_room:
            return  # the staff room is the school's staff channel
        chats = (
            Chat(class_chat_id(info.class_id), info.school_id, ChatKind.CLASS, info.title, class_id=info.class_id),
            Chat(
                parents_chat_id(info.class_id),
                info.school_id,
                ChatKind.CLASS_PARENTS,
                parents_title(info.title),
                class_id=info.class_id,
            ),
        )
        for chat in chats:
            chat.read_only = info.archived
            await self._provision_chat(chat, version)
            # Members may have arrived (another topic) before the chat existed: count them now.
            await refresh_count(self.chats, self.members, chat.chat_id)
        self.notify()

    async def membership_changed(self, membership: Membership, version: int, *, keep_chats: bool = False) -> None:
        """`keep_chats`: the seat ended because its class was archived — the person keeps reading
        the (now read-only) class chats; the projection still records the seat as ended.

        Grants follow the whole person (the rule book's view of all their seats): a student's staff
        seat gives no staff grants, the staff channel takes posts only from verified staff. A
        person who no longer holds any seat of the school leaves its DMs and groups."""
        previous = await self.projections.put_membership(membership, version)
        if previous is False or keep_chats:
            return  # an older or duplicate event, or nothing to change in the chats
        school_id, user_id = membership.school_id, membership.user_id
        rows = await self.facts.memberships_of(school_id, user_id)
        before_rows = [r for r in rows if r.membership_id != membership.membership_id]
        if previous is not None and previous.active:
            before_rows.append(previous)
        person = person_of(school_id, user_id, rows, _SEATS_ONLY)
        before = person_of(school_id, user_id, before_rows, _SEATS_ONLY)
        # Only the changed seat, unless the change moved a person-wide fact every seat's grants use.
        person_wide = (person.is_student, person.verified) != (before.is_student, before.verified)
        others = [r for r in rows if r.membership_id != membership.membership_id] if person_wide else []
        for m in (membership, *others):
            wanted = dict(chat_grants(m, person)) if m.active else {}
            was = previous if m is membership else m
            old = dict(chat_grants(was, before)) if was is not None else {}
            await self._regrant(m, wanted, old, version, announce=m is membership)
        if not person.active:
            await self._leave_school(school_id, user_id)
        await self._refresh_groups(school_id, user_id)
        self.notify()

    async def _regrant(
        self, m: Membership, wanted: dict[str, Grant], old: dict[str, Grant], version: int, *, announce: bool
    ) -> None:
        touched = set(wanted) | set(old)
        for chat_id in touched:
            joined = await set_grant(
                self.members, chat_id, m.school_id, m.user_id, m.membership_id, wanted.get(chat_id)
            )
            if joined and announce and chat_id.startswith(("cls-", "par-")):
                # Class chats say who joined; channels of a whole school would drown in such notes.
                profile = await self.facts.profile(m.user_id)
                name = profile.display_name if profile and profile.display_name and not profile.deleted else ""
                key = f"join:{chat_id}:{m.membership_id}:{version}"
                await self._system_message(chat_id, m.school_id, member_joined(m.user_id, name), key)
        for chat_id in touched:
            await refresh_count(self.chats, self.members, chat_id)

    async def _leave_school(self, school_id: str, user_id: str) -> None:
        """Left the school (removed, moved away, last seat ended): out of its DMs and groups at
        once — no sending, no files shared there, their live streams drop them (MemberRemoved).
        The other side of a DM keeps reading it; writing there is CHAT_READ_ONLY."""
        for member in await self.members.of_user(user_id, school_id):
            chat_id = member.chat_id
            if not chat_id.startswith(("dm-", "grp-")):
                continue
            for key in ("direct", "added", "creator"):
                await set_grant(self.members, chat_id, school_id, user_id, key, None)
            await refresh_count(self.chats, self.members, chat_id)
            await self._refresh_conflicts(chat_id)

    async def _refresh_groups(self, school_id: str, user_id: str) -> None:
        for member in await self.members.of_user(user_id, school_id):
            if member.chat_id.startswith("grp-"):
                await self._refresh_conflicts(member.chat_id)

    async def profile_changed(self, profile: Profile, version: int) -> None:
        await self.projections.put_profile(profile, version)

    async def consent_changed(self, user_id: str, awaiting_guardian: bool, version: int) -> None:
        """Consent comes with its own version of the user aggregate; the name we have stays."""
        current = await self.facts.profile(user_id)
        display = current.display_name if current else ""
        await self.projections.put_profile(Profile(user_id, display, awaiting_guardian), version)

    async def account_deleted(self, user_id: str, version: int) -> None:
        await self.projections.put_profile(Profile(user_id, "Deleted account", deleted=True), version)
        chat_ids = await remove_everywhere(self.members, user_id)
        for chat_id in chat_ids:
            await refresh_count(self.chats, self.members, chat_id)
            if chat_id.startswith("grp-"):
                await self._refresh_conflicts(chat_id)
        self.notify()

    async def lesson_event(self, room_id: str, school_id: str, class_id: str, note: SystemNote, kind: str) -> None:
        """A system message in the class chat ("lesson started" …), once per room and kind."""
        await self._system_message(class_chat_id(class_id), school_id, note, f"room:{room_id}:{kind}")

    async def lesson_planned(
        self,
        room_id: str,
        school_id: str,
        class_id: str,
        change: str,
        subject: str,
        starts_at: datetime,
        event_id: str,
    ) -> None:
        """A timetable lesson scheduled, changed or cancelled, in the class chat: once per event (the
        event id is the key, so a redelivered or replayed event posts nothing new). The time is the
        school's wall clock."""
        school = await self.facts.school(school_id)
        tz = zone(school.timezone if school else "", self.default_timezone)
        note = lesson_note(change, subject, starts_at, tz)
        await self._system_message(class_chat_id(class_id), school_id, note, f"room:{room_id}:{change}:{event_id}")

    async def material_published(self, material: Material) -> None:
        """«Опубликован материал: «…»» where the material's audience reads: a class's chat and its
        parents' chat (parents are in the audience but not in the class chat), or the school
        channel. Once per material and chat: the material id is the key, so a retried publish (the
        same request id gives the same material) or a replay posts nothing new."""
        chat_ids: tuple[str, ...] = (school_channel_id(material.school_id),)
        if material.class_id:
            chat_ids = (class_chat_id(material.class_id), parents_chat_id(material.class_id))
        note = material_published(material.material_id, material.title)
        for chat_id in chat_ids:
            await self._system_message(chat_id, material.school_id, note, f"material:{material.material_id}:{chat_id}")

    async def _system_message(self, chat_id: str, school_id: str, note: SystemNote, key: str) -> None:
        """Posts once per key: replays and duplicate deliveries find the same message id. The body
        is the text in the school's locale (when written); clients that know the note's kind render it
        in the reader's language."""
        message_id = message_id_for("\x00system", key)  # no user id starts with NUL
        if await self.messages.get(message_id) is not None:
            return
        school = await self.facts.school(school_id)
        text = note_text(note, school.locale if school else "")
        seq = await self.messages.next_seq(chat_id)
        message = Message(
            chat_id=chat_id,
            message_id=message_id,
            seq=seq,
            update_seq=seq,
            school_id=school_id,
            sender_user_id="",
            text=text,
            sent_at=self.clock.now(),
            system=True,
            system_note=note,
        )
        try:
            await self.messages.add(message, [ev.MessagePosted(message)])
        except DuplicateMessage:
            await self.messages.burn_seq(chat_id, seq)
            return
        self.notify()
