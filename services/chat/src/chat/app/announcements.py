"""Announcement use cases: post, confirm (once per family), status, remind (once per family per
school day), list. The rules are domain/announcements.py's; docs/chat.md "Announcements".

Exact counts under concurrency: each family asked is one stored row (announcement, child), written
when the announcement is posted; confirming is a conditional write on it (only while unconfirmed),
so of any number of concurrent confirmations of one family exactly one wins; the status counts the
confirmed rows. The live count is the announcement's $inc counter, bumped after each winning
confirmation and carried by its AnnouncementConfirmed event (the highest one seen is the count).
A confirmation reads only the confirmer's own family rows, never the whole audience.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import structlog
from parta_common import validation
from parta_common.clock import Clock
from parta_common.errors import DomainError, InvalidArgument, ResourceExhausted, Violations

from chat.app.access import Access
from chat.app.chats import Chats, check_chat_id
from chat.app.messages import Messages
from chat.app.ports import Notifier, SchoolFacts
from chat.domain import announcements as rules
from chat.domain import events as ev
from chat.domain.announcements import Announcement, Confirmation, Family, Reminder
from chat.domain.messages import Message
from chat.domain.provisioning import Membership
from chat.domain.rules import check_at_seq, check_id, ensure_at_seq
from chat.domain.system_notes import reminder_text

log = structlog.get_logger("chat.announcements")

LIST_LIMIT = 50
REMINDER_EXCERPT = 200


class AnnouncementRepository(Protocol):
    """Announcements, their families (one row each, carrying its confirmation) and reminders (one
    per family per day)."""

    async def class_memberships(self, school_id: str, class_id: str) -> list[Membership]:
        """The active seats of a class ("" = every class of the school) from the school projection."""

    async def add(self, announcement: Announcement) -> Announcement:
        """Stores it and its families unless its id exists; returns what is stored (the first one
        on a retry), without its families."""

    async def get_by_seq(self, chat_id: str, seq: int) -> Announcement | None:
        """Without its families."""

    async def in_chat(self, chat_id: str, limit: int) -> list[Announcement]:
        """Newest first, without their families."""

    async def families(
        self, announcement_id: str, child_user_ids: Sequence[str] | None = None
    ) -> list[tuple[Family, Confirmation | None]]:
        """Every family asked (None), or those of the given children that are asked."""

    async def claim(self, confirmation: Confirmation) -> Confirmation | None:
        """Confirms the family if it is not yet; None when confirmed now, else the earlier one."""

    async def count_up(self, announcement_id: str) -> int:
        """Bumps the live counter; the value after."""

    async def publish(self, confirmation: Confirmation, events: Sequence[ev.ChatEvent]) -> None:
        """Attaches `events` to the confirmed family's row (its outbox)."""

    async def claim_reminder(self, reminder: Reminder) -> bool:
        """False when the family was reminded on that day already."""

    async def reminded(self, announcement_id: str) -> dict[str, datetime]:
        """The last reminder of each family reminded."""


@dataclass(frozen=True)
class FamilyState:
    family: Family
    confirmation: Confirmation | None = None
    reminded_at: datetime | None = None


@dataclass(frozen=True)
class AnnouncementView:
    announcement: Announcement
    closed: bool
    mine: list[FamilyState]


@dataclass(frozen=True)
class ConfirmResult:
    view: AnnouncementView
    confirmed: list[tuple[Confirmation, bool]]  # (the family's confirmation, confirmed before this call)


@dataclass(frozen=True)
class StatusView:
    view: AnnouncementView
    confirmed: list[FamilyState]
    unconfirmed: list[FamilyState]


@dataclass(frozen=True)
class RemindResult:
    reminded: list[str]
    reached: list[str]
    skipped: list[str]
    unreached: list[str]


