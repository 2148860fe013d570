"""Provisioning from school events, sending, history, read state and live delivery on the real store and Kafka."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from parta.chat.v1 import chat_pb2, events_pb2

from tests.chat.support import (
    ADMIN,
    CPARENT,
    CSTUDENT,
    HEAD,
    PARENT,
    STUDENT,
    TEACHER,
    Collector,
    World,
    chat_ids,
    eventually,
    uid,
)


async def class_world(world: World):  # type: ignore[no-untyped-def]
    """A school with one class: admin, class head, two students, one parent."""
    school = world.school()
    await school.create()
    class_id = uid("c")
    admin, head, s1, s2, parent = (world.person() for _ in range(5))
    # Members first, class afterwards: cross-topic order must not matter.
    await school.member(admin.user_id, ADMIN)
    await school.member(head.user_id, TEACHER, class_id, HEAD)
    await school.member(s1.user_id, STUDENT, class_id, CSTUDENT)
    await school.member(s2.user_id, STUDENT, class_id, CSTUDENT)
    await school.member(parent.user_id, PARENT, class_id, CPARENT, child=s1.user_id)
    await school.add_class(class_id)
    return school, class_id, admin, head, s1, s2, parent


async def test_a_class_gets_its_chats_and_members(world: World) -> None:
    a = world.replicas[0].stubs
    school, class_id, admin, head, s1, _s2, parent = await class_world(world)
    sid = school.school_id
    expected = {f"sch-{sid}", f"cls-{class_id}"}
    await eventually(lambda: _has(a, s1, expected))
    assert await chat_ids(a, s1) == expected
    await eventually(lambda: _has(a, head, {f"sch-{sid}", f"stf-{sid}", f"cls-{class_id}", f"par-{class_id}"}))
    await eventually(lambda: _has(a, parent, {f"sch-{sid}", f"par-{class_id}"}))
    assert await chat_ids(a, parent) == {f"sch-{sid}", f"par-{class_id}"}
    await eventually(lambda: _has(a, admin, {f"sch-{sid}", f"stf-{sid}"}))
    assert await chat_ids(a, admin) == {f"sch-{sid}", f"stf-{sid}"}

    async def class_chat_with_all_members():
        found = (await a.chat.GetChat(chat_pb2.GetChatRequest(chat_id=f"cls-{class_id}"), metadata=s1.md)).chat
        return found if found.chat.member_count == 3 else None

    # Membership and class events travel on different topics, so the count may lag the grants.
    view = await eventually(class_chat_with_all_members)
    assert view.chat.kind == events_pb2.CHAT_KIND_CLASS and view.chat.title == "5A"
    assert view.chat.member_count == 3 and view.can_post
    channel = (await a.chat.GetChat(chat_pb2.GetChatRequest(chat_id=f"sch-{sid}"), metadata=s1.md)).chat
    assert not channel.can_post  # admins post, everyone reads
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=f"sch-{sid}", client_message_id="x", text="hi"), metadata=s1.md
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def _has(stubs, person, expected):  # type: ignore[no-untyped-def]
    return expected <= await chat_ids(stubs, person)


async def test_replaying_membership_events_is_idempotent_and_leaving_removes(world: World) -> None:
    a = world.replicas[0].stubs
    school, class_id, _admin, _head, s1, s2, _parent = await class_world(world)
    chat_id = f"cls-{class_id}"
    await eventually(lambda: _has(a, s2, {chat_id}))
    # The same MemberJoined again (same version) and an older one change nothing.
    mid = f"m-{s2.user_id}-{class_id}-{CSTUDENT}"
    school.versions[mid] -= 1
    await school.member(s2.user_id, STUDENT, class_id, CSTUDENT)
    await school.member(s2.user_id, STUDENT, class_id, CSTUDENT, left=True)  # version 2: leaves
    await eventually(lambda: _lacks(a, s2, chat_id))
    school.versions[mid] = 1  # a stale replay of the join (version 2 again → ignored, 1 < 2)
    await school.member(s2.user_id, STUDENT, class_id, CSTUDENT)
    await asyncio.sleep(1.0)
    assert chat_id not in await chat_ids(a, s2)
    view = (await a.chat.GetChat(chat_pb2.GetChatRequest(chat_id=chat_id), metadata=s1.md)).chat
    assert view.chat.member_count == 2


async def _lacks(stubs, person, chat_id):  # type: ignore[no-untyped-def]
    return chat_id not in await chat_ids(stubs, person)


async def test_send_is_idempotent_and_sequenced_and_history_pages(world: World) -> None:
    a, b = (r.stubs for r in world.replicas)
    _school, class_id, _admin, head, s1, s2, _parent = await class_world(world)
    chat_id = f"cls-{class_id}"
    await eventually(lambda: _has(a, s2, {chat_id}))
    first = await a.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="m1", text="hello"), metadata=s1.md
    )
    retry = await b.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="m1", text="hello"), metadata=s1.md
    )
    assert retry.message.message_id == first.message.message_id and retry.message.seq == first.message.seq
    seqs = [first.message.seq]
    for i in range(5):
        stubs = a if i % 2 else b
        reply = await stubs.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=f"n{i}", text=f"msg {i}"), metadata=s2.md
        )
        seqs.append(reply.message.seq)
    assert seqs == sorted(seqs) and len(set(seqs)) == 6
    page = await a.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id, limit=3), metadata=head.md)
    assert [m.seq for m in page.messages] == seqs[-3:] and page.has_more
    older = await a.chat.ListMessages(
        chat_pb2.ListMessagesRequest(chat_id=chat_id, before_seq=seqs[-3], limit=100), metadata=head.md
    )
    assert [m.seq for m in older.messages if not m.system] == seqs[:3] and not older.has_more
    assert [m.text for m in older.messages if m.system] == ["В чате новый участник"] * 3  # head, s1, s2
    after = await a.chat.ListMessages(
        chat_pb2.ListMessagesRequest(chat_id=chat_id, after_seq=seqs[1]), metadata=head.md
    )
    assert [m.seq for m in after.messages] == seqs[2:]
    # Read state: the head reads up to the 3rd message; counts for the author.
    await a.chat.MarkRead(chat_pb2.MarkReadRequest(chat_id=chat_id, seq=seqs[2]), metadata=head.md)
    counts = await a.chat.GetReadCount(chat_pb2.GetReadCountRequest(chat_id=chat_id, seq=seqs[2]), metadata=s2.md)
    assert (counts.read_count, counts.member_count) == (1, 2)
    views = {c.chat.chat_id: c for c in (await a.chat.ListChats(chat_pb2.ListChatsRequest(), metadata=head.md)).chats}
    assert views[chat_id].unread_count == 3 and views[chat_id].last_read_seq == seqs[2]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.chat.GetReadCount(chat_pb2.GetReadCountRequest(chat_id=chat_id, seq=seqs[2]), metadata=s1.md)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_live_delivery_across_replicas_and_resume(world: World) -> None:
    a, b = (r.stubs for r in world.replicas)
    _school, class_id, _admin, head, s1, s2, _parent = await class_world(world)
    chat_id = f"cls-{class_id}"
    await eventually(lambda: _has(a, s2, {chat_id}))
    watcher = await Collector(b, head).ready()
    sent = []
    for i in range(6):
        reply = await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=f"live{i}", text=f"t{i}"), metadata=s1.md
        )
        sent.append(reply.message.seq)
    await eventually(lambda: _count(watcher, chat_id, 6))
    assert [m.seq for m in watcher.messages(chat_id)] == sent
    # Disconnect; miss an edit, a reaction, a delete and a new message; resume from the cursor.
    cursors = watcher.cursors()
    await watcher.close()
    await a.chat.EditMessage(chat_pb2.EditMessageRequest(chat_id=chat_id, seq=sent[0], text="edited"), metadata=s1.md)
    await b.chat.ReactToMessage(
        chat_pb2.ReactToMessageRequest(chat_id=chat_id, seq=sent[1], emoji="👍", add=True), metadata=s2.md
    )
    await a.chat.DeleteMessage(chat_pb2.DeleteMessageRequest(chat_id=chat_id, seq=sent[2]), metadata=head.md)
    last = await a.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="after", text="missed"), metadata=s2.md
    )
    again = await Collector(a, head, cursors).ready()
    got = again.messages(chat_id)
    assert [(m.seq, m.text, m.deleted) for m in got] == [
        (sent[0], "edited", False),
        (sent[1], "t1", False),
        (sent[2], "", True),
        (last.message.seq, "missed", False),
    ]
    assert got[1].reactions[0].emoji == "👍"
    # And it is live again afterwards, with no duplicates.
    await b.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="after2", text="live"), metadata=s1.md
    )
    await eventually(lambda: _count(again, chat_id, 5))
    await asyncio.sleep(0.3)
    seen = [e.update_seq for e in again.events if e.chat_id == chat_id and e.update_seq]
    assert len(seen) == len(set(seen)) and seen == sorted(seen)
    await again.close()


async def _count(collector: Collector, chat_id: str, n: int) -> bool:
    return len(collector.messages(chat_id)) >= n


async def test_reads_and_membership_changes_are_live(world: World) -> None:
    a, b = (r.stubs for r in world.replicas)
    school, class_id, _admin, head, s1, _s2, _parent = await class_world(world)
    chat_id = f"cls-{class_id}"
    await eventually(lambda: _has(a, s1, {chat_id}))
    newcomer = world.person()
    head_live = await Collector(a, head).ready()
    s1_live = await Collector(a, s1).ready()
    newcomer_live = await Collector(b, newcomer).ready()  # subscribed before being in any chat
    sent = await a.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="r1", text="read me"), metadata=head.md
    )
    await b.chat.MarkRead(chat_pb2.MarkReadRequest(chat_id=chat_id, seq=sent.message.seq), metadata=s1.md)

    async def read_seen() -> bool:
        return any(e.WhichOneof("event") == "read" and e.read.user_id == s1.user_id for e in s1_live.events)

    # A read position goes to its owner's streams only (the author asks GetReadCount for counts).
    await eventually(read_seen)
    await s1_live.close()
    await school.member(newcomer.user_id, STUDENT, class_id, CSTUDENT)

    async def joined() -> bool:
        added = any(
            e.WhichOneof("event") == "member_added" and e.member_added.user_id == newcomer.user_id
            for e in head_live.events
        )
        snapshot = any(e.WhichOneof("event") == "chat" and e.chat_id == chat_id for e in newcomer_live.events)
        return added and snapshot

    await eventually(joined)
    # From now on the newcomer receives the chat's messages live.
    await a.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="r2", text="welcome"), metadata=head.md
    )
    await eventually(lambda: _count(newcomer_live, chat_id, 1))
    assert [m.text for m in newcomer_live.messages(chat_id)] == ["welcome"]
    await eventually(lambda: _count(head_live, chat_id, 2))
    assert not any(e.WhichOneof("event") == "read" for e in head_live.events)  # others' reads stay theirs
    await head_live.close()
    await newcomer_live.close()
