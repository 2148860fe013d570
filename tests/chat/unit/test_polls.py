"""Polls on in-memory ports (app/polls.py, domain/polls.py): choices checked, a vote is final and
idempotent, results to voters after they vote or only after closing, family polls one vote per
child, anonymous polls name no one (not even in storage)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from chat.domain import events as ev
from chat.domain.chats import Chat, ChatKind
from chat.domain.members import Grant
from chat.domain.polls import stored_key

from tests.chat.unit.fake_announcements import announcements_on
from tests.chat.unit.fake_polls import polls_on
from tests.chat.unit.fakes import Fakes, seed_chat
from tests.chat.unit.test_announcements import CLASS, PARENTS, SCHOOL, fakes, reason  # noqa: F401 (fixture)


async def test_choices_are_checked_and_a_vote_is_final(fakes: Fakes) -> None:  # noqa: F811
    polls, repo = polls_on(fakes)
    assert await reason(polls.create("tom", CLASS, "p-0", "Куда едем?", ["Музей"])) == "INVALID_ARGUMENT"
    assert await reason(polls.create("ann", CLASS, "p-0", "Куда?", ["A", "B"])) == "NOT_ANNOUNCER"
    view, message = await polls.create("tom", CLASS, "p-1", "Куда едем?", ["Музей", "Театр", "Парк"])
    assert view.results is not None and [r.votes for r in view.results] == [0, 0, 0]  # the author sees counts
    assert await reason(polls.vote("ann", CLASS, message.seq, [0, 1])) == "INVALID_ARGUMENT"  # single choice
    assert await reason(polls.vote("ann", CLASS, message.seq, [3])) == "INVALID_ARGUMENT"
    before = await polls.get("bea", CLASS, message.seq)
    assert before.results is None and before.my_choices is None  # no vote, no results
    voted = await polls.vote("ann", CLASS, message.seq, [1])
    assert voted.my_choices == (1,) and voted.results is not None and voted.results[1].votes == 1
    assert voted.results[1].voter_user_ids == ("ann",)  # a named poll
    again = await polls.vote("ann", CLASS, message.seq, [1])  # the same vote: the same answer
    assert again.voters == 1 and len(repo.stored) == 1
    assert await reason(polls.vote("ann", CLASS, message.seq, [2])) == "ALREADY_VOTED"
    assert await reason(polls.vote("pat", CLASS, message.seq, [2])) == "NOT_A_MEMBER"
    # ListPolls: the chat's polls, newest first, each as GetPoll answers the caller.
    _second, newer = await polls.create("tom", CLASS, "p-2", "Когда?", ["Утром", "Вечером"])
    listed = await polls.list_polls("ann", CLASS)
    assert [v.poll.seq for v in listed] == [newer.seq, message.seq]
    assert listed[0].results is None and listed[1].my_choices == (1,) and listed[1].results is not None
    assert await reason(polls.list_polls("pat", CLASS)) == "NOT_A_MEMBER"


async def test_polls_and_announcements_share_who_posts_and_the_address_check(fakes: Fakes) -> None:  # noqa: F811
    """One announcer check (Access.announcer) and one (chat, seq) address check and NOT_FOUND
    (domain/rules.py) serve both: the same refusals, in the same order, each with its own reason."""
    polls, _repo = polls_on(fakes)
    notes, _ = announcements_on(fakes)
    await seed_chat(fakes, Chat("grp-1", SCHOOL, ChatKind.GROUP, "Кружок"), {"tom": Grant.ADMIN, "ann": Grant.MEMBER})
    assert await reason(polls.create("tom", "grp-1", "p-1", "Куда?", ["A", "B"])) == "NOT_POLL_CHAT"
    assert await reason(notes.post("tom", "grp-1", "a-1", "x", None, False)) == "NOT_ANNOUNCEMENT_CHAT"
    assert await reason(polls.create("pat", PARENTS, "p-2", "Куда?", ["A", "B"])) == "NOT_ANNOUNCER"
    for use_case in (polls.get, polls.close, notes.status, notes.remind, notes.confirm):
        assert await reason(use_case("tom", PARENTS, 0)) == "INVALID_ARGUMENT"  # checked before any read
        assert await reason(use_case("oli", PARENTS, 1)) == "NOT_A_MEMBER"  # membership before the find
    assert await reason(polls.vote("tom", "bad id", 1, [0])) == "INVALID_ARGUMENT"
    assert await reason(polls.get("tom", PARENTS, 9)) == "POLL_NOT_FOUND"
    assert await reason(polls.vote("pat", PARENTS, 9, [0])) == "POLL_NOT_FOUND"
    assert await reason(polls.close("tom", PARENTS, 9)) == "POLL_NOT_FOUND"
    for announcement_case in (notes.status, notes.remind, notes.confirm):
        assert await reason(announcement_case("tom", PARENTS, 9)) == "ANNOUNCEMENT_NOT_FOUND"


async def test_anonymous_results_after_close_name_nobody(fakes: Fakes) -> None:  # noqa: F811
    polls, repo = polls_on(fakes)
    closes = fakes.clock.now() + timedelta(hours=1)
    _view, message = await polls.create(
        "tom",
        CLASS,
        "p-1",
        "Оценка?",
        ["1", "2", "3"],
        multiple=True,
        anonymous=True,
        results_after_close=True,
        closes_at=closes,
    )
    voted = await asyncio.gather(*(polls.vote(u, CLASS, message.seq, [0, 2]) for u in ("ann", "bea", "cid", "ann")))
    assert all(v.results is None and v.my_choices == (0, 2) for v in voted)  # results only after closing
    assert {k for _p, k in repo.stored} == {stored_key(repo.rows[message.message_id], u) for u in ("ann", "bea", "cid")}
    assert not {"ann", "bea", "cid"} & {v.voter_user_id for v in repo.stored.values()}  # stored unnamed
    # One live signal per vote stored (the repeated press stores nothing, signals nothing), to the
    # author, naming nobody: the author's page re-reads GetPoll.
    assert [(e.author_user_id, e.seq) for e in repo.events if isinstance(e, ev.PollVoted)] == [("tom", message.seq)] * 3
    assert not [e for e in repo.events if {"ann", "bea", "cid"} & set(vars(e).values())]
    assert await reason(polls.close("ann", CLASS, message.seq)) == "NOT_POLL_OWNER"
    fakes.clock.advance(2 * 3600)
    after = await polls.get("ann", CLASS, message.seq)
    assert after.closed and after.results is not None and [r.votes for r in after.results] == [3, 0, 3]
    assert all(r.voter_user_ids == () for r in after.results) and after.voters == 3
    assert await reason(polls.vote("cid", CLASS, message.seq, [1])) == "ALREADY_VOTED"
    late = await reason(polls.vote("tom", CLASS, message.seq, [1]))
    assert late == "POLL_CLOSED"


async def test_a_family_poll_takes_one_vote_per_child(fakes: Fakes) -> None:  # noqa: F811
    polls, _repo = polls_on(fakes)
    _view, message = await polls.create("tom", PARENTS, "p-1", "Экскурсия?", ["Да", "Нет"], per_family=True)
    both = await polls.vote("pat", PARENTS, message.seq, [0])  # ann's and bea's guardian: two families
    assert both.results is not None and both.voters == 2 and both.results[0].voter_user_ids == ("pat",)
    assert await reason(polls.vote("pam", PARENTS, message.seq, [1])) == "ALREADY_VOTED"  # ann's family voted
    same = await polls.vote("pam", PARENTS, message.seq, [0])
    assert same.voters == 2
    assert await reason(polls.vote("tom", PARENTS, message.seq, [0])) == "NOT_A_FAMILY_VOTER"
    closed = await polls.close("tom", PARENTS, message.seq)
    assert closed.closed and await reason(polls.vote("cal", PARENTS, message.seq, [1])) == "POLL_CLOSED"
