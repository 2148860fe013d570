"""The report queue on in-memory ports: who sees which report, the moderator's actions and their
record, what the reporter learns; blocks of direct messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from chat.domain import events as ev
from chat.domain.chats import Chat, ChatKind
from chat.domain.members import Grant
from chat.domain.moderation import ReportAction, ReportState
from chat.domain.provisioning import ClassRole, Profile, SchoolRole

from tests.chat.unit.fakes import Fakes, seat, seed_chat
from tests.chat.unit.test_messages import CLASS, SCHOOL, reason

DELETE, MUTE, DISMISS, REMOVE = (
    ReportAction.DELETE_MESSAGE,
    ReportAction.MUTE_AUTHOR,
    ReportAction.DISMISS,
    ReportAction.REMOVE_FROM_CHAT,
)


@pytest.fixture
async def fakes() -> Fakes:
    f = Fakes()
    f.facts.memberships += [
        seat(SCHOOL, "ada", SchoolRole.ADMIN),
        seat(SCHOOL, "tom", SchoolRole.TEACHER, "5A", ClassRole.CLASS_HEAD),
        seat(SCHOOL, "hal", SchoolRole.TEACHER, "5B", ClassRole.CLASS_HEAD),
        seat(SCHOOL, "ann", SchoolRole.STUDENT, "5A", ClassRole.STUDENT),
        seat(SCHOOL, "bob", SchoolRole.STUDENT, "5A", ClassRole.STUDENT),
        seat(SCHOOL, "pat", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="ann"),
        seat("s2", "eve", SchoolRole.ADMIN),
    ]
    f.facts.profiles.update({u: Profile(u, u.title()) for u in ("ada", "tom", "hal", "ann", "bob", "pat", "eve")})
    chat = Chat(CLASS, SCHOOL, ChatKind.CLASS, "5A", class_id="5A")
    await seed_chat(f, chat, {"tom": Grant.CLASS_HEAD, "ann": Grant.STUDENT, "bob": Grant.STUDENT})
    return f


async def _reported(fakes: Fakes) -> tuple[str, int]:
    sent = (await fakes.app.messages.send_message("bob", CLASS, "c-1", "you are stupid")).message
    report_id = await fakes.app.moderation.report("ann", CLASS, sent.seq, "insult")
    return report_id, sent.seq


async def test_the_queue_shows_the_message_as_reported_to_the_admin_and_the_class_head_only(fakes: Fakes) -> None:
    report_id, seq = await _reported(fakes)
    await fakes.app.messages.edit_message("bob", CLASS, seq, "nice day")
    for moderator in ("ada", "tom"):  # the admin is not a member of the class chat, the head is
        [report] = await fakes.app.moderation.list_reports(moderator, SCHOOL, False, 0)
        assert report.report_id == report_id and report.reporter == "ann" and report.reason == "insult"
        assert report.message is not None and report.message.text == "you are stupid"  # as it was
    assert await fakes.app.moderation.list_reports("hal", SCHOOL, False, 0) == []  # head of another class
    assert await reason(fakes.app.moderation.act("hal", report_id, [DELETE], "x", 0)) == "REPORT_NOT_FOUND"
    assert await reason(fakes.app.moderation.act("eve", report_id, [DELETE], "x", 0)) == "NOT_A_SCHOOL_MEMBER"
    assert await reason(fakes.app.moderation.list_reports("bob", SCHOOL, False, 0)) == "NOT_MODERATOR"
    assert await reason(fakes.app.moderation.list_reports("eve", SCHOOL, False, 0)) == "NOT_A_SCHOOL_MEMBER"
    assert await reason(fakes.app.moderation.act("ada", "nope", [DELETE], "x", 0)) == "REPORT_NOT_FOUND"


async def test_deleting_and_muting_are_recorded_and_the_reporter_learns_the_outcome(fakes: Fakes) -> None:
    report_id, seq = await _reported(fakes)
    assert await reason(fakes.app.moderation.act("ada", report_id, [DELETE], "", 0)) == "INVALID_ARGUMENT"
    assert await reason(fakes.app.moderation.act("ada", report_id, [MUTE], "why", 0)) == "INVALID_ARGUMENT"
    assert await reason(fakes.app.moderation.act("ada", report_id, [DISMISS, MUTE], "w", 60)) == "INVALID_ARGUMENT"
    assert await reason(fakes.app.moderation.act("ada", report_id, [REMOVE], "w", 0)) == "PROVISIONED_CHAT"
    assert await reason(fakes.app.moderation.act("ada", report_id, [], "w", 0)) == "INVALID_ARGUMENT"
    decided = await fakes.app.moderation.act("ada", report_id, [DELETE, MUTE], "insults a classmate", 3600)
    assert decided.state is ReportState.ACTIONED
    [d] = decided.decisions
    assert (d.moderator, d.note, d.actions) == ("ada", "insults a classmate", (DELETE, MUTE))
    message = await fakes.messages.get_by_seq(CLASS, seq)
    assert message is not None and message.deleted and message.text == ""
    deleted = [e for _, es in fakes.messages.writes for e in es if isinstance(e, ev.MessageDeleted)]
    assert [e.deleted_by for e in deleted] == ["ada"]
    assert fakes.members.rows[CLASS, "bob"].muted_until == fakes.clock.now() + timedelta(hours=1)
    assert await reason(fakes.app.messages.send_message("bob", CLASS, "c-2", "hi")) == "MEMBER_MUTED"
    # The decision and its event were one write; the queue still shows the message as reported.
    # (The report itself was written with its MessageReported.)
    [(_, [reported]), decision_write] = fakes.reports.writes
    assert isinstance(reported, ev.MessageReported) and reported.report.reporter == "ann"
    assert decision_write == (f"report:{report_id}", [ev.ReportDecided(decided)])
    [muted] = [e for _, es in fakes.members.writes for e in es if isinstance(e, ev.MemberMuted)]
    assert (muted.user_id, muted.by, muted.until) == ("bob", "ada", fakes.clock.now() + timedelta(hours=1))
    [kept] = await fakes.app.moderation.list_reports("ada", SCHOOL, True, 0)
    assert kept.message is not None and kept.message.text == "you are stupid"
    assert await fakes.app.moderation.list_reports("ada", SCHOOL, False, 0) == []  # no longer open
    # The reporter sees the outcome, not who decided nor the note.
    [mine] = await fakes.app.moderation.my_reports("ann", 0)
    assert mine.state is ReportState.ACTIONED and mine.outcome == [DELETE, MUTE] and mine.decided_at is not None
    assert await fakes.app.moderation.my_reports("bob", 0) == []
    # Decided: a dismissal now is refused; a further action is recorded.
    assert await reason(fakes.app.moderation.act("tom", report_id, [DISMISS], "ok", 0)) == "REPORT_DECIDED"


async def test_a_dismissed_report_stays_dismissed(fakes: Fakes) -> None:
    report_id, seq = await _reported(fakes)
    dismissed = await fakes.app.moderation.act("tom", report_id, [DISMISS], "banter between friends", 0)
    assert dismissed.state is ReportState.DISMISSED
    assert await reason(fakes.app.moderation.act("ada", report_id, [DELETE], "no", 0)) == "REPORT_DECIDED"
    message = await fakes.messages.get_by_seq(CLASS, seq)
    assert message is not None and not message.deleted


async def test_remove_from_a_group_chat(fakes: Fakes) -> None:
    group = await fakes.app.chats.create_group_chat("tom", "r-1", SCHOOL, "Chess", "", ["ann", "bob"])
    chat_id = group.chat.chat_id
    sent = (await fakes.app.messages.send_message("bob", chat_id, "g-1", "spam")).message
    report_id = await fakes.app.moderation.report("ann", chat_id, sent.seq, "spam")
    assert await fakes.app.moderation.list_reports("tom", SCHOOL, False, 0) == []  # a group: admins only
    await fakes.app.moderation.act("ada", report_id, [REMOVE], "spams the group", 0)
    assert await fakes.members.get(chat_id, "bob") is None
    assert await reason(fakes.app.messages.send_message("bob", chat_id, "g-2", "x")) == "NOT_A_MEMBER"


async def test_a_blocked_sender_cannot_dm_and_learns_nothing_more(fakes: Fakes) -> None:
    dm = (await fakes.app.chats.open_direct_chat("pat", SCHOOL, "tom")).chat.chat_id
    await fakes.app.messages.send_message("pat", dm, "d-1", "hello")
    await fakes.app.preferences.block("tom", "pat")
    await fakes.app.preferences.block("tom", "pat")  # idempotent
    assert await fakes.app.preferences.get("tom") == (["pat"], True)
    assert await reason(fakes.app.messages.send_message("pat", dm, "d-2", "hello?")) == "DIRECT_MESSAGES_NOT_ACCEPTED"
    await fakes.app.messages.send_message("tom", dm, "d-3", "I can still write")  # the blocker can
    assert await reason(fakes.app.preferences.block("tom", "tom")) == "INVALID_ARGUMENT"
    await fakes.app.preferences.unblock("tom", "pat")
    await fakes.app.messages.send_message("pat", dm, "d-4", "hello again")
