"""Issue 16's announcement, end to end with identity, school and two chat replicas as processes:
5А's parents' chat with five families (school's real seats: one child has two guardians); three
families confirm, the author's stream (the other replica) counts 3 live, the status names the two
missing families, a reminder DMs only their guardians, a parent of 5Б is refused."""

from __future__ import annotations

import uuid

import grpc
import pytest
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.chat.v1 import events_pb2 as chat_events

from tests.chat.support import Collector, Person, Stubs, eventually
from tests.e2e.harness import Stack
from tests.e2e.identity_client import random_phone
from tests.e2e.seed_support import TEEN, seed_school

OPERATOR = random_phone()


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):  # type: ignore[no-untyped-def]
    s = Stack(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:8])
    try:
        yield s
    finally:
        s.stop_all()


async def test_five_families_three_confirm_two_are_reminded(stack: Stack) -> None:
    identity = await stack.start("identity")
    school_svc = await stack.start("school", {"SCHOOL_OPERATOR_PHONES": OPERATOR})
    chat_a = await stack.start("chat", name="chat-a")
    chat_b = await stack.start("chat", name="chat-b")
    world = await seed_school(identity.address, school_svc.address, stack.sms_file, OPERATOR)
    sid = world.school_id
    a5 = await world.seat_class("А", children=[TEEN] * 5, guardians=[2, 1, 1, 1, 1])  # the first child: two
    b5 = await world.seat_class("Б", children=[TEEN], guardians=[1], head=False)
    assert a5.head is not None
    head, kids, guardians = a5.head, a5.children, a5.guardians
    other_parent = b5.guardians[b5.children[0].user_id][0]

    a, b = Stubs(grpc.aio.insecure_channel(chat_a.address)), Stubs(grpc.aio.insecure_channel(chat_b.address))
    ann_a = chat_pb2_grpc.AnnouncementServiceStub(a.channel)
    ann_b = chat_pb2_grpc.AnnouncementServiceStub(b.channel)
    parents_chat = f"par-{a5.class_id}"
    everyone = [g for gs in guardians.values() for g in gs]

    async def in_chat(who: Person, chat_id: str) -> bool:
        reply = await a.chat.ListChats(chat_pb2.ListChatsRequest(school_id=sid), metadata=who.md)
        return chat_id in {c.chat.chat_id for c in reply.chats}

    for who in [head, *everyone]:
        await eventually(lambda w=who: in_chat(w, parents_chat), timeout=60)
    await eventually(lambda: in_chat(other_parent, f"par-{b5.class_id}"), timeout=60)

    author_live = await Collector(b, head).ready()
    posted = await ann_a.PostAnnouncement(
        chat_pb2.PostAnnouncementRequest(
            chat_id=parents_chat, client_message_id="ann-1", text="Родительское собрание в четверг в 18:30"
        ),
        metadata=head.md,
    )
    seq = posted.message.seq
    assert posted.announcement.family_count == 5

    def request() -> chat_pb2.ConfirmAnnouncementRequest:
        return chat_pb2.ConfirmAnnouncementRequest(chat_id=parents_chat, seq=seq)

    first, second = guardians[kids[0].user_id]
    await ann_a.ConfirmAnnouncement(request(), metadata=first.md)
    twice = await ann_b.ConfirmAnnouncement(request(), metadata=second.md)
    assert [(f.already_confirmed, f.confirmed_by_user_id) for f in twice.families] == [(True, first.user_id)]
    for kid in kids[1:3]:
        await ann_b.ConfirmAnnouncement(request(), metadata=guardians[kid.user_id][0].md)
    with pytest.raises(grpc.aio.AioRpcError) as outsider:
        await ann_a.ConfirmAnnouncement(request(), metadata=other_parent.md)
    assert outsider.value.code() is grpc.StatusCode.PERMISSION_DENIED

    async def live_count() -> bool:
        counts = [
            e.announcement_progress.confirmed_count for e in author_live.events if e.HasField("announcement_progress")
        ]
        return max(counts, default=0) == 3

    await eventually(live_count, timeout=60)
    status = await ann_b.GetAnnouncementStatus(
        chat_pb2.GetAnnouncementStatusRequest(chat_id=parents_chat, seq=seq), metadata=head.md
    )
    assert (status.announcement.confirmed_count, status.announcement.family_count) == (3, 5)
    assert {f.child_user_id for f in status.unconfirmed} == {k.user_id for k in kids[3:]}

    reminded = await ann_a.RemindAnnouncement(
        chat_pb2.RemindAnnouncementRequest(chat_id=parents_chat, seq=seq), metadata=head.md
    )
    late = {guardians[k.user_id][0].user_id for k in kids[3:]}
    assert set(reminded.reminded_user_ids) == late and not reminded.unreached_user_ids
    for who in everyone:
        views = (await b.chat.ListChats(chat_pb2.ListChatsRequest(school_id=sid), metadata=who.md)).chats
        dms = [v for v in views if v.chat.kind == chat_events.CHAT_KIND_DIRECT and v.peer_user_id == head.user_id]
        assert len(dms) == (1 if who.user_id in late else 0), who.user_id
    await author_live.close()
    for stubs in (a, b):
        await stubs.channel.close()
