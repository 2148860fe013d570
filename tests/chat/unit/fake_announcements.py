"""In-memory AnnouncementRepository (app/announcements.py's port) for unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from chat.app.announcements import Announcements, build_announcements
from chat.domain import events as ev
from chat.domain.announcements import Announcement, Confirmation, Family, Reminder
from chat.domain.provisioning import ClassRole, Membership

from tests.chat.unit.fakes import FakeFacts, Fakes


@dataclass
class FakeAnnouncements:
    facts: FakeFacts
    rows: dict[str, Announcement] = field(default_factory=dict)
    asked: dict[tuple[str, str], Family] = field(default_factory=dict)
    stored: dict[tuple[str, str], Confirmation] = field(default_factory=dict)
    reminders: dict[tuple[str, str, str], Reminder] = field(default_factory=dict)
    events: list[ev.ChatEvent] = field(default_factory=list)

    async def class_memberships(self, school_id: str, class_id: str) -> list[Membership]:
        return [
            m
            for m in self.facts.memberships
            if m.school_id == school_id
            and m.active
            and (not class_id or m.class_id == class_id)
            and m.class_role in (ClassRole.STUDENT, ClassRole.PARENT)
        ]

    async def add(self, announcement: Announcement) -> Announcement:
        for f in announcement.families:
            self.asked.setdefault((announcement.announcement_id, f.child_user_id), f)
        stored = self.rows.setdefault(announcement.announcement_id, replace(announcement, families=[]))
        return stored

    async def get_by_seq(self, chat_id: str, seq: int) -> Announcement | None:
        return next((a for a in self.rows.values() if a.chat_id == chat_id and a.seq == seq), None)

    async def in_chat(self, chat_id: str, limit: int) -> list[Announcement]:
        return sorted((a for a in self.rows.values() if a.chat_id == chat_id), key=lambda a: -a.seq)[:limit]

    async def families(
        self, announcement_id: str, child_user_ids: Sequence[str] | None = None
    ) -> list[tuple[Family, Confirmation | None]]:
        return sorted(
            (
                (f, self.stored.get((a, child)))
                for (a, child), f in self.asked.items()
                if a == announcement_id and (child_user_ids is None or child in child_user_ids)
            ),
            key=lambda row: row[0].child_user_id,
        )

    async def claim(self, confirmation: Confirmation) -> Confirmation | None:
        key = (confirmation.announcement_id, confirmation.child_user_id)
        assert key in self.asked
        if key in self.stored:
            return self.stored[key]
        self.stored[key] = confirmation
        return None

    async def count_up(self, announcement_id: str) -> int:
        a = self.rows[announcement_id]
        self.rows[announcement_id] = replace(a, confirmed_count=a.confirmed_count + 1)
        return a.confirmed_count + 1

    async def publish(self, confirmation: Confirmation, events: Sequence[ev.ChatEvent]) -> None:
        self.events += events

    async def claim_reminder(self, reminder: Reminder) -> bool:
        key = (reminder.announcement_id, reminder.child_user_id, reminder.day)
        if key in self.reminders:
            return False
        self.reminders[key] = reminder
        return True

    async def reminded(self, announcement_id: str) -> dict[str, datetime]:
        out: dict[str, datetime] = {}
        for (a, child, _day), r in self.reminders.items():
            if a == announcement_id and (child not in out or out[child] < r.at):
                out[child] = r.at
        return out


def announcements_on(fakes: Fakes) -> tuple[Announcements, FakeAnnouncements]:
    repo = FakeAnnouncements(fakes.facts)
    app = build_announcements(repo, fakes.app.chats, fakes.app.messages, fakes.clock, fakes._notify)
    return app, repo
