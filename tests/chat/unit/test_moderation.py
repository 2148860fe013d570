"""Moderation on in-memory ports: reports (once per reporter and message), mutes."""

from __future__ import annotations

from chat.domain.chats import ChatKind
from chat.domain.moderation import Report

from tests.chat.unit.fakes import Fakes
from tests.chat.unit.test_messages import CLASS, SCHOOL, fakes, reason  # noqa: F401 (fixture)


async def test_a_report_is_stored_once_per_reporter_and_message(fakes: Fakes) -> None:  # noqa: F811
    sent = (await fakes.app.messages.send_message("ann", CLASS, "c-1", "rude")).message
    first = await fakes.app.moderation.report("bob", CLASS, sent.seq, "rude")
    again = await fakes.app.moderation.report("bob", CLASS, sent.seq, "still rude")
    assert first == again and list(fakes.reports.rows) == [first]
    assert fakes.reports.rows[first] == Report(
        first,
        CLASS,
        sent.seq,
        "bob",
        "rude",
        fakes.clock.now(),
        school_id=SCHOOL,
        chat_kind=ChatKind.CLASS,
        class_id="5A",
        message=sent,
    )
    assert await reason(fakes.app.moderation.report("bob", CLASS, 99, "")) == "MESSAGE_NOT_FOUND"
    assert await reason(fakes.app.moderation.report("pat", CLASS, sent.seq, "")) == "NOT_A_MEMBER"


async def test_mutes_are_a_moderators_for_members_only(fakes: Fakes) -> None:  # noqa: F811
    assert await reason(fakes.app.moderation.mute("ann", CLASS, "bob", 60)) == "NOT_MODERATOR"
    assert await reason(fakes.app.moderation.mute("tom", CLASS, "pat", 60)) == "MEMBER_NOT_FOUND"
    assert await reason(fakes.app.moderation.mute("tom", CLASS, "tom", 60)) == "INVALID_ARGUMENT"
    until = await fakes.app.moderation.mute("tom", CLASS, "bob", 60)
    assert until is not None and fakes.members.rows[CLASS, "bob"].muted_until == until
    assert await fakes.app.moderation.mute("tom", CLASS, "bob", 0) is None
