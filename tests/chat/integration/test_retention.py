"""Retention of ended academic years on the real store and Kafka, two replicas: a graduated class's
chats are archived after the school's retention period and not before, purged after the grace and
not before; both replicas running the job at once, and again, do each step once; what is left is a
tombstone, the teacher's file (in the teacher's storage) and nothing of the graduate's."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import grpc
import pytest
from aiokafka import AIOKafkaConsumer
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.chat.v1 import events_pb2 as chat_ev
from parta.common.v1 import envelope_pb2
from parta.school.v1 import events_pb2 as school_pb
from parta_common.events.topics import CHAT_MESSAGE, SCHOOL_CLASS, SCHOOL_SCHOOL

from tests.chat.integration.test_files import download, upload_parts
from tests.chat.support import (
    ADMIN,
    CSTUDENT,
    HEAD,
    STUDENT,
    TEACHER,
    Collector,
    Person,
    Stubs,
    World,
    chat_ids,
    eventually,
    uid,
)

KEEP, GRACE = 400, 10


async def _send(stubs: Stubs, person: Person, chat_id: str, text: str, files: list[str] | None = None) -> None:
    request = chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=uid("m"), text=text, file_ids=files or [])
    await stubs.chat.SendMessage(request, metadata=person.md)


async def _upload(stubs: Stubs, person: Person, data: bytes) -> str:
    reply = await stubs.files.UploadFile(iter(upload_parts(uid("f"), data)), metadata=person.md)
    return str(reply.file.file_id)


async def _retained(stubs: Stubs, admin: Person, school_id: str) -> dict[str, chat_pb2.RetainedChat]:
    retention = chat_pb2_grpc.RetentionServiceStub(stubs.channel)
    reply = await retention.ListRetainedChats(chat_pb2.ListRetainedChatsRequest(school_id=school_id), metadata=admin.md)
    return {c.chat_id: c for c in reply.chats}


async def _ticks(world: World) -> list[object]:
    """The job on both replicas at once."""
    return list(await asyncio.gather(*(r.service.retention.tick() for r in world.replicas)))


async def test_a_graduated_class_is_archived_then_purged_once_whoever_runs_the_job(world: World) -> None:
    a, b = (r.stubs for r in world.replicas)
    db = world.replicas[0].service.infra.database
    school = world.school()
    await school.create()
    sid = school.school_id
    assert school.snapshot is not None
    # What school publishes after SetRetentionPolicy(400, 10).
    snap = school_pb.SchoolSnapshot()
    snap.CopyFrom(school.snapshot)
    snap.retention.keep_days, snap.retention.archive_grace_days = KEEP, GRACE
    await world.feed(SCHOOL_SCHOOL, school_pb.SchoolUpdated(school=snap), "school", sid, school._v(sid), sid)

    eleven, five = uid("c"), uid("c")
    admin, head, graduate, kid, stranger = (world.person() for _ in range(5))
    await school.member(admin.user_id, ADMIN)
    await school.member(head.user_id, TEACHER)
    await school.member(head.user_id, TEACHER, eleven, HEAD)
    await school.member(graduate.user_id, STUDENT, eleven, CSTUDENT)
    await school.member(kid.user_id, STUDENT, five, CSTUDENT)
    await school.add_class(eleven, title="11А")
    await school.add_class(five, title="5А")
    cls, par, five_chat = f"cls-{eleven}", f"par-{eleven}", f"cls-{five}"
    await eventually(lambda: _has(a, graduate, {cls}))
    await eventually(lambda: _has(a, kid, {five_chat}))

    photo = await _upload(a, graduate, b"graduation photo" * 100)
    sheet = await _upload(a, head, b"worksheet" * 100)
    for i in range(3):
        await _send(a, graduate, cls, f"Привет {i}")
    await _send(a, graduate, cls, "фото", [photo])
    await _send(b, head, cls, "задание", [sheet])
    await _send(a, kid, five_chat, "5А живёт дальше")
    stored = await db["messages"].count_documents({"chat_id": cls})

    # The rollover, as school publishes it: 11А archived as graduated, its seats end, then
    # AcademicYearStarted naming it.
    left = school_pb.ClassSnapshot(
        class_id=eleven, school_id=sid, grade=11, letter="А", title="11А", academic_year="2026/2027", archived=True
    )
    await world.feed(
        SCHOOL_CLASS,
        school_pb.ClassArchived(**{"class": left}, reason="graduated"),
        "class",
        eleven,
        school._v(eleven),
        sid,
    )
    await school.member(graduate.user_id, STUDENT, eleven, CSTUDENT, left=True, reason="class_archived")
    await school.member(head.user_id, TEACHER, eleven, HEAD, left=True, reason="class_archived")
    started = school_pb.AcademicYearStarted(
        school=snap,
        previous_academic_year="2026/2027",
        academic_year="2027/2028",
        promoted_class_ids=[five],
        graduated_class_ids=[eleven],
    )
    await world.feed(SCHOOL_SCHOOL, started, "school", sid, school._v(sid), sid)

    async def clocked() -> dict[str, chat_pb2.RetainedChat] | None:
        found = await _retained(a, admin, sid)
        return found if {cls, par} <= set(found) and found[cls].retained_from.seconds else None

    listed = await eventually(clocked)
    assert set(listed) == {cls, par}  # the continuing 5А has no clock
    first = listed[cls]
    assert first.stage == chat_pb2.RETENTION_STAGE_KEPT
    assert first.archive_at.seconds - first.retained_from.seconds == KEEP * 86400
    for other in (graduate, head, stranger):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _retained(b, other, sid)
        assert refused.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)

    # A day before the period ends: nothing happens, the graduate still reads the chat.
    world.clock.offset = timedelta(days=KEEP - 1)
    reports = await _ticks(world)
    assert all(not r.archived for r in reports)  # type: ignore[attr-defined]
    assert cls in await chat_ids(a, graduate)

    # After it: both replicas at once archive each chat exactly once.
    stream = await Collector(b, graduate).ready()
    world.clock.offset = timedelta(days=KEEP, hours=1)
    reports = await _ticks(world)
    archived = [c for r in reports for c in r.archived]  # type: ignore[attr-defined]
    assert sorted(archived) == sorted([cls, par])
    assert all(not r.archived for r in await _ticks(world))  # type: ignore[attr-defined]
    assert cls not in await chat_ids(a, graduate)
    await eventually(lambda: _removed(stream, cls))  # an open stream drops it too
    await stream.close()
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await a.chat.GetChat(chat_pb2.GetChatRequest(chat_id=cls), metadata=graduate.md)
    assert hidden.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert five_chat in await chat_ids(a, kid)

    listed = await _retained(b, admin, sid)
    archive = listed[cls]
    assert archive.stage == chat_pb2.RETENTION_STAGE_ARCHIVED
    assert archive.counts.messages == stored
    assert archive.purge_at.seconds - archive.archive_at.seconds == GRACE * 86400
    info, body = await download(b, admin, archive.archive_file_id)
    assert info.content_type == "application/json"
    doc = json.loads(body)
    assert doc["chat"]["chat_id"] == cls and doc["academic_year"] == "2026/2027"
    assert len(doc["messages"]) == stored
    texts = [m["text"] for m in doc["messages"] if not m["system"]]  # the join notes are system messages
    assert texts == [f"Привет {i}" for i in range(3)] + ["фото", "задание"]
    assert {f["file_id"] for f in doc["files"]} == {photo, sheet}
    for other in (graduate, head, kid):
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await download(a, other, archive.archive_file_id)
        assert denied.value.code() == grpc.StatusCode.NOT_FOUND

    # The grace: nothing purged a day before it ends.
    world.clock.offset = timedelta(days=KEEP + GRACE - 1)
    assert all(not r.purged for r in await _ticks(world))  # type: ignore[attr-defined]
    assert await db["messages"].count_documents({"chat_id": cls}) == stored

    # After it: a small budget on one replica makes the purge span ticks; both replicas keep going.
    world.clock.offset = timedelta(days=KEEP + GRACE, hours=2)
    world.replicas[0].service.retention.batch = 2
    purged: list[str] = []
    for _ in range(20):
        purged += [c for r in await _ticks(world) for c in r.purged]  # type: ignore[attr-defined]
        if len(purged) >= 2:
            break
    world.replicas[0].service.retention.batch = 2000
    assert sorted(purged) == sorted([cls, par])
    assert all(not (r.purged or r.archived) for r in await _ticks(world))  # type: ignore[attr-defined]

    # What is left: tombstones with the counts, the teacher's worksheet in the teacher's storage;
    # nothing of the chat's messages, members, archive or the graduate's photo.
    listed = await _retained(a, admin, sid)
    tomb = listed[cls]
    assert tomb.stage == chat_pb2.RETENTION_STAGE_PURGED and tomb.title == "" and not tomb.archive_file_id
    assert (tomb.counts.messages, tomb.counts.files_deleted, tomb.counts.files_detached) == (stored, 1, 1)
    assert await db["messages"].count_documents({"chat_id": {"$in": [cls, par]}}) == 0
    assert await db["members"].count_documents({"chat_id": {"$in": [cls, par]}}) == 0
    assert await db["blobs.chunks"].count_documents({"files_id": {"$in": [photo, archive.archive_file_id]}}) == 0
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await download(a, graduate, photo)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    kept = await a.files.ListFiles(chat_pb2.ListFilesRequest(), metadata=head.md)
    assert [f.file_id for f in kept.files] == [sheet]
    assert (await download(a, head, sheet))[1] == b"worksheet" * 100
    assert (await a.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=five_chat), metadata=kid.md)).messages

    # On Kafka (for the audit trail): one archive and one purge event per chat (by event id: two
    # relays may publish a record twice), with the counts.
    seen = await _retention_events(world, {cls, par})
    assert sorted((c, kind) for c, kind, _ in seen) == sorted(
        (c, kind) for c in (cls, par) for kind in ("ChatArchivedForRetention", "ChatPurged")
    )
    assert next(n for c, kind, n in seen if c == cls and kind == "ChatPurged") == stored


async def _retention_events(world: World, chats: set[str]) -> list[tuple[str, str, int]]:
    consumer = AIOKafkaConsumer(
        world.prefix + CHAT_MESSAGE, bootstrap_servers=world.kafka, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    found: dict[str, tuple[str, str, int]] = {}
    try:
        deadline = asyncio.get_running_loop().time() + 40
        while len(found) < 2 * len(chats) and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    envelope = envelope_pb2.EventEnvelope.FromString(record.value)
                    for cls_ in (chat_ev.ChatArchivedForRetention, chat_ev.ChatPurged):
                        msg = cls_()
                        if envelope.payload.Is(cls_.DESCRIPTOR):
                            envelope.payload.Unpack(msg)
                            if msg.chat_id in chats:
                                found[envelope.event_id] = (msg.chat_id, cls_.__name__, msg.counts.messages)
    finally:
        await consumer.stop()
    return list(found.values())


async def _has(stubs: Stubs, person: Person, expected: set[str]) -> bool:
    return expected <= await chat_ids(stubs, person)


async def _removed(stream: Collector, chat_id: str) -> bool:
    return any(e.WhichOneof("event") == "member_removed" and e.chat_id == chat_id for e in stream.events)
