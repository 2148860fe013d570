"""Moderation that reaches a person and quiet hours that work, on two replicas with the real store
and Kafka: a parent's report reaches the admin's queue (not another class's head), the admin deletes
the message and mutes its author, the parent learns the outcome; a blocked DM is refused on the
other replica; an urgent parent message at 22:40 reaches the teacher's live stream at once, the
daily allowance refuses the next with RetryInfo; held edits and reactions stay held until an admin
releases the message."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import grpc
import pytest
from chat.domain.sealing import Sealer
from chat.pb import message_from_pb
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.chat.v1 import chat_pb2, events_pb2
from parta_common.events.topics import CHAT_MESSAGE

from tests.chat.support import (
    ADMIN,
    CPARENT,
    CSTUDENT,
    HEAD,
    PARENT,
    SEALING_KEY,
    STUDENT,
    SUBJECT,
    TEACHER,
    Collector,
    World,
    chat_ids,
    eventually,
    uid,
)
from tests.school.support import payloads, read_events

NIGHT = datetime(2026, 9, 1, 22, 40, tzinfo=ZoneInfo("Europe/Moscow")).astimezone(UTC)


def details(exc: grpc.aio.AioRpcError) -> tuple[str, float | None]:
    """(ErrorInfo reason, RetryInfo delay in seconds or None)."""
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    found, delay = "", None
    for detail in status.details if status is not None else []:
        info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            found = str(info.reason)
        elif detail.Unpack(retry):
            delay = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
    return found, delay


async def refused(call) -> tuple[grpc.StatusCode, str, float | None]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return (err.value.code(), *details(err.value))


@pytest.fixture(scope="module")
async def cast(world: World):  # type: ignore[no-untyped-def]
    school = world.school()
    await school.create(start=8 * 60, end=18 * 60, tz="Europe/Moscow")
    a_class, b_class = uid("c"), uid("c")
    await school.add_class(a_class)
    await school.add_class(b_class)
    p = {n: world.person() for n in ("admin", "head", "hal", "tia", "ann", "bob", "pam", "rob")}
    await school.member(p["admin"].user_id, ADMIN)
    await school.member(p["head"].user_id, TEACHER, a_class, HEAD)
    await school.member(p["hal"].user_id, TEACHER, b_class, HEAD)
    await school.member(p["tia"].user_id, TEACHER, a_class, SUBJECT)
    await school.member(p["ann"].user_id, STUDENT, a_class, CSTUDENT)
    await school.member(p["bob"].user_id, STUDENT, a_class, CSTUDENT)
    await school.member(p["pam"].user_id, PARENT, a_class, CPARENT, child=p["ann"].user_id)
    await school.member(p["rob"].user_id, PARENT, a_class, CPARENT, child=p["bob"].user_id)
    stubs = world.replicas[0].stubs

    async def ready() -> bool:
        return {f"par-{a_class}"} <= await chat_ids(stubs, p["pam"]) and {f"par-{a_class}"} <= await chat_ids(
            stubs, p["rob"]
        )

    await eventually(ready)
    return school, a_class, p


async def test_a_parents_report_reaches_the_admin_who_deletes_and_mutes_and_the_parent_is_told(
    world: World, cast
) -> None:  # type: ignore[no-untyped-def]
    school, a_class, p = cast
    a, b = (r.stubs.chat for r in world.replicas)
    chat_id = f"par-{a_class}"
    sent = await a.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=uid(), text="your kid is a thief"),
        metadata=p["rob"].md,
    )
    seq = sent.message.seq
    report = await a.ReportMessage(
        chat_pb2.ReportMessageRequest(chat_id=chat_id, seq=seq, reason="accusation"), metadata=p["pam"].md
    )
    # The author edits it afterwards: the queue keeps what was reported.
    await a.EditMessage(chat_pb2.EditMessageRequest(chat_id=chat_id, seq=seq, text="hello"), metadata=p["rob"].md)
    queue = await b.ListReports(chat_pb2.ListReportsRequest(school_id=school.school_id), metadata=p["admin"].md)
    [view] = [r for r in queue.reports if r.report_id == report.report_id]
    assert view.reporter_user_id == p["pam"].user_id and view.reason == "accusation"
    assert view.message.text == "your kid is a thief" and view.message.sender_user_id == p["rob"].user_id
    assert view.state == chat_pb2.REPORT_STATE_OPEN and view.reported_at.seconds > 0
    head_queue = await a.ListReports(chat_pb2.ListReportsRequest(school_id=school.school_id), metadata=p["head"].md)
    assert [r.report_id for r in head_queue.reports] == [report.report_id]  # the class head of 5A too
    # The class head of another class sees nothing of it, and cannot act on it.
    other = await b.ListReports(chat_pb2.ListReportsRequest(school_id=school.school_id), metadata=p["hal"].md)
    assert list(other.reports) == []
    act = chat_pb2.ActOnReportRequest(
        report_id=report.report_id,
        actions=[chat_pb2.REPORT_ACTION_DELETE_MESSAGE, chat_pb2.REPORT_ACTION_MUTE_AUTHOR],
        note="accuses a child in the parents' chat",
        mute_seconds=86400,
    )
    assert (await refused(b.ActOnReport(act, metadata=p["hal"].md)))[:2] == (
        grpc.StatusCode.NOT_FOUND,
        "REPORT_NOT_FOUND",
    )
    assert (
        await refused(b.ListReports(chat_pb2.ListReportsRequest(school_id=school.school_id), metadata=p["pam"].md))
    )[:2] == (grpc.StatusCode.PERMISSION_DENIED, "NOT_MODERATOR")
    # The admin deletes the message and mutes its author.
    decided = (await b.ActOnReport(act, metadata=p["admin"].md)).report
    assert decided.state == chat_pb2.REPORT_STATE_ACTIONED
    [d] = decided.decisions
    assert d.moderator_user_id == p["admin"].user_id and d.note == act.note and d.muted_until.seconds > 0
    assert decided.message.text == "your kid is a thief"
    history = await a.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id), metadata=p["pam"].md)
    [gone] = [m for m in history.messages if m.seq == seq]
    assert gone.deleted and gone.text == ""
    code, why, _ = await refused(
        a.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id=uid(), text="again"), metadata=p["rob"].md
        )
    )
    assert (code, why) == (grpc.StatusCode.PERMISSION_DENIED, "MEMBER_MUTED")
    # The parent is told: her report's outcome, without the moderator's name or note.
    mine = await a.ListMyReports(chat_pb2.ListMyReportsRequest(), metadata=p["pam"].md)
    [outcome] = [r for r in mine.reports if r.report_id == report.report_id]
    assert outcome.state == chat_pb2.REPORT_STATE_ACTIONED and outcome.decided_at.seconds > 0
    assert list(outcome.outcome) == [chat_pb2.REPORT_ACTION_DELETE_MESSAGE, chat_pb2.REPORT_ACTION_MUTE_AUTHOR]
    assert p["admin"].user_id not in str(outcome)
    # Closed: the open queue no longer lists it.
    queue = await a.ListReports(chat_pb2.ListReportsRequest(school_id=school.school_id), metadata=p["admin"].md)
    assert report.report_id not in [r.report_id for r in queue.reports]
    # The audit trail's events, on the chat topic: the report (without its reason), the mute and the
    # deletion by the admin, the deletion sealed over the text as it was.
    admin = p["admin"].user_id

    def seen_all(seen) -> bool:  # type: ignore[no-untyped-def]
        return (
            any(x.report_id == report.report_id for x in payloads(seen, events_pb2.MessageReported))
            and any(x.chat_id == chat_id for x in payloads(seen, events_pb2.MemberMuted))
            and any(x.message.chat_id == chat_id for x in payloads(seen, events_pb2.MessageDeleted))
        )

    # The outbox delivers at least once (two replicas' relays may both publish a record): one event
    # per event id, as the audit service counts them.
    seen = list(
        {
            e.event_id: e
            for e in await read_events(world.kafka, [world.prefix + CHAT_MESSAGE], until=seen_all, timeout=60)
        }.values()
    )
    [reported] = [x for x in payloads(seen, events_pb2.MessageReported) if x.report_id == report.report_id]
    assert (reported.reporter_user_id, reported.author_user_id) == (p["pam"].user_id, p["rob"].user_id)
    assert b"accusation" not in reported.SerializeToString()
    [muted] = [x for x in payloads(seen, events_pb2.MemberMuted) if x.chat_id == chat_id]
    assert (muted.user_id, muted.muted_by_user_id) == (p["rob"].user_id, admin)
    [deleted] = [x for x in payloads(seen, events_pb2.MessageDeleted) if x.message.chat_id == chat_id]
    assert deleted.deleted_by_user_id == admin and deleted.message.text == ""
    sealer = Sealer(SEALING_KEY.encode(), deleted.seal_key_id)
    as_reported = message_from_pb(view.message)
    # Sealed: the message as it was when deleted (edited to "hello" after the report).
    assert sealer.matches(deleted.content_seal, replace(as_reported, text="hello"))
    assert not sealer.matches(deleted.content_seal, as_reported)


async def test_a_blocked_parent_cannot_dm_the_teacher_on_any_replica(world: World, cast) -> None:  # type: ignore[no-untyped-def]
    school, _a_class, p = cast
    a, b = (r.stubs.chat for r in world.replicas)
    dm = (
        await a.OpenDirectChat(
            chat_pb2.OpenDirectChatRequest(school_id=school.school_id, user_id=p["head"].user_id), metadata=p["rob"].md
        )
    ).chat.chat.chat_id
    await a.BlockUser(chat_pb2.BlockUserRequest(user_id=p["rob"].user_id), metadata=p["head"].md)
    settings = await b.GetMyChatSettings(chat_pb2.GetMyChatSettingsRequest(), metadata=p["head"].md)
    assert list(settings.blocked_user_ids) == [p["rob"].user_id] and settings.urgent_notifications
    code, why, _ = await refused(
        b.SendMessage(chat_pb2.SendMessageRequest(chat_id=dm, client_message_id=uid(), text="hi"), metadata=p["rob"].md)
    )
    assert (code, why) == (grpc.StatusCode.PERMISSION_DENIED, "DIRECT_MESSAGES_NOT_ACCEPTED")
    await b.UnblockUser(chat_pb2.UnblockUserRequest(user_id=p["rob"].user_id), metadata=p["head"].md)
    await a.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=dm, client_message_id=uid(), text="hi"), metadata=p["rob"].md
    )


async def test_urgent_at_night_reaches_the_teacher_at_once_within_the_daily_allowance(world: World, cast) -> None:  # type: ignore[no-untyped-def]
    school, _a_class, p = cast
    a, b = world.replicas[0].stubs, world.replicas[1].stubs
    dm = (
        await a.chat.OpenDirectChat(
            chat_pb2.OpenDirectChatRequest(school_id=school.school_id, user_id=p["head"].user_id), metadata=p["pam"].md
        )
    ).chat.chat.chat_id
    teacher = await Collector(b, p["head"], {dm: 0}).ready()
    world.clock.fixed = NIGHT
    try:

        def urgent(text: str) -> chat_pb2.SendMessageRequest:
            return chat_pb2.SendMessageRequest(
                chat_id=dm, client_message_id=uid(), text=text, urgent=True, urgent_reason="Ann has a fever"
            )

        first = await a.chat.SendMessage(urgent("Ann is ill, she won't come tomorrow"), metadata=p["pam"].md)
        assert not first.HasField("deliver_at") and first.message.urgent

        async def arrived() -> bool:
            return any(m.seq == first.message.seq for m in teacher.messages(dm))

        await eventually(arrived)
        [live] = [m for m in teacher.messages(dm) if m.seq == first.message.seq]
        assert live.urgent and live.urgent_reason == "Ann has a fever"
        await b.chat.SendMessage(urgent("temperature 39"), metadata=p["pam"].md)
        code, why, delay = await refused(a.chat.SendMessage(urgent("still 39"), metadata=p["pam"].md))
        assert (code, why) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "URGENT_LIMIT")
        assert delay is not None and abs(delay - 80 * 60) < 5  # until midnight school time

        # A message that is not urgent is held; so are its edit and its reaction.
        held = await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=dm, client_message_id=uid(), text="thank you"), metadata=p["pam"].md
        )
        assert held.deliver_at.seconds > 0
        seq = held.message.seq
        await b.chat.EditMessage(
            chat_pb2.EditMessageRequest(chat_id=dm, seq=seq, text="thank you!"), metadata=p["pam"].md
        )
        reacted = await a.chat.ReactToMessage(
            chat_pb2.ReactToMessageRequest(chat_id=dm, seq=seq, emoji="🙏", add=True), metadata=p["pam"].md
        )
        assert list(reacted.message.held_for_user_ids) == [p["head"].user_id]
        # A marker after them: once it arrives, whatever came before it has been routed.
        marker = await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=dm, client_message_id=uid(), text="ok"), metadata=p["head"].md
        )

        async def marked() -> bool:
            return any(m.seq == marker.message.seq for m in teacher.messages(dm))

        await eventually(marked)
        assert not [m for m in teacher.messages(dm) if m.seq == seq]
        history = await b.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=dm), metadata=p["head"].md)
        assert seq not in [m.seq for m in history.messages]
        # Nor is it unread: the teacher's two urgent messages are, the held one is not (yet).
        view = await a.chat.GetChat(chat_pb2.GetChatRequest(chat_id=dm), metadata=p["head"].md)
        assert view.chat.unread_count == 2
        # An admin releases it now: the teacher gets the edited, reacted message live.
        listed = await a.chat.ListHeldMessages(
            chat_pb2.ListHeldMessagesRequest(school_id=school.school_id), metadata=p["admin"].md
        )
        assert (dm, seq) in [(m.chat_id, m.seq) for m in listed.messages]
        code, why, _ = await refused(
            a.chat.ReleaseHeldMessage(chat_pb2.ReleaseHeldMessageRequest(chat_id=dm, seq=seq), metadata=p["head"].md)
        )
        assert (code, why) == (grpc.StatusCode.PERMISSION_DENIED, "NOT_ADMIN")
        await b.chat.ReleaseHeldMessage(chat_pb2.ReleaseHeldMessageRequest(chat_id=dm, seq=seq), metadata=p["admin"].md)

        async def released() -> list[chat_pb2.MessageSnapshot]:
            return [m for m in teacher.messages(dm) if m.seq == seq]

        [got] = await eventually(released)
        assert got.text == "thank you!" and [r.emoji for r in got.reactions] == ["🙏"]
        view = await b.chat.GetChat(chat_pb2.GetChatRequest(chat_id=dm), metadata=p["head"].md)
        assert view.chat.unread_count == 3
    finally:
        world.clock.fixed = None
        await teacher.close()


async def test_a_teacher_who_turns_urgent_off_is_not_woken(world: World, cast) -> None:  # type: ignore[no-untyped-def]
    school, _a_class, p = cast
    a = world.replicas[0].stubs.chat
    dm = (
        await a.OpenDirectChat(
            chat_pb2.OpenDirectChatRequest(school_id=school.school_id, user_id=p["tia"].user_id), metadata=p["pam"].md
        )
    ).chat.chat.chat_id
    off = await a.SetUrgentNotifications(chat_pb2.SetUrgentNotificationsRequest(enabled=False), metadata=p["tia"].md)
    assert not off.urgent_notifications
    world.clock.fixed = NIGHT
    try:
        sent = await a.SendMessage(
            chat_pb2.SendMessageRequest(
                chat_id=dm, client_message_id=uid(), text="question", urgent=True, urgent_reason="trip form"
            ),
            metadata=p["pam"].md,
        )
        assert sent.deliver_at.seconds > 0 and list(sent.message.held_for_user_ids) == [p["tia"].user_id]
    finally:
        world.clock.fixed = None
