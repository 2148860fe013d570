"""Polls on the real store and Kafka, two replicas: twelve students vote at once (each pressing
twice, on both replicas) in an anonymous multiple-choice poll — exact counts; a different second
vote is refused; the author's stream is told of each vote live, a voter's is not; no answer and no
stream event names a voter."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from parta.chat.v1 import chat_pb2, chat_pb2_grpc

from tests.chat.integration.test_announcements import details
from tests.chat.support import CSTUDENT, HEAD, STUDENT, TEACHER, Collector, World, chat_ids, eventually, uid


async def test_concurrent_anonymous_votes_count_exactly_and_name_nobody(world: World) -> None:
    a, b = world.replicas[0].stubs, world.replicas[1].stubs
    polls = [chat_pb2_grpc.PollServiceStub(a.channel), chat_pb2_grpc.PollServiceStub(b.channel)]
    school = world.school()
    await school.create()
    class_id = uid("c")
    await school.add_class(class_id)
    head = world.person()
    await school.member(head.user_id, TEACHER, class_id, HEAD)
    students = [world.person() for _ in range(12)]
    for s in students:
        await school.member(s.user_id, STUDENT, class_id, CSTUDENT)
    chat_id = f"cls-{class_id}"
    for person in [head, *students]:
        await eventually(lambda p=person: _in(a, p, chat_id))
    streams = [await Collector(a, head).ready(), await Collector(b, students[0]).ready()]
    created = await polls[0].CreatePoll(
        chat_pb2.CreatePollRequest(
            chat_id=chat_id,
            client_message_id=uid("p"),
            question="Куда поедем на экскурсию?",
            options=["Музей", "Театр", "Парк"],
            multiple_choice=True,
            anonymous=True,
        ),
        metadata=head.md,
    )
    seq = created.message.seq
    answers: list[chat_pb2.VoteResponse] = []

    async def vote(i: int, student_index: int) -> None:
        choices = [0, 2] if student_index % 3 == 0 else [1]
        request = chat_pb2.VoteRequest(chat_id=chat_id, seq=seq, option_indexes=choices)
        answers.append(await polls[i % 2].Vote(request, metadata=students[student_index].md))

    await asyncio.gather(*(vote(i, s) for i in range(2) for s in range(len(students))))
    result = (await polls[1].GetPoll(chat_pb2.GetPollRequest(chat_id=chat_id, seq=seq), metadata=head.md)).poll
    assert result.results_visible and result.voter_count == 12
    assert [o.votes for o in result.options] == [4, 8, 4]
    mine = (await polls[0].GetPoll(chat_pb2.GetPollRequest(chat_id=chat_id, seq=seq), metadata=students[1].md)).poll
    assert mine.voted and list(mine.my_choices) == [1] and [o.votes for o in mine.options] == [4, 8, 4]
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await polls[0].Vote(chat_pb2.VoteRequest(chat_id=chat_id, seq=seq, option_indexes=[0]), metadata=students[1].md)
    assert again.value.code() is grpc.StatusCode.FAILED_PRECONDITION and details(again.value)[0] == "ALREADY_VOTED"

    # Live to the author: a poll_progress for each of the twelve stored votes on the head's stream
    # (replica a; votes came through both replicas; the outbox is at-least-once, so some may come
    # twice), none to a student; the anonymity check below covers these events too.
    def progress(stream: Collector) -> list[chat_pb2.ChatEvent]:
        return [e for e in stream.events if e.WhichOneof("event") == "poll_progress"]

    async def twelve_live() -> bool:
        return len(progress(streams[0])) >= 12

    await eventually(twelve_live, timeout=30)
    assert all(e.chat_id == chat_id and e.poll_progress.seq == seq and not e.update_seq for e in progress(streams[0]))
    assert not progress(streams[1])
    closed = (await polls[0].ClosePoll(chat_pb2.ClosePollRequest(chat_id=chat_id, seq=seq), metadata=head.md)).poll
    assert closed.closed and [o.votes for o in closed.options] == [4, 8, 4]

    # Anonymous: no answer and no stream event after the poll names a voter (beyond the caller's own vote).
    voters = {s.user_id.encode() for s in students}
    seen = [r.SerializeToString() for r in (result, closed)]
    membership = ("member_added", "member_removed")  # the class's roster, not the poll
    seen += [
        e.SerializeToString()
        for s in streams
        for e in s.events
        if (e.update_seq >= seq or not e.update_seq) and e.WhichOneof("event") not in membership
    ]
    assert not [blob for blob in seen for v in voters if v in blob]
    assert all(not any(o.voter_user_ids for o in r.poll.options) for r in answers)
    for s in streams:
        await s.close()


async def _in(stubs, person, chat_id):  # type: ignore[no-untyped-def]
    return chat_id in await chat_ids(stubs, person)
