"""Retention of ended academic years in chat, on an in-memory store: when a chat is archived and
purged (not a day before), a repeated or concurrent run does each step once, work per tick is
bounded, a clock once started stays, and the archive is one JSON document. The Mongo store's own
conditional writes are tested on the real store (tests/chat/integration/test_retention.py)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from chat.app.retention import RetentionClocks, RetentionJob
from chat.domain.chats import ChatKind
from chat.domain.retention import (
    Counts,
    FileFate,
    RetainedChat,
    Stage,
    archive_due,
    archive_footer,
    archive_header,
    archive_message,
    file_fate,
    purge_due,
)
from parta_common.retention import RetentionRule
from parta_common.testing.fakes import FakeClock

pytestmark = pytest.mark.unit

ROLLOVER = datetime(2027, 9, 1, 6, 0, tzinfo=UTC)
RULE = RetentionRule(keep_days=365, archive_grace_days=30)


@dataclass
class Row:
    chat: RetainedChat
    lease: datetime = datetime(1970, 1, 1, tzinfo=UTC)
    by: str = ""


@dataclass
class FakeRetention:
    """RetentionStore in memory; each write yields first, so concurrent jobs interleave."""

    rows: dict[str, Row] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    rules_: dict[str, RetentionRule] = field(default_factory=dict)
    archives_written: list[str] = field(default_factory=list)
    events: list[tuple[str, Stage]] = field(default_factory=list)
    read_only: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)

    async def put_rule(self, school_id, rule, version):  # type: ignore[no-untyped-def]
        self.rules_[school_id] = rule

    async def rules(self):  # type: ignore[no-untyped-def]
        return sorted(self.rules_.items())

    async def rule(self, school_id):  # type: ignore[no-untyped-def]
        return self.rules_.get(school_id, RetentionRule())

    async def start_clocks(self, school_id, chat_ids, at, year):  # type: ignore[no-untyped-def]
        self.rules_.setdefault(school_id, RetentionRule())
        n = 0
        for cid in chat_ids:
            if cid in self.rows:
                if year and not self.rows[cid].chat.academic_year:
                    self.rows[cid].chat = replace(self.rows[cid].chat, academic_year=year)
                continue
            kind = ChatKind.CLASS if cid.startswith("cls-") else ChatKind.CLASS_PARENTS
            self.rows[cid] = Row(RetainedChat(cid, school_id, kind, cid[4:], cid, at, year))
            n += 1
        return n

    async def start_clocks_of_archived(self, school_id, at, year):  # type: ignore[no-untyped-def]
        return await self.start_clocks(school_id, sorted(self.read_only - set(self.rows)), at, year)

    async def due(self, school_id, stage, before, limit):  # type: ignore[no-untyped-def]
        out = []
        for row in self.rows.values():
            c = row.chat
            when = c.retained_from if stage is Stage.KEPT else c.purge_after
            if c.school_id == school_id and c.stage is stage and when is not None and when <= before:
                out.append(c)
        return out[:limit]

    async def claim(self, chat_id, stage, token, now, until):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        row = self.rows[chat_id]
        if row.chat.stage is not stage or row.lease > now:
            return None
        row.lease, row.by = until, token
        return row.chat

    async def release(self, chat_id, token):  # type: ignore[no-untyped-def]
        row = self.rows[chat_id]
        if row.by == token:
            row.lease = datetime(1970, 1, 1, tzinfo=UTC)

    async def write_archive(self, chat, at):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        if chat.chat_id in self.broken:
            raise OSError("the store refused the archive")
        self.archives_written.append(chat.chat_id)
        return f"arch-{chat.chat_id}", self.messages.get(chat.chat_id, 0)

    async def hide(self, chat_id):  # type: ignore[no-untyped-def]
        return 3

    async def mark_archived(self, chat, token, at, purge_after, file_id, counts):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        row = self.rows[chat.chat_id]
        if row.chat.stage is not Stage.KEPT or row.by != token:
            return False
        row.chat = replace(
            row.chat,
            stage=Stage.ARCHIVED,
            archived_at=at,
            purge_after=purge_after,
            archive_file_id=file_id,
            counts=counts,
        )
        row.lease = datetime(1970, 1, 1, tzinfo=UTC)
        self.events.append((chat.chat_id, Stage.ARCHIVED))
        return True

    async def purge_messages(self, chat_id, limit):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        n = min(limit, self.messages.get(chat_id, 0))
        self.messages[chat_id] = self.messages.get(chat_id, 0) - n
        return n

    async def purge_files(self, chat, limit, at):  # type: ignore[no-untyped-def]
        n = min(limit, self.files.get(chat.chat_id, 0))
        self.files[chat.chat_id] = self.files.get(chat.chat_id, 0) - n
        return n

    async def purge_rest(self, chat):  # type: ignore[no-untyped-def]
        return replace(chat.counts, files_deleted=2)

    async def mark_purged(self, chat, token, at, counts):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        row = self.rows[chat.chat_id]
        if row.chat.stage is not Stage.ARCHIVED or row.by != token:
            return False
        row.chat = replace(row.chat, stage=Stage.PURGED, purged_at=at, counts=counts)
        self.events.append((chat.chat_id, Stage.PURGED))
        return True

    async def list_school(self, school_id, offset, limit):  # type: ignore[no-untyped-def]
        return [r.chat for r in self.rows.values() if r.chat.school_id == school_id][offset : offset + limit]

    async def archive_school(self, file_id):  # type: ignore[no-untyped-def]
        return None


async def _graduated(store: FakeRetention, class_id: str = "11a", messages: int = 4, files: int = 2) -> None:
    clocks = RetentionClocks(store)
    await clocks.school_rule("s1", RULE, 3)
    await clocks.year_started("s1", "2026/2027", [class_id], ROLLOVER)
    store.messages[f"cls-{class_id}"] = messages
    store.files[f"cls-{class_id}"] = files


def _stages(store: FakeRetention) -> dict[str, Stage]:
    return {cid: row.chat.stage for cid, row in store.rows.items()}


def test_due_dates_follow_the_rule_from_the_rollover_and_the_archive():
    chat = RetainedChat("cls-1", "s1", ChatKind.CLASS, "1", "11А", ROLLOVER)
    assert not archive_due(chat, RULE, ROLLOVER + timedelta(days=365) - timedelta(seconds=1))
    assert archive_due(chat, RULE, ROLLOVER + timedelta(days=365))
    archived_at = ROLLOVER + timedelta(days=400)  # a late archive: the grace counts from it
    archived = replace(chat, stage=Stage.ARCHIVED, archived_at=archived_at, purge_after=RULE.purge_at(archived_at))
    assert not archive_due(archived, RULE, archived_at + timedelta(days=999))
    assert not purge_due(archived, archived_at + timedelta(days=29))
    assert purge_due(archived, archived_at + timedelta(days=30))
    assert not purge_due(chat, archived_at + timedelta(days=999))


@pytest.mark.parametrize(
    ("others", "material", "owner_is_staff", "fate"),
    [
        (0, False, False, FileFate.DELETE),  # a student's photo shared only in the class chat
        (0, False, True, FileFate.DETACH),  # a teacher's worksheet: stays in the teacher's storage
        (1, False, False, FileFate.DETACH),  # still shared in a live chat
        (0, True, False, FileFate.DETACH),  # published as a school material
    ],
)
def test_what_happens_to_a_file_of_a_purged_chat(others, material, owner_is_staff, fate):  # type: ignore[no-untyped-def]
    assert file_fate(others, material, owner_is_staff) is fate


def test_the_archive_is_one_json_document_with_every_message_and_file():
    chat = RetainedChat("cls-1", "s1", ChatKind.CLASS, "1", "11А", ROLLOVER, "2026/2027")
    docs = [
        {"_id": "m1", "seq": 1, "sender": "u1", "sent_at": ROLLOVER, "text": "Привет", "files": ["f1"]},
        {"_id": "m2", "seq": 2, "sender": "u2", "sent_at": ROLLOVER, "text": "secret", "deleted": True},
    ]
    body = archive_header(chat, ROLLOVER + timedelta(days=365))
    body += b"".join(archive_message(d, i == 0) for i, d in enumerate(docs))
    body += archive_footer([{"_id": "f1", "owner": "u1", "filename": "a.png", "size": 3}])
    parsed = json.loads(body)
    assert parsed["format"] == "parta.chat.archive.v1"
    assert parsed["chat"]["title"] == "11А" and parsed["academic_year"] == "2026/2027"
    assert [m["text"] for m in parsed["messages"]] == ["Привет", ""]  # a deleted message's text is not kept
    assert parsed["files"][0]["filename"] == "a.png"
    empty = json.loads(archive_header(chat, ROLLOVER) + archive_footer([]))
    assert empty["messages"] == [] and empty["files"] == []


async def test_archived_after_the_retention_period_and_not_before_then_purged_after_the_grace():
    store = FakeRetention()
    await _graduated(store)
    clock = FakeClock(ROLLOVER + timedelta(days=364))
    job = RetentionJob(store, clock)
    assert (await job.tick()).archived == []
    assert set(_stages(store).values()) == {Stage.KEPT}

    clock.set(ROLLOVER + timedelta(days=365, hours=1))
    report = await job.tick()
    assert sorted(report.archived) == ["cls-11a", "par-11a"]
    assert store.rows["cls-11a"].chat.counts == Counts(messages=4, members=3)
    assert (await job.tick()).archived == []  # a re-run does nothing

    clock.advance(29 * 86400)
    assert (await job.tick()).purged == []
    clock.advance(86400)
    report = await job.tick()
    assert sorted(report.purged) == ["cls-11a", "par-11a"]
    assert store.messages["cls-11a"] == 0 and store.files["cls-11a"] == 0
    assert store.rows["cls-11a"].chat.counts.files_deleted == 2
    again = await job.tick()
    assert again.archived == again.purged == again.continuing == []
    assert sorted(store.events) == sorted(
        [(c, s) for c in ("cls-11a", "par-11a") for s in (Stage.ARCHIVED, Stage.PURGED)]
    )


async def test_two_replicas_at_once_archive_and_purge_each_chat_once():
    store = FakeRetention()
    for class_id in ("11a", "11b", "11c"):
        await _graduated(store, class_id)
    clock = FakeClock(ROLLOVER + timedelta(days=366))
    jobs = [RetentionJob(store, clock), RetentionJob(store, clock)]
    reports = await asyncio.gather(*(j.tick() for j in jobs))
    archived = [c for r in reports for c in r.archived]
    assert sorted(archived) == sorted({c for c in store.rows}) and len(archived) == 6
    assert len(store.archives_written) == 6  # a chat claimed by one replica is skipped by the other
    clock.advance(31 * 86400)
    reports = await asyncio.gather(*(j.tick() for j in jobs))
    assert sorted(c for r in reports for c in r.purged) == sorted(store.rows)
    assert [s for _, s in store.events].count(Stage.PURGED) == 6


async def test_a_purge_too_big_for_one_tick_goes_on_at_the_next():
    store = FakeRetention()
    await _graduated(store, messages=7, files=2)
    clock = FakeClock(ROLLOVER + timedelta(days=366))
    job = RetentionJob(store, clock, batch=4)
    await job.tick()  # cls- (4 messages, one unit at least) and par- archived
    await job.tick()
    assert set(_stages(store).values()) == {Stage.ARCHIVED}
    clock.advance(31 * 86400)
    first = await job.tick()
    assert first.continuing == ["cls-11a"] and first.spent == 4 and store.messages["cls-11a"] == 3
    second = await job.tick()
    assert second.continuing == ["cls-11a"] and store.messages["cls-11a"] == 0 and store.files["cls-11a"] == 1
    third = await job.tick()
    assert "cls-11a" in third.purged
    assert _stages(store)["cls-11a"] is Stage.PURGED


async def test_a_clock_once_started_stays_and_learns_its_year():
    store = FakeRetention()
    clocks = RetentionClocks(store)
    await clocks.class_graduated("s1", "11a", ROLLOVER)
    later = ROLLOVER + timedelta(seconds=5)
    store.read_only = {"cls-5b", "par-5b"}  # a class archived during the year
    await clocks.year_started("s1", "2026/2027", ["11a"], later)
    assert store.rows["cls-11a"].chat.retained_from == ROLLOVER
    assert store.rows["cls-11a"].chat.academic_year == "2026/2027"
    assert store.rows["par-5b"].chat.retained_from == later
    await clocks.year_started("s1", "2026/2027", ["11a"], later + timedelta(days=1))  # redelivered
    assert store.rows["cls-11a"].chat.retained_from == ROLLOVER
    assert store.rows["par-5b"].chat.retained_from == later


async def test_a_chat_that_fails_does_not_hold_back_the_others_and_is_tried_again():
    store = FakeRetention()
    for class_id in ("11a", "11b"):
        await _graduated(store, class_id)
    store.broken = {"cls-11a"}
    clock = FakeClock(ROLLOVER + timedelta(days=366))
    job = RetentionJob(store, clock)
    report = await job.tick()
    assert report.failed == ["cls-11a"]
    assert sorted(report.archived) == ["cls-11b", "par-11a", "par-11b"]
    assert store.rows["cls-11a"].lease.year == 1970  # released: the next run may take it
    store.broken = set()
    assert (await job.tick()).archived == ["cls-11a"]
