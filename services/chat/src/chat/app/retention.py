"""Retention of ended academic years (docs/chat.md "Retention"): the clocks school's events start,
the job that archives and then purges chats whose time is up, and the admins' view of it.

The job is safe to run on every replica at once and to repeat: each chat is claimed for a step by a
conditional write (a lease with this replica's token, taken only while the chat is still at that
stage and nobody else holds a live lease), every step is written so that doing it again changes
nothing, and a chat moves to its next stage by one more conditional write carrying the step's event.
Work per tick is bounded (`batch` messages or files, `chats_per_tick` chats per school); a purge too
large for one tick goes on at the next.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

import structlog
from parta_common.clock import Clock
from parta_common.errors import NotFound, PermissionDenied, Violations
from parta_common.pagination import encode_page_token, page_offset, page_size
from parta_common.retention import RetentionRule

from chat.app.access import Access
from chat.domain import rules
from chat.domain.retention import Counts, RetainedChat, Stage

log = structlog.get_logger("chat.retention")
T = TypeVar("T")


class RetentionStore(Protocol):
    """Retention's reads and conditional writes (adapters/mongo/retention.py; a fake in the unit tests)."""

    async def put_rule(self, school_id: str, rule: RetentionRule, version: int) -> None: ...
    async def rules(self) -> list[tuple[str, RetentionRule]]: ...
    async def rule(self, school_id: str) -> RetentionRule: ...
    async def start_clocks(self, school_id: str, chat_ids: list[str], at: datetime, year: str) -> int: ...
    async def start_clocks_of_archived(self, school_id: str, at: datetime, year: str) -> int: ...
    async def due(self, school_id: str, stage: Stage, before: datetime, limit: int) -> list[RetainedChat]: ...
    async def claim(
        self, chat_id: str, stage: Stage, token: str, now: datetime, until: datetime
    ) -> RetainedChat | None: ...
    async def release(self, chat_id: str, token: str) -> None: ...
    async def write_archive(self, chat: RetainedChat, at: datetime) -> tuple[str, int]: ...
    async def hide(self, chat_id: str) -> int: ...
    async def mark_archived(
        self, chat: RetainedChat, token: str, at: datetime, purge_after: datetime, file_id: str, counts: Counts
    ) -> bool: ...
    async def purge_messages(self, chat_id: str, limit: int) -> int: ...
    async def purge_files(self, chat: RetainedChat, limit: int, at: datetime) -> int: ...
    async def purge_rest(self, chat: RetainedChat) -> Counts: ...
    async def mark_purged(self, chat: RetainedChat, token: str, at: datetime, counts: Counts) -> bool: ...
    async def list_school(self, school_id: str, offset: int, limit: int) -> list[RetainedChat]: ...
    async def archive_school(self, file_id: str) -> str | None: ...


@dataclass
class TickReport:
    archived: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)
    # Purges begun and not finished within this tick's budget (they go on at the next).
    continuing: list[str] = field(default_factory=list)
    # Steps that failed (logged; tried again at the next run).
    failed: list[str] = field(default_factory=list)
    spent: int = 0


@dataclass
class RetentionClocks:
    """What school's events tell retention (the provisioning consumer calls these)."""

    store: RetentionStore

    async def school_rule(self, school_id: str, rule: RetentionRule, version: int) -> None:
        await self.store.put_rule(school_id, rule, version)

    async def class_graduated(self, school_id: str, class_id: str, at: datetime) -> None:
        """ClassArchived "graduated": the rollover ended the class's last year."""
        await self.store.start_clocks(school_id, _class_chats(class_id), at, "")

    async def year_started(self, school_id: str, ended_year: str, graduated: list[str], at: datetime) -> None:
        """AcademicYearStarted: the year `ended_year` ended at `at` — for the classes it graduated, and for
        every class archived during it (their chats have no clock yet). A clock once started stays."""
        await self.store.start_clocks(school_id, [c for g in graduated for c in _class_chats(g)], at, ended_year)
        await self.store.start_clocks_of_archived(school_id, at, ended_year)


def _class_chats(class_id: str) -> list[str]:
    return [f"cls-{class_id}", f"par-{class_id}"]


