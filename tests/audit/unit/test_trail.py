"""The trail's use cases over in-memory ports: who may read, reading recorded before the page,
paging newest first with filters, and verification."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from audit.app.ports import Filters
from audit.app.trail import READ_KIND, VERIFIED_KIND, AuditTrail
from audit.domain.chain import Problem, Record
from parta_common.errors import InvalidArgument, PermissionDenied
from parta_common.testing.fakes import FakeClock

from tests.audit.fakes import FixedAdmins, MemoryChains, MemoryRecordLog

T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def make(n: int = 0, **kw: int) -> tuple[AuditTrail, MemoryChains]:
    chains = MemoryChains()
    counter = itertools.count(1)
    clock = FakeClock(T0)
    trail = AuditTrail(
        chains=chains,
        log=MemoryRecordLog(chains, clock.now),
        admins=FixedAdmins({"s1": {"admin"}}),
        now=clock.now,
        new_id=lambda: f"id{next(counter)}",
        **kw,
    )
    return trail, chains


async def fill(trail: AuditTrail, n: int) -> None:
    for i in range(1, n + 1):
        await trail.record(
            Record(
                school_id="s1",
                kind="school.role_changed" if i % 2 else "chat.direct_message",
                actor=f"a{i % 3}",
                subjects=(f"u{i % 4}",),
                occurred_at=T0 + timedelta(minutes=i),
                source=f"ev{i}",
                source_type="parta.school.v1.MemberRoleChanged",
            )
        )


@pytest.mark.parametrize("caller", ["teacher", "stranger", ""])
async def test_only_admins_list_and_a_refusal_records_nothing(caller: str) -> None:
    trail, chains = make()
    await fill(trail, 3)
    with pytest.raises(PermissionDenied):
        await trail.list_entries(caller or "x", "Bearer t", "s1", 10, "", Filters())
    assert (await chains.head("s1")).seq == 3


async def test_listing_records_the_read_first_and_returns_newest_first() -> None:
    trail, _ = make()
    await fill(trail, 5)
    page = await trail.list_entries("admin", "Bearer t", "s1", 10, "", Filters())
    assert [e.seq for e in page.entries] == [6, 5, 4, 3, 2, 1]
    assert page.entries[0].kind == READ_KIND and page.entries[0].actor == "admin"
    assert page.next_token == ""


async def test_pages_walk_the_chain_without_repeating_or_skipping() -> None:
    trail, _ = make(window_size=7)
    await fill(trail, 40)
    seen: list[int] = []
    token = ""
    while True:
        page = await trail.list_entries("admin", "Bearer t", "s1", 6, token, Filters(kind="chat.direct_message"))
        seen.extend(e.seq for e in page.entries)
        assert all(e.kind == "chat.direct_message" for e in page.entries)
        token = page.next_token
        if not token:
            break
    assert seen == list(range(40, 0, -2))


async def test_filters_by_actor_subject_and_time() -> None:
    trail, _ = make()
    await fill(trail, 12)
    f = Filters(
        actor="a1", subject="u1", occurred_after=T0 + timedelta(minutes=2), occurred_before=T0 + timedelta(minutes=12)
    )
    page = await trail.list_entries("admin", "Bearer t", "s1", 50, "", f)
    # Recorded at T0 + i minutes by actor a(i % 3) about u(i % 4); the read entry (at T0) is outside.
    assert [e.seq for e in page.entries] == [i for i in range(11, 1, -1) if i % 3 == 1 and i % 4 == 1] == []
    page = await trail.list_entries("admin", "Bearer t", "s1", 50, "", Filters(actor="a1", subject="u1"))
    assert [e.seq for e in page.entries] == [i for i in range(12, 0, -1) if i % 3 == 1 and i % 4 == 1] == [1]
    page = await trail.list_entries(
        "admin",
        "Bearer t",
        "s1",
        50,
        "",
        Filters(actor="a1", occurred_after=f.occurred_after, occurred_before=f.occurred_before),
    )
    assert [e.seq for e in page.entries] == [10, 7, 4]


async def test_a_token_for_other_filters_is_refused() -> None:
    trail, _ = make(window_size=2)
    await fill(trail, 10)
    page = await trail.list_entries("admin", "Bearer t", "s1", 2, "", Filters())
    assert page.next_token
    with pytest.raises(InvalidArgument):
        await trail.list_entries("admin", "Bearer t", "s1", 2, page.next_token, Filters(kind="x"))
    with pytest.raises(InvalidArgument):
        await trail.list_entries("admin", "Bearer t", "s1", 2, "garbage!", Filters())


async def test_bad_ids_are_invalid_argument() -> None:
    trail, _ = make()
    with pytest.raises(InvalidArgument):
        await trail.list_entries("admin", "Bearer t", "", 10, "", Filters())
    with pytest.raises(InvalidArgument):
        await trail.list_entries("admin", "Bearer t", "s1", 10, "", Filters(actor=" x"))
    with pytest.raises(InvalidArgument):
        await trail.list_entries("admin", "Bearer t", "s1", -1, "", Filters())


async def test_verify_reports_the_first_break_and_is_recorded() -> None:
    trail, chains = make(verify_window=3)
    await fill(trail, 10)
    ok = await trail.verify("admin", "Bearer t", "s1")
    assert ok.broken is None and ok.checked == 10 and ok.head_seq == 10
    assert chains.entries["s1"][11].kind == VERIFIED_KIND
    del chains.entries["s1"][4]
    bad = await trail.verify("admin", "Bearer t", "s1")
    assert bad.broken is not None and (bad.broken.seq, bad.broken.problem) == (4, Problem.MISSING)
    with pytest.raises(PermissionDenied):
        await trail.verify("teacher", "Bearer t", "s1")
