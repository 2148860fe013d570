"""The academic-year rollover through the real store and Kafka: classes move up with their people,
graduates leave, a name taken early refuses the whole rollover, and a crash mid-way resumes on retry with
every class changed — and every event published — exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import grpc
import pytest
from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import school_pb2 as pb
from parta_common.events.topics import SCHOOL_CLASS, SCHOOL_SCHOOL
from school.app.common import Caller
from school.app.years import AcademicYears
from school.domain.classes import SchoolClass
from school.domain.events import DomainEvent

from tests.school.integration.world import World, register, rid
from tests.school.support import User, payloads, read_events

Y1, Y2 = "2026/2027", "2027/2028"


async def _school(env: Any, grades: Sequence[tuple[int, str]]) -> tuple[World, User, dict[str, pb.SchoolClass]]:
    admin = env.mint.user()
    school = await register(env, admin, "Школа года")
    w = World(env, school, admin, admin, admin, admin, admin, pb.SchoolClass(), pb.SchoolClass(), school, admin)
    classes = {}
    for grade, letter in grades:
        reply = await env.stubs.classes.CreateClass(
            pb.CreateClassRequest(request_id=rid(), school_id=school.school_id, grade=grade, letter=letter),
            metadata=admin.md,
        )
        c = getattr(reply, "class")
        classes[c.title] = c
    return w, admin, classes


def _start(w: World, year: str = Y2) -> pb.StartAcademicYearRequest:
    return pb.StartAcademicYearRequest(school_id=w.school.school_id, academic_year=year, request_id=rid())


async def _class_events(env: Any, kafka: str, school_id: str, classes: int) -> tuple[list[Any], list[Any], list[Any]]:
    """Reads both topics until AcademicYearStarted and at least `classes` class events of the school are in
    (the topics are read independently, so one may lag), then a moment more to catch any duplicate."""

    def split(seen):  # type: ignore[no-untyped-def]
        updated = [x for x in payloads(seen, ev.ClassUpdated) if getattr(x, "class").school_id == school_id]
        archived = [x for x in payloads(seen, ev.ClassArchived) if getattr(x, "class").school_id == school_id]
        started = [x for x in payloads(seen, ev.AcademicYearStarted) if x.school.school_id == school_id]
        return updated, archived, started

    def done(seen):  # type: ignore[no-untyped-def]
        updated, archived, started = split(seen)
        return bool(started) and len(updated) + len(archived) >= classes

    topics = [env.prefix + SCHOOL_SCHOOL, env.prefix + SCHOOL_CLASS]
    await read_events(kafka, topics, until=done)
    await asyncio.sleep(0.5)  # a duplicate would be relayed by now (poll 0.2 s)
    return split(await read_events(kafka, topics, until=done))  # type: ignore[no-any-return]


async def test_classes_move_up_with_their_people_and_graduates_leave(env, kafka_bootstrap: str):
    s = env.stubs
    w, admin, classes = await _school(env, [(5, "А"), (10, "А"), (11, "А")])
    kid, leaver = env.mint.user(), env.mint.user()
    await w.join(kid, ev.SCHOOL_ROLE_STUDENT, class_id=classes["5А"].class_id)
    await w.join(leaver, ev.SCHOOL_ROLE_STUDENT, class_id=classes["11А"].class_id)
    # Someone created next year's 6А early: refused before anything changes, naming it.
    early = getattr(
        await s.classes.CreateClass(
            pb.CreateClassRequest(
                request_id=rid(), school_id=w.school.school_id, grade=6, letter="А", academic_year=Y2
            ),
            metadata=admin.md,
        ),
        "class",
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await s.schools.StartAcademicYear(_start(w), metadata=admin.md)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION and early.class_id in info.value.details()
    school = await s.schools.GetSchool(pb.GetSchoolRequest(school_id=w.school.school_id), metadata=admin.md)
    assert school.school.academic_year == Y1
    # Skipping a year is refused too; a pupil cannot start it.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await s.schools.StartAcademicYear(_start(w, "2028/2029"), metadata=admin.md)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await s.schools.StartAcademicYear(_start(w), metadata=kid.md)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED

    await s.classes.ArchiveClass(pb.ArchiveClassRequest(class_id=early.class_id), metadata=admin.md)
    reply = await s.schools.StartAcademicYear(_start(w), metadata=admin.md)
    assert reply.school.academic_year == Y2 and reply.previous_academic_year == Y1
    promoted = {c.class_id: (c.title, c.academic_year) for c in reply.promoted}
    assert promoted == {classes["5А"].class_id: ("6А", Y2), classes["10А"].class_id: ("11А", Y2)}
    assert [(c.class_id, c.title, c.archived) for c in reply.graduated] == [(classes["11А"].class_id, "11А", True)]
    # The same children are in the moved class; the graduate's seat ended.
    sid = w.school.school_id
    six_a = await s.members.ListMembers(
        pb.ListMembersRequest(school_id=sid, class_id=classes["5А"].class_id), metadata=admin.md
    )
    assert kid.user_id in {m.user_id for m in six_a.members}
    gone = await s.members.ListMembers(
        pb.ListMembersRequest(school_id=sid, class_id=classes["11А"].class_id), metadata=admin.md
    )
    assert leaver.user_id not in {m.user_id for m in gone.members}
    again = await s.schools.StartAcademicYear(_start(w), metadata=admin.md)
    assert again == reply

    updated, archived, started = await _class_events(env, kafka_bootstrap, sid, 3)
    assert sorted((getattr(x, "class").title, getattr(x, "class").academic_year) for x in updated) == [
        ("11А", Y2),
        ("6А", Y2),
    ]
    graduated = [x for x in archived if x.reason == "graduated"]
    assert [getattr(x, "class").class_id for x in graduated] == [classes["11А"].class_id]
    assert len(started) == 1 and started[0].previous_academic_year == Y1 and started[0].academic_year == Y2
    assert set(started[0].promoted_class_ids) == set(promoted)


class Crash(Exception):
    pass


class CrashingClasses:
    """The real class repository that dies after `allowed` class writes, as a process killed mid-rollover."""

    def __init__(self, inner: Any, allowed: int):
        self._inner, self.allowed = inner, allowed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def save(self, school_class: SchoolClass, expected_version: int, events: Sequence[DomainEvent]) -> bool:
        if self.allowed <= 0:
            raise Crash()
        self.allowed -= 1
        return bool(await self._inner.save(school_class, expected_version, events))


async def test_a_rollover_that_crashed_after_two_classes_resumes_exactly_once(env, kafka_bootstrap: str):
    w, admin, classes = await _school(env, [(1, "А"), (4, "Б"), (9, "В"), (11, "А")])
    deps = env.service.deps
    crashing = AcademicYears(replace(deps, classes=CrashingClasses(deps.classes, allowed=2)))
    with pytest.raises(Crash):
        await crashing.start_academic_year(Caller(admin.user_id, admin.phone), rid(), w.school.school_id, Y2)
    # The retry through the API (another request id: the year is what identifies a rollover).
    reply = await env.stubs.schools.StartAcademicYear(_start(w), metadata=admin.md)
    assert sorted(c.title for c in reply.promoted) == ["10В", "2А", "5Б"]
    assert [c.title for c in reply.graduated] == ["11А"]

    updated, archived, started = await _class_events(env, kafka_bootstrap, w.school.school_id, 4)
    per_class: dict[str, int] = {}
    for x in [*updated, *archived]:
        per_class[getattr(x, "class").class_id] = per_class.get(getattr(x, "class").class_id, 0) + 1
    assert per_class == dict.fromkeys((c.class_id for c in classes.values()), 1)
    assert len(started) == 1
