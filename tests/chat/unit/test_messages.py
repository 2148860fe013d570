"""chat's message use cases on in-memory ports: send, edit, delete, react, history, quiet hours.
Each change goes in one write that carries its event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from chat.domain import events as ev
from chat.domain.chats import Chat, ChatKind
from chat.domain.members import Grant
from chat.domain.provisioning import ClassRole, Profile, SchoolInfo, SchoolRole
from parta_common.errors import DomainError

from tests.chat.unit.fakes import Fakes, seat, seed_chat

SCHOOL = "s1"
CLASS = "cls-5A"


async def reason(coro: object) -> str | None:
    try:
        await coro  # type: ignore[misc]
    except DomainError as exc:
        return exc.reason
    return None


@pytest.fixture
async def fakes() -> Fakes:
    f = Fakes()
    f.facts.memberships += [
        seat(SCHOOL, "tom", SchoolRole.TEACHER, "5A", ClassRole.CLASS_HEAD),
        seat(SCHOOL, "ann", SchoolRole.STUDENT, "5A", ClassRole.STUDENT),
        seat(SCHOOL, "bob", SchoolRole.STUDENT, "5A", ClassRole.STUDENT),
        seat(SCHOOL, "pat", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="ann"),
    ]
    f.facts.profiles.update({u: Profile(u, u.title()) for u in ("tom", "ann", "bob", "pat")})
    chat = Chat(CLASS, SCHOOL, ChatKind.CLASS, "5A", class_id="5A")
    await seed_chat(f, chat, {"tom": Grant.CLASS_HEAD, "ann": Grant.STUDENT, "bob": Grant.STUDENT})
    return f


async def test_a_send_is_one_write_with_its_event_and_a_retry_gets_the_first_result(fakes: Fakes) -> None:
    sent = await fakes.app.messages.send_message("ann", CLASS, "c-1", "hello")
    assert sent.message.seq == 1 and sent.deliver_at is None
    assert fakes.messages.writes == [(f"message:{sent.message.message_id}", [ev.MessagePosted(sent.message)])]
    again = await fakes.app.messages.send_message("ann", CLASS, "c-1", "hello")
    assert again.message == sent.message
    assert len(fakes.messages.rows) == 1
    # The common send reads no seats at all (access is the member row with its chat and profile).
    assert fakes.facts.reads == []


async def test_outsiders_and_muted_members_do_not_send(fakes: Fakes) -> None:
    assert await reason(fakes.app.messages.send_message("pat", CLASS, "c-1", "hi")) == "NOT_A_MEMBER"
    await fakes.app.moderation.mute("tom", CLASS, "bob", 3600)
    assert await reason(fakes.app.messages.send_message("bob", CLASS, "c-2", "hi")) == "MEMBER_MUTED"
    fakes.clock.advance(2 * 3600)
    assert await reason(fakes.app.messages.send_message("bob", CLASS, "c-3", "hi")) is None


async def test_edit_is_the_authors_and_moves_the_update_seq(fakes: Fakes) -> None:
    sent = (await fakes.app.messages.send_message("ann", CLASS, "c-1", "helo")).message
    assert await reason(fakes.app.messages.edit_message("bob", CLASS, sent.seq, "x")) == "NOT_AUTHOR"
    edited = await fakes.app.messages.edit_message("ann", CLASS, sent.seq, "hello")
    assert edited.text == "hello" and edited.update_seq > sent.update_seq and edited.edited_at is not None
    assert fakes.messages.writes[-1] == (f"message:{sent.message_id}", [ev.MessageEdited(edited)])
    fakes.clock.advance(3 * 86400)
    assert await reason(fakes.app.messages.edit_message("ann", CLASS, sent.seq, "late")) == "EDIT_WINDOW_PASSED"


async def test_a_moderator_deletes_anyones_message_a_student_only_their_own(fakes: Fakes) -> None:
    sent = (await fakes.app.messages.send_message("ann", CLASS, "c-1", "oops")).message
    assert await reason(fakes.app.messages.delete_message("bob", CLASS, sent.seq)) == "NOT_AUTHOR"
    deleted = await fakes.app.messages.delete_message("tom", CLASS, sent.seq)
    assert deleted.deleted and deleted.text == ""
    assert fakes.messages.writes[-1] == (f"message:{sent.message_id}", [ev.MessageDeleted(deleted, "tom")])
    assert await fakes.app.messages.delete_message("tom", CLASS, sent.seq) == deleted  # idempotent


async def test_reactions_are_idempotent_per_person(fakes: Fakes) -> None:
    sent = (await fakes.app.messages.send_message("ann", CLASS, "c-1", "hi")).message
    once = await fakes.app.messages.react("bob", CLASS, sent.seq, "👍", True)
    twice = await fakes.app.messages.react("bob", CLASS, sent.seq, "👍", True)
    assert once == twice and [(r.emoji, r.user_ids) for r in once.reactions] == [("👍", ["bob"])]
    removed = await fakes.app.messages.react("bob", CLASS, sent.seq, "👍", False)
    assert removed.reactions == []
    changes = [es for key, es in fakes.messages.writes if key == f"message:{sent.message_id}"]
    assert [type(e) for es in changes for e in es] == [ev.MessagePosted, ev.MessageChanged, ev.MessageChanged]


async def test_history_pages_before_and_after(fakes: Fakes) -> None:
    for i in range(5):
        await fakes.app.messages.send_message("ann", CLASS, f"c-{i}", f"m{i}")
    page, more = await fakes.app.messages.list_messages("bob", CLASS, before_seq=5, after_seq=0, limit=2)
    assert [m.seq for m in page] == [3, 4] and more
    page, more = await fakes.app.messages.list_messages("bob", CLASS, before_seq=0, after_seq=3, limit=10)
    assert [m.seq for m in page] == [4, 5] and not more


async def test_quiet_hours_hold_a_parents_evening_message_until_the_workday(fakes: Fakes) -> None:
    fakes.facts.schools[SCHOOL] = SchoolInfo(SCHOOL, "School", "UTC", 8 * 60, 17 * 60)
    fakes.clock.set(fakes.clock.now().replace(hour=20))
    view = await fakes.app.chats.open_direct_chat("pat", SCHOOL, "tom")
    dm = view.chat.chat_id
    fakes.facts.reads.clear()
    sent = await fakes.app.messages.send_message("pat", dm, "c-1", "about tomorrow")
    # One send reads the sender's seats once (DM rules, quiet hours), the peer's once.
    assert fakes.facts.reads.count((SCHOOL, "pat")) == 1 and fakes.facts.reads.count((SCHOOL, "tom")) == 1
    assert sent.deliver_at is not None and sent.deliver_at.hour == 8 and sent.message.held_for == ["tom"]
    tom_sees, _ = await fakes.app.messages.list_messages("tom", dm, 0, 0, 10)
    pat_sees, _ = await fakes.app.messages.list_messages("pat", dm, 0, 0, 10)
    assert tom_sees == [] and [m.text for m in pat_sees] == ["about tomorrow"]
    assert await fakes.app.messages.release_held() == 0  # not yet
    fakes.clock.set(sent.deliver_at + timedelta(minutes=1))
    assert await fakes.app.messages.release_held() == 1
    tom_sees, _ = await fakes.app.messages.list_messages("tom", dm, 0, 0, 10)
    assert [m.text for m in tom_sees] == ["about tomorrow"] and tom_sees[0].update_seq > sent.message.update_seq
