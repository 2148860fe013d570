"""Moderation use cases: members report messages, moderators mute members."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from parta_common import validation
from parta_common.clock import Clock
from parta_common.errors import InvalidArgument, NotFound, Violations

from chat.app.access import Access
from chat.app.chats import check_chat_id
from chat.app.ports import MemberRepository, MessageRepository, ReportRepository
from chat.domain import rules
from chat.domain.moderation import Report

_NS = uuid.UUID("0b8f3c2e-8f1d-4c51-9d7e-2a6c1d1f5e77")
MAX_MUTE_SECONDS = 366 * 86400


def report_id_for(reporter: str, chat_id: str, seq: int) -> str:
    return str(uuid.uuid5(_NS, f"report\x1f{reporter}\x1f{chat_id}\x1f{seq}"))


@dataclass
class Moderation:
    members: MemberRepository
    messages: MessageRepository
    reports: ReportRepository
    access: Access
    clock: Clock

    async def report(self, user_id: str, chat_id: str, seq: int, reason: str) -> str:
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        validation.check_text(v, "reason", reason, rules.MAX_REPORT_CHARS, required=False, prose=True)
        v.raise_if_any()
        await self.access.check(chat_id, user_id, moderation=False)
        now = self.clock.now()
        rules.ensure_visible(await self.messages.get_by_seq(chat_id, seq), user_id, now)
        report = Report(report_id_for(user_id, chat_id, seq), chat_id, seq, user_id, reason, now)
        await self.reports.add(report)
        return report.report_id

    async def mute(self, user_id: str, chat_id: str, target: str, duration_seconds: int) -> datetime | None:
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_id(v, "user_id", target)
        if not 0 <= duration_seconds <= MAX_MUTE_SECONDS:
            v.add("duration_seconds", "must be within 0..366 days")
        v.raise_if_any()
        _chat, member = await self.access.check(chat_id, user_id)
        rules.ensure_moderator(member)
        if await self.members.get(chat_id, target) is None:
            raise NotFound("not a member of this chat", reason="MEMBER_NOT_FOUND")
        if target == user_id:
            raise InvalidArgument.field("user_id", "moderators do not mute themselves")
        until = self.clock.now() + timedelta(seconds=duration_seconds) if duration_seconds else None
        await self.members.set_muted(chat_id, target, until)
        return until
