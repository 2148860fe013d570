"""Moderation use cases: members report messages; the school's moderators read the queue and act
(dismiss, delete, mute, remove), every decision recorded with who and why; reporters read the
outcome of their reports; moderators of a chat mute its members."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from parta_common import safety, validation
from parta_common.clock import Clock
from parta_common.errors import ConcurrentChange, InvalidArgument, NotFound, PermissionDenied, Violations

from chat.app.access import Access
from chat.app.chats import check_chat_id
from chat.app.conflicts import refresh_conflicts
from chat.app.ports import (
    ChatRepository,
    MemberRepository,
    MessageRepository,
    Notifier,
    Policies,
    ReportRepository,
)
from chat.app.writes import refresh_count, set_grant
from chat.domain import events as ev
from chat.domain import rules
from chat.domain.moderation import (
    Decision,
    Report,
    ReportAction,
    Scope,
    check_actions,
    decide,
    ensure_covers,
    moderation_scope,
)
from chat.domain.sealing import Sealer

_NS = uuid.UUID("0b8f3c2e-8f1d-4c51-9d7e-2a6c1d1f5e77")
MAX_MUTE_SECONDS = 366 * 86400
MAX_NOTE_CHARS = 1000


def report_id_for(reporter: str, chat_id: str, seq: int) -> str:
    return str(uuid.uuid5(_NS, f"report\x1f{reporter}\x1f{chat_id}\x1f{seq}"))


def _limit(v: Violations, limit: int) -> int:
    if not 0 <= limit <= 100:
        v.add("limit", "must be within 0..100")
    return limit or 50


@dataclass
class Moderation:
    members: MemberRepository
    messages: MessageRepository
    reports: ReportRepository
    access: Access
    clock: Clock
    chats: ChatRepository | None = None
    notify: Notifier | None = None
    policies: Policies | None = None
    # Seals deleted content into MessageDeleted (domain/sealing.py); None: no sealing key configured.
    sealer: Sealer | None = None

    async def report(self, user_id: str, chat_id: str, seq: int, reason: str) -> str:
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        validation.check_text(v, "reason", reason, rules.MAX_REPORT_CHARS, required=False, prose=True)
        v.raise_if_any()
        chat, _member = await self.access.check(chat_id, user_id, moderation=False)
        now = self.clock.now()
        message = rules.ensure_visible(await self.messages.get_by_seq(chat_id, seq), user_id, now)
        report = Report(
            report_id_for(user_id, chat_id, seq),
            chat_id,
            seq,
            user_id,
            reason,
            now,
            school_id=chat.school_id,
            chat_kind=chat.kind,
            class_id=chat.class_id,
            message=message,
        )
        await self.reports.add(report, [ev.MessageReported(report)])
        self._notify()  # the relay publishes MessageReported now, not at its next poll
        return report.report_id

    async def mute(self, user_id: str, chat_id: str, target: str, duration_seconds: int) -> datetime | None:
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_id(v, "user_id", target)
        if not 0 <= duration_seconds <= MAX_MUTE_SECONDS:
            v.add("duration_seconds", "must be within 0..366 days")
        v.raise_if_any()
        chat, member = await self.access.check(chat_id, user_id)
        rules.ensure_moderator(member)
        if await self.members.get(chat_id, target) is None:
            raise NotFound("not a member of this chat", reason="MEMBER_NOT_FOUND")
        if target == user_id:
            raise InvalidArgument.field("user_id", "moderators do not mute themselves")
        now = self.clock.now()
        until = now + timedelta(seconds=duration_seconds) if duration_seconds else None
        muted = ev.MemberMuted(chat_id, chat.school_id, target, user_id, until, now)
        await self.members.set_muted(chat_id, target, until, [muted])
        self._notify()
        return until

    # ---- the queue --------------------------------------------------------------------------------

    async def _scope(self, school_id: str, user_id: str) -> Scope:
        person = await self.access.person(school_id, user_id, with_profile=False)
        if not person.active:
            raise PermissionDenied("not a member of this school", reason=safety.NOT_A_SCHOOL_MEMBER)
        return moderation_scope(person)

    async def list_reports(self, user_id: str, school_id: str, include_closed: bool, limit: int) -> list[Report]:
        v = Violations()
        rules.check_id(v, "school_id", school_id)
        limit = _limit(v, limit)
        v.raise_if_any()
        scope = await self._scope(school_id, user_id)
        if scope.everything:
            return await self.reports.of_school(school_id, include_closed=include_closed, limit=limit)
        found = await self.reports.of_school(
            school_id, include_closed=include_closed, limit=limit, classes=sorted(scope.classes)
        )
        return [r for r in found if scope.covers(r)]  # the store's filter, checked once more

    async def act(
        self, user_id: str, report_id: str, actions: list[ReportAction], note: str, mute_seconds: int
    ) -> Report:
        v = Violations()
        rules.check_id(v, "report_id", report_id)
        validation.check_text(v, "note", note, MAX_NOTE_CHARS, required=True, prose=True)
        v.raise_if_any()
        found = await self.reports.get(report_id)
        if found is None:
            raise NotFound("no such report", reason="REPORT_NOT_FOUND")
        report = ensure_covers(await self._scope(found.school_id, user_id), found)
        check_actions(actions, mute_seconds, report.chat_kind)
        now = self.clock.now()
        muted_until = now + timedelta(seconds=mute_seconds) if ReportAction.MUTE_AUTHOR in actions else None
        decision = Decision(tuple(dict.fromkeys(actions)), user_id, note, now, muted_until)
        decided = decide(report, decision)  # refuses before anything is done
        for action in decision.actions:
            await self._apply(action, report, user_id, muted_until, now)
        if not await self.reports.decide(decided, len(report.decisions), [ev.ReportDecided(decided)]):
            raise ConcurrentChange("the report changed meanwhile; retry")
        self._notify()
        return decided

    async def _apply(
        self, action: ReportAction, report: Report, moderator: str, muted_until: datetime | None, now: datetime
    ) -> None:
        author = report.author
        if action is ReportAction.DELETE_MESSAGE:
            await self._delete(report, moderator)
        elif action is ReportAction.MUTE_AUTHOR:
            if await self.members.get(report.chat_id, author) is not None:
                muted = ev.MemberMuted(report.chat_id, report.school_id, author, moderator, muted_until, now)
                await self.members.set_muted(report.chat_id, author, muted_until, [muted])
        elif action is ReportAction.REMOVE_FROM_CHAT:
            await self._remove(report, author, moderator)

    async def _delete(self, report: Report, moderator: str) -> None:
        for _attempt in range(5):
            message = await self.messages.get_by_seq(report.chat_id, report.seq)
            if message is None or message.deleted:
                return
            changed = replace(
                message,
                text="",
                file_ids=[],
                reactions=[],
                deleted=True,
                update_seq=await self.messages.next_seq(report.chat_id),
            )
            deleted = ev.MessageDeleted(changed, moderator, self.sealer.seal(message) if self.sealer else None)
            if await self.messages.save(changed, message.update_seq, [deleted]):
                self._notify()
                return
            await self.messages.burn_seq(report.chat_id, changed.update_seq)
        raise ConcurrentChange("the message keeps changing; retry")

    async def _remove(self, report: Report, author: str, moderator: str) -> None:
        assert self.chats is not None and self.policies is not None
        chat_id, school_id = report.chat_id, report.school_id
        await set_grant(self.members, chat_id, school_id, author, "added", None, by=moderator)
        await set_grant(self.members, chat_id, school_id, author, "creator", None, by=moderator)
        await refresh_count(self.chats, self.members, chat_id)
        await refresh_conflicts(self.chats, self.members, self.messages, self.access.facts, self.policies, chat_id)
        self._notify()

    def _notify(self) -> None:
        if self.notify is not None:
            self.notify()

    async def my_reports(self, user_id: str, limit: int) -> list[Report]:
        v = Violations()
        limit = _limit(v, limit)
        v.raise_if_any()
        return await self.reports.of_reporter(user_id, limit)
