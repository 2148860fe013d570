"""chat's chat use cases on in-memory ports: settings change with their event in one write, direct
chats keep their two people in a field of their own, pins."""

from __future__ import annotations

from chat.domain import events as ev
from chat.domain.chats import Chat, ChatKind, PostingPolicy
from chat.domain.members import Grant
from chat.domain.provisioning import ClassRole, Profile, SchoolRole

from tests.chat.unit.fakes import Fakes, seat, seed_chat
from tests.chat.unit.test_messages import CLASS, SCHOOL, reason


async def _world() -> Fakes:
    f = Fakes()
    f.facts.memberships += [
        seat(SCHOOL, "tom", SchoolRole.TEACHER, "5A", ClassRole.CLASS_HEAD),
        seat(SCHOOL, "ann", SchoolRole.STUDENT, "5A", ClassRole.STUDENT),
        seat(SCHOOL, "pat", SchoolRole.PARENT, "5A", ClassRole.PARENT, child="ann"),
    ]
    f.facts.profiles.update({u: Profile(u, u.title()) for u in ("tom", "ann", "pat")})
    await seed_chat(
        f, Chat(CLASS, SCHOOL, ChatKind.CLASS, "5A", class_id="5A"), {"tom": Grant.CLASS_HEAD, "ann": Grant.STUDENT}
    )
    return f


async def test_a_settings_change_and_its_chat_updated_are_one_write() -> None:
    f = await _world()
    view = await f.app.chats.update_chat("tom", CLASS, "5A — maths", PostingPolicy.ADMINS_ONLY, 30)
    assert (view.chat.title, view.chat.posting_policy, view.chat.slow_mode_seconds) == (
        "5A — maths",
        PostingPolicy.ADMINS_ONLY,
        30,
    )
    assert f.chats.writes == [(f"chat:{CLASS}", [ev.ChatUpdated(f.chats.rows[CLASS], "tom")])]
    assert f.chats.rows[CLASS].update_seq == 1 and f.chats.rows[CLASS].member_count == 2
    assert await reason(f.app.chats.update_chat("ann", CLASS, "mine", None, None)) == "NOT_MODERATOR"
    assert not (await f.app.chats.get_chat("ann", CLASS)).can_post


async def test_a_direct_chat_holds_its_two_people_as_members_not_as_its_creator() -> None:
    f = await _world()
    view = await f.app.chats.open_direct_chat("tom", SCHOOL, "pat")
    chat = f.chats.rows[view.chat.chat_id]
    assert chat.members == ("pat", "tom") and chat.created_by == ""
    assert view.peer_user_id == "pat"
    assert (await f.app.chats.get_chat("pat", chat.chat_id)).peer_user_id == "tom"
    assert chat.member_count == 2
    assert [type(e) for e in f.events()] == [ev.ChatCreated, ev.MemberAdded, ev.MemberAdded]
    again = await f.app.chats.open_direct_chat("pat", SCHOOL, "tom")
    assert again.chat.chat_id == chat.chat_id and len(f.events()) == 3  # nothing new
    # Nobody moderates a direct chat, so it has no settings to change.
    assert await reason(f.app.chats.update_chat("tom", chat.chat_id, "x", None, None)) == "NOT_MODERATOR"


async def test_pins_are_a_moderators_and_unchanged_pins_write_nothing() -> None:
    f = await _world()
    sent = (await f.app.messages.send_message("ann", CLASS, "c-1", "hw")).message
    assert await reason(f.app.chats.pin("ann", CLASS, sent.seq, True)) == "NOT_MODERATOR"
    pinned = await f.app.chats.pin("tom", CLASS, sent.seq, True)
    assert pinned.pinned_seqs == [sent.seq]
    writes = len(f.chats.writes)
    assert (await f.app.chats.pin("tom", CLASS, sent.seq, True)).pinned_seqs == [sent.seq]
    assert len(f.chats.writes) == writes
    assert (await f.app.chats.pin("tom", CLASS, sent.seq, False)).pinned_seqs == []
