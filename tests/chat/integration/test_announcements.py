"""Announcements on the real store and Kafka, two replicas: 5А's parents' chat with five families
(one with two guardians); three confirm, the author sees 3 of 5 live on their stream (another
replica) and the two missing families; a reminder reaches only those two, once a day; a parent of
another class is refused; concurrent confirmations count exactly."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.chat.v1 import events_pb2 as chat_events

from tests.chat.support import (
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


def details(exc: grpc.aio.AioRpcError) -> tuple[str, float | None]:
    """(ErrorInfo reason, RetryInfo seconds) of a refusal."""
    status = rpc_status.from_call(exc)
    reason, retry = "", None
    for detail in status.details if status is not None else []:
        info, delay = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            reason = str(info.reason)
        elif detail.Unpack(delay):
            retry = delay.retry_delay.seconds + delay.retry_delay.nanos / 1e9
    return reason, retry


async def test_five_families_three_confirm_the_author_sees_it_live_and_reminds_the_two(world: World) -> None:
    a, b = world.replicas[0].stubs, world.replicas[1].stubs
    ann_a = chat_pb2_grpc.AnnouncementServiceStub(a.channel)
    ann_b = chat_pb2_grpc.AnnouncementServiceStub(b.channel)
    school = world.school()
    await school.create(tz="Europe/Moscow")
    class_id, other_class = uid("c"), uid("c")
    await school.add_class(class_id, title="5А")
    await school.add_class(other_class, title="5Б")
    head = world.person()
    await school.member(head.user_id, TEACHER, class_id, HEAD)
    kids = [world.person() for _ in range(5)]
    guardians = {k.user_id: [world.person()] for k in kids}
    guardians[kids[0].user_id].append(world.person())  # the first family has two guardians
    for kid in kids:
        await school.member(kid.user_id, STUDENT, class_id, CSTUDENT)
        for g in guardians[kid.user_id]:
            await school.member(g.user_id, PARENT, class_id, CPARENT, child=kid.user_id)
    other_kid, other_parent = world.person(), world.person()
    await school.member(other_kid.user_id, STUDENT, other_class, CSTUDENT)
    await school.member(other_parent.user_id, PARENT, other_class, CPARENT, child=other_kid.user_id)
    parents_chat = f"par-{class_id}"
    everyone = [g for gs in guardians.values() for g in gs]
    for person in [head, *everyone]:
        await eventually(lambda p=person: _in(a, p, parents_chat))
    await eventually(lambda: _in(a, other_parent, f"par-{other_class}"))

    stream = await Collector(b, head).ready()  # the author's stream, on the other replica
    posted = await ann_a.PostAnnouncement(
        chat_pb2.PostAnnouncementRequest(
            chat_id=parents_chat, client_message_id=uid("a"), text="Родительское собрание в четверг в 18:00"
        ),
        metadata=head.md,
    )
    seq = posted.message.seq
    assert (posted.announcement.family_count, posted.announcement.confirmed_count) == (5, 0)

    first, second = guardians[kids[0].user_id]
    ok = await ann_a.ConfirmAnnouncement(
        chat_pb2.ConfirmAnnouncementRequest(chat_id=parents_chat, seq=seq), metadata=first.md
    )
    assert [(f.child_user_id, f.already_confirmed) for f in ok.families] == [(kids[0].user_id, False)]
    # The family's second guardian: already confirmed, and by whom.
    again = await ann_b.ConfirmAnnouncement(
        chat_pb2.ConfirmAnnouncementRequest(chat_id=parents_chat, seq=seq), metadata=second.md
    )
    assert [(f.already_confirmed, f.confirmed_by_user_id) for f in again.families] == [(True, first.user_id)]
    for kid in kids[1:3]:
        (g,) = guardians[kid.user_id]
        await ann_b.ConfirmAnnouncement(
            chat_pb2.ConfirmAnnouncementRequest(chat_id=parents_chat, seq=seq), metadata=g.md
        )

    def progress() -> list[chat_pb2.ChatEvent]:
        return [e for e in stream.events if e.WhichOneof("event") == "announcement_progress"]

    async def three_live() -> bool:
        return max((e.announcement_progress.confirmed_count for e in progress()), default=0) == 3

    await eventually(three_live, timeout=30)
    assert {e.announcement_progress.child_user_id for e in progress()} == {k.user_id for k in kids[:3]}
    assert all(e.announcement_progress.family_count == 5 and e.chat_id == parents_chat for e in progress())

    status = await ann_b.GetAnnouncementStatus(
        chat_pb2.GetAnnouncementStatusRequest(chat_id=parents_chat, seq=seq), metadata=head.md
    )
    assert (status.announcement.confirmed_count, status.announcement.family_count) == (3, 5)
    missing = {f.child_user_id: list(f.guardian_user_ids) for f in status.unconfirmed}
    assert missing == {k.user_id: [guardians[k.user_id][0].user_id] for k in kids[3:]}

    # A guardian sees the count only through their own families; they do not see who has not confirmed.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ann_a.GetAnnouncementStatus(
            chat_pb2.GetAnnouncementStatusRequest(chat_id=parents_chat, seq=seq), metadata=first.md
        )
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
    # A parent of another class is not in this chat.
    with pytest.raises(grpc.aio.AioRpcError) as outsider:
        await ann_a.ConfirmAnnouncement(
            chat_pb2.ConfirmAnnouncementRequest(chat_id=parents_chat, seq=seq), metadata=other_parent.md
        )
    assert outsider.value.code() is grpc.StatusCode.PERMISSION_DENIED and details(outsider.value)[0] == "NOT_A_MEMBER"

    reminded = await ann_a.RemindAnnouncement(
        chat_pb2.RemindAnnouncementRequest(chat_id=parents_chat, seq=seq), metadata=head.md
    )
    late = {guardians[k.user_id][0].user_id for k in kids[3:]}
    assert set(reminded.reminded_child_user_ids) == {k.user_id for k in kids[3:]}
    assert set(reminded.reminded_user_ids) == late and not reminded.unreached_user_ids
    for person in everyone:
        views = (await a.chat.ListChats(chat_pb2.ListChatsRequest(), metadata=person.md)).chats
        dms = [v for v in views if v.chat.kind == chat_events.CHAT_KIND_DIRECT and v.peer_user_id == head.user_id]
        if person.user_id in late:
            (dm,) = dms
            history = await a.chat.ListMessages(
                chat_pb2.ListMessagesRequest(chat_id=dm.chat.chat_id), metadata=person.md
            )
            assert [m.text.startswith("Напоминание") for m in history.messages] == [True]
        else:
            assert dms == [], person.user_id
    with pytest.raises(grpc.aio.AioRpcError) as limit:
        await ann_b.RemindAnnouncement(
            chat_pb2.RemindAnnouncementRequest(chat_id=parents_chat, seq=seq), metadata=head.md
        )
    reason, retry = details(limit.value)
    assert limit.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED and reason == "REMINDER_LIMIT"
    assert retry is not None and 0 < retry <= 24 * 3600

    # Nobody but the author hears the confirmations (a guardian's stream on the author's replica).
    guardian_stream = await Collector(b, second).ready()
    # The last two families, each guardian pressing "confirm" many times at once on both replicas.
    stubs = [ann_a, ann_b]
    presses = [
        stubs[i % 2].ConfirmAnnouncement(
            chat_pb2.ConfirmAnnouncementRequest(chat_id=parents_chat, seq=seq), metadata=guardians[k.user_id][0].md
        )
        for i in range(8)
        for k in kids[3:]
    ]
    answers = await asyncio.gather(*presses)
    assert sum(not f.already_confirmed for r in answers for f in r.families) == 2
    final = await ann_a.GetAnnouncementStatus(
        chat_pb2.GetAnnouncementStatusRequest(chat_id=parents_chat, seq=seq), metadata=head.md
    )
    assert (final.announcement.confirmed_count, len(final.unconfirmed)) == (5, 0)

    async def five_live() -> bool:
        return max((e.announcement_progress.confirmed_count for e in progress()), default=0) == 5

    await eventually(five_live, timeout=30)
    listed = await ann_b.ListAnnouncements(chat_pb2.ListAnnouncementsRequest(chat_id=parents_chat), metadata=second.md)
    (mine,) = listed.announcements
    assert [(f.child_user_id, f.confirmed, f.confirmed_by_user_id) for f in mine.my_families] == [
        (kids[0].user_id, True, first.user_id)
    ]
    await guardian_stream.close()
    assert not [e for e in guardian_stream.events if e.WhichOneof("event") == "announcement_progress"]
    await stream.close()


async def _in(stubs, person, chat_id):  # type: ignore[no-untyped-def]
    return chat_id in await chat_ids(stubs, person)