@dataclass
class Announcements:
    repo: AnnouncementRepository
    access: Access
    chats: Chats
    messages: Messages
    facts: SchoolFacts
    clock: Clock
    notify: Notifier
    default_timezone: str = "Europe/Moscow"

    async def post(
        self,
        user_id: str,
        chat_id: str,
        client_message_id: str,
        text: str,
        deadline: datetime | None,
        students_confirm: bool,
    ) -> tuple[AnnouncementView, Message]:
        v = Violations()
        check_chat_id(chat_id, v)
        check_id(v, "client_message_id", client_message_id)
        validation.check_text(v, "text", text, self.messages.policy.max_text_chars, required=True, prose=True)
        now = self.clock.now()
        if deadline is not None and deadline <= now:
            v.add("deadline", "must be in the future")
        v.raise_if_any()
        chat, _member = await self.access.announcer(chat_id, user_id, rules.ensure_announcement_chat)
        families = rules.families_of(await self.repo.class_memberships(chat.school_id, chat.class_id), chat.class_id)
        if len(families) > rules.MAX_FAMILIES:
            raise InvalidArgument.field("chat_id", f"at most {rules.MAX_FAMILIES} families per announcement")
        sent = await self.messages.send_message(user_id, chat_id, client_message_id, text)
        message = sent.message
        posted = await self.repo.get_by_seq(chat_id, message.seq)
        if posted is not None:  # a retry: the families asked stay those of the first post
            return AnnouncementView(posted, posted.closed(now), []), message
        announcement = await self.repo.add(
            Announcement(
                announcement_id=message.message_id,
                chat_id=chat_id,
                seq=message.seq,
                school_id=chat.school_id,
                author_user_id=user_id,
                text=text,
                posted_at=message.sent_at,
                family_count=len(families),
                families=families,
                deadline=deadline,
                students_confirm=rules.students_confirm(chat, students_confirm),
            )
        )
        log.info("announcement_posted", chat_id=chat_id, seq=message.seq, families=len(families))
        return AnnouncementView(announcement, announcement.closed(now), []), message

    async def _find(self, chat_id: str, seq: int) -> Announcement:
        return ensure_at_seq(await self.repo.get_by_seq(chat_id, seq), "announcement", "ANNOUNCEMENT_NOT_FOUND")

    async def confirm(self, user_id: str, chat_id: str, seq: int) -> ConfirmResult:
        check_at_seq(chat_id, seq)
        chat, _member = await self.access.check(chat_id, user_id, moderation=False)
        # The announcement and the confirmer's seats are independent reads: one round trip for both.
        announcement, person = await asyncio.gather(
            self._find(chat_id, seq), self.access.person(chat.school_id, user_id, with_profile=False)
        )
        rows = await self.repo.families(announcement.announcement_id, rules.asked_for(person))
        families = rules.confirmable(announcement, person, [f for f, _ in rows])
        before = {f.child_user_id: c for f, c in rows if c is not None}
        now = self.clock.now()
        if announcement.closed(now):
            # A retry of a confirmation made in time still gets its answer; a new one is refused.
            if any(f.child_user_id not in before for f in families):
                rules.ensure_open(announcement, now)
            done = [(before[f.child_user_id], True) for f in families]
            return ConfirmResult(self._view(announcement, now, families, [c for c, _ in done]), done)
        results: list[tuple[Confirmation, bool]] = []
        count = announcement.confirmed_count
        for family in families:
            if family.child_user_id in before:
                results.append((before[family.child_user_id], True))
                continue
            mine = Confirmation(announcement.announcement_id, family.child_user_id, user_id, now)
            earlier = await self.repo.claim(mine)
            if earlier is not None:
                results.append((earlier, True))
                continue
            count = await self.repo.count_up(announcement.announcement_id)
            event = ev.AnnouncementConfirmed(
                chat_id, announcement.seq, announcement.author_user_id, mine, count, announcement.family_count
            )
            await self.repo.publish(mine, [event])
            self.notify()
            results.append((mine, False))
        announcement = replace(announcement, confirmed_count=max(count, announcement.confirmed_count))
        return ConfirmResult(self._view(announcement, now, families, [c for c, _ in results]), results)

    def _view(
        self, announcement: Announcement, now: datetime, families: list[Family], confirmations: list[Confirmation]
    ) -> AnnouncementView:
        by_child = {c.child_user_id: c for c in confirmations}
        mine = [FamilyState(f, by_child.get(f.child_user_id)) for f in families]
        return AnnouncementView(announcement, announcement.closed(now), mine)

    async def status(self, user_id: str, chat_id: str, seq: int) -> StatusView:
        check_at_seq(chat_id, seq)
        _chat, member = await self.access.check(chat_id, user_id)
        announcement = await self._find(chat_id, seq)
        rules.ensure_may_watch(announcement, member)
        rows = await self.repo.families(announcement.announcement_id)
        reminded = await self.repo.reminded(announcement.announcement_id)
        confirmed: list[FamilyState] = []
        unconfirmed: list[FamilyState] = []
        for f, c in rows:
            state = FamilyState(f, c, reminded.get(f.child_user_id))
            (confirmed if c else unconfirmed).append(state)
        exact = replace(announcement, confirmed_count=len(confirmed), family_count=len(rows))
        return StatusView(AnnouncementView(exact, exact.closed(self.clock.now()), []), confirmed, unconfirmed)

    async def remind(self, user_id: str, chat_id: str, seq: int) -> RemindResult:
        check_at_seq(chat_id, seq)
        chat, member = await self.access.check(chat_id, user_id)
        announcement = await self._find(chat_id, seq)
        rules.ensure_may_watch(announcement, member)
        now = self.clock.now()
        rules.ensure_open(announcement, now)
        unconfirmed = [f for f, c in await self.repo.families(announcement.announcement_id) if c is None]
        school = await self.facts.school(chat.school_id)
        day, wait = rules.school_day(now, school.timezone if school and school.timezone else self.default_timezone)
        reminded: list[str] = []
        skipped: list[str] = []
        people: dict[str, None] = {}
        for family in unconfirmed:
            to = tuple(rules.confirmers(announcement, family))
            claim = Reminder(announcement.announcement_id, family.child_user_id, day, now, user_id, to)
            if not await self.repo.claim_reminder(claim):
                skipped.append(family.child_user_id)
                continue
            reminded.append(family.child_user_id)
            people.update(dict.fromkeys(p for p in to if p != user_id))
        if unconfirmed and not reminded:
            raise ResourceExhausted(
                "every unconfirmed family was reminded today; remind again tomorrow",
                retry_after_seconds=wait,
                reason="REMINDER_LIMIT",
            )
        text = _reminder_text(school.locale if school else "", chat.title, announcement.text)
        reached: list[str] = []
        unreached: list[str] = []
        for person in people:
            try:
                dm = await self.chats.open_direct_chat(user_id, chat.school_id, person)
                await self.messages.send_message(
                    user_id, dm.chat.chat_id, reminder_message_id(announcement.announcement_id, person, day), text
                )
            except DomainError as exc:
                log.info("announcement_reminder_refused", chat_id=chat_id, seq=seq, reason=exc.reason)
                unreached.append(person)
                continue
            reached.append(person)
        log.info("announcement_reminded", chat_id=chat_id, seq=seq, families=len(reminded), skipped=len(skipped))
        return RemindResult(reminded, reached, skipped, unreached)

    async def list(self, user_id: str, chat_id: str) -> list[AnnouncementView]:
        v = Violations()
        check_chat_id(chat_id, v)
        v.raise_if_any()
        chat, _member = await self.access.check(chat_id, user_id, moderation=False)
        person = await self.access.person(chat.school_id, user_id, with_profile=False)
        now = self.clock.now()
        out = []
        asked = rules.asked_for(person)
        for announcement in await self.repo.in_chat(chat_id, LIST_LIMIT):
            rows = await self.repo.families(announcement.announcement_id, asked)
            try:
                families = rules.confirmable(announcement, person, [f for f, _ in rows])
            except DomainError:
                families = []  # staff, or a student where guardians confirm: nothing of theirs to confirm
            confirmations = [c for _, c in rows if c is not None]
            out.append(self._view(announcement, now, families, confirmations))
        return out


def reminder_message_id(announcement_id: str, person: str, day: str) -> str:
    """The reminder DM's client message id: one per announcement, person and day (a retry of the
    same day's reminder is the same message), within the 64 characters an id may have."""
    return "remind-" + hashlib.sha256(f"{announcement_id}|{person}|{day}".encode()).hexdigest()[:40]


def reminder_excerpt(text: str) -> str:
    """What of the announcement's text a reminder quotes (its erasure strips it, app/erasure.py)."""
    return text if len(text) <= REMINDER_EXCERPT else text[: REMINDER_EXCERPT - 1] + "…"


def _reminder_text(locale: str, chat_title: str, text: str) -> str:
    """In the school's locale (system_notes.py)."""
    return reminder_text(locale, chat_title, reminder_excerpt(text))


def build_announcements(
    repo: AnnouncementRepository, chats: Chats, messages: Messages, clock: Clock, notify: Notifier
) -> Announcements:
    """Announcements on the app's chats and messages (they post and remind through them)."""
    return Announcements(
        repo, messages.access, chats, messages, messages.facts, clock, notify, messages.policy.default_timezone
    )