@dataclass
class RetentionJob:
    store: RetentionStore
    clock: Clock
    batch: int = 500
    chats_per_tick: int = 20
    lease: timedelta = timedelta(minutes=10)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    async def tick(self) -> TickReport:
        report = TickReport()
        await self._work(self.clock.now(), report)
        return report

    async def _work(self, now: datetime, report: TickReport) -> None:
        for school_id, rule in await self.store.rules():
            keep_from = now - timedelta(days=rule.keep_days)
            for chat in await self.store.due(school_id, Stage.KEPT, keep_from, self.chats_per_tick):
                if report.spent >= self.batch:
                    return
                written = await self._step(report, chat, self._archive(chat, rule, now)) or 0
                if written:
                    report.archived.append(chat.chat_id)
                report.spent += max(written, 1)
            for chat in await self.store.due(school_id, Stage.ARCHIVED, now, self.chats_per_tick):
                if report.spent >= self.batch:
                    return
                purged = await self._step(report, chat, self._purge(chat, now, self.batch - report.spent))
                removed, done = purged if purged is not None else (0, False)
                if done:
                    report.purged.append(chat.chat_id)
                elif removed:
                    report.continuing.append(chat.chat_id)
                report.spent += max(removed, 1)

    async def _step(self, report: TickReport, chat: RetainedChat, step: Awaitable[T]) -> T | None:
        """One chat's step; a failure is logged and the run goes on with the next chat (one chat that
        cannot be archived must not hold back every other school's), tried again at the next run."""
        try:
            return await step
        except Exception as exc:
            log.warning(
                "retention_step_failed", chat_id=chat.chat_id, school_id=chat.school_id, error=type(exc).__name__
            )
            report.failed.append(chat.chat_id)
            return None

    async def _archive(self, chat: RetainedChat, rule: RetentionRule, now: datetime) -> int:
        """Archive one chat; the number of messages it wrote (0: another replica has it, or had it)."""
        claimed = await self.store.claim(chat.chat_id, Stage.KEPT, self.token, now, now + self.lease)
        if claimed is None:
            return 0
        try:
            file_id, messages = await self.store.write_archive(claimed, now)
            members = await self.store.hide(claimed.chat_id)
            counts = Counts(messages=messages, members=members)
            if not await self.store.mark_archived(claimed, self.token, now, rule.purge_at(now), file_id, counts):
                return 0  # the lease ran out and another replica finished it
        except BaseException:
            await self.store.release(claimed.chat_id, self.token)
            raise
        log.info("retention_archived", chat_id=claimed.chat_id, school_id=claimed.school_id, messages=messages)
        return max(messages, 1)

    async def _purge(self, chat: RetainedChat, now: datetime, budget: int) -> tuple[int, bool]:
        """Purge one chat as far as `budget` allows: (documents removed, finished)."""
        claimed = await self.store.claim(chat.chat_id, Stage.ARCHIVED, self.token, now, now + self.lease)
        if claimed is None:
            return 0, False
        try:
            removed = await self.store.purge_messages(claimed.chat_id, budget)
            if removed < budget:
                removed += await self.store.purge_files(claimed, budget - removed, now)
            if removed >= budget:
                await self.store.release(claimed.chat_id, self.token)  # more next tick
                return removed, False
            counts = await self.store.purge_rest(claimed)
            done = await self.store.mark_purged(claimed, self.token, now, counts)
        except BaseException:
            await self.store.release(claimed.chat_id, self.token)
            raise
        if done:
            log.info(
                "retention_purged",
                chat_id=claimed.chat_id,
                school_id=claimed.school_id,
                messages=counts.messages,
                files_deleted=counts.files_deleted,
            )
        return removed, done


@dataclass
class RetentionAdmin:
    """The school's admins: which chats of ended years are kept, archived or purged, and their archives."""

    store: RetentionStore
    access: Access

    async def _as_school_admin(self, user_id: str, school_id: str) -> None:
        person = await self.access.person(school_id, user_id, with_profile=False)
        if not person.active:
            raise NotFound("no such school", reason="SCHOOL_NOT_FOUND")
        if not person.is_admin:
            raise PermissionDenied("only the school's admins see its retention", reason="NOT_AN_ADMIN")

    async def list_retained(
        self, user_id: str, school_id: str, requested_size: int, page_token: str
    ) -> tuple[list[RetainedChat], RetentionRule, str]:
        v = Violations()
        rules.check_id(v, "school_id", school_id)
        v.raise_if_any()
        size = page_size(requested_size)
        offset = page_offset(page_token)
        await self._as_school_admin(user_id, school_id)
        chats = await self.store.list_school(school_id, offset, size + 1)
        token = encode_page_token({"o": offset + size}) if len(chats) > size else ""
        return chats[:size], await self.store.rule(school_id), token

    async def may_read_archive(self, user_id: str, file_id: str) -> bool:
        """FileService.DownloadFile's grant for an archive: the admins of its school, while it exists."""
        school_id = await self.store.archive_school(file_id)
        if school_id is None:
            return False
        person = await self.access.person(school_id, user_id, with_profile=False)
        return person.active and person.is_admin
