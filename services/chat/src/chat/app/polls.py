"""Poll use cases: create, vote (final, idempotent), get (results when visible), close. Rules in
domain/polls.py; docs/chat.md "Polls".

Exact counts under concurrency: a vote is one stored row whose id is (poll, voter key) — inserted
once, whoever wins a race; results count the rows when they are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import structlog
from parta_common import validation
from parta_common.clock import Clock
from parta_common.errors import FailedPrecondition, PermissionDenied, Violations

from chat.app.access import Access
from chat.app.chats import check_chat_id
from chat.app.messages import Messages
from chat.app.ports import Notifier
from chat.domain import events as ev
from chat.domain import polls as rules
from chat.domain.chats import Chat
from chat.domain.members import Member
from chat.domain.messages import Message
from chat.domain.polls import OptionResult, Poll, Vote
from chat.domain.rules import check_at_seq, check_id, ensure_at_seq
from chat.domain.system_notes import poll_header

log = structlog.get_logger("chat.polls")

LIST_LIMIT = 20  # ListPolls: the chat's newest polls (each one's results are counted when read)


class PollRepository(Protocol):
    async def add(self, poll: Poll) -> Poll:
        """Stores it unless its id exists; returns what is stored (the first one on a retry)."""

    async def get_by_seq(self, chat_id: str, seq: int) -> Poll | None: ...
    async def cast(self, vote: Vote, events: Sequence[ev.ChatEvent] = ()) -> Vote | None:
        """Stores the vote with its events (relayed through the outbox); None when stored now,
        else the vote stored before under its key (and the events are dropped)."""

    async def votes(self, poll_id: str, keys: Sequence[str] | None = None) -> list[Vote]:
        """Every vote, or those under the given (stored) keys."""

    async def close(self, poll_id: str, at: datetime) -> None:
        """Sets the closing time unless the poll is closed already."""

    async def in_chat(self, chat_id: str, limit: int) -> list[Poll]:
        """The chat's newest polls, newest first."""


@dataclass(frozen=True)
class PollView:
    poll: Poll
    closed: bool
    my_choices: tuple[int, ...] | None
    results: list[OptionResult] | None  # None: not visible to the caller
    voters: int


@dataclass
class Polls:
    repo: PollRepository
    access: Access
    messages: Messages
    clock: Clock
    notify: Notifier  # wakes the outbox relay after a vote (its PollVoted rides in the vote's row)

    async def create(
        self,
        user_id: str,
        chat_id: str,
        client_message_id: str,
        question: str,
        options: list[str],
        *,
        multiple: bool = False,
        anonymous: bool = False,
        per_family: bool = False,
        results_after_close: bool = False,
        closes_at: datetime | None = None,
    ) -> tuple[PollView, Message]:
        v = Violations()
        check_chat_id(chat_id, v)
        check_id(v, "client_message_id", client_message_id)
        validation.check_text(v, "question", question, 1000, required=True, prose=True)
        rules.check_options(v, options)
        now = self.clock.now()
        if closes_at is not None and closes_at <= now:
            v.add("closes_at", "must be in the future")
        v.raise_if_any()
        chat, member = await self.access.announcer(chat_id, user_id, rules.ensure_poll_chat)
        school = await self.messages.facts.school(chat.school_id)  # the header in the school's locale
        header = poll_header(school.locale if school else "", question)
        text = "\n".join([header, *(f"{i + 1}. {o}" for i, o in enumerate(options))])
        message = (await self.messages.send_message(user_id, chat_id, client_message_id, text)).message
        poll = await self.repo.add(
            Poll(
                poll_id=message.message_id,
                chat_id=chat_id,
                seq=message.seq,
                school_id=chat.school_id,
                class_id=chat.class_id,
                author_user_id=user_id,
                question=question,
                options=[o.strip() for o in options],
                created_at=message.sent_at,
                multiple=multiple,
                anonymous=anonymous,
                per_family=per_family,
                results_after_close=results_after_close,
                closes_at=closes_at,
            )
        )
        log.info("poll_created", chat_id=chat_id, seq=message.seq, options=len(options))
        return await self._view(poll, chat, member, []), message

    async def _find(self, chat_id: str, seq: int) -> Poll:
        return ensure_at_seq(await self.repo.get_by_seq(chat_id, seq), "poll", "POLL_NOT_FOUND")

    async def _keys(self, poll: Poll, chat: Chat, user_id: str) -> list[str]:
        memberships = await self.access.facts.memberships_of(chat.school_id, user_id) if poll.per_family else []
        return [rules.stored_key(poll, k) for k in rules.voter_keys(poll, chat, user_id, memberships)]

    async def vote(self, user_id: str, chat_id: str, seq: int, choices: Sequence[int]) -> PollView:
        check_at_seq(chat_id, seq)
        chat, member = await self.access.check(chat_id, user_id)
        poll = await self._find(chat_id, seq)
        wanted = rules.check_choices(poll, list(choices))
        keys = await self._keys(poll, chat, user_id)
        now = self.clock.now()
        earlier = {v.key: v for v in await self.repo.votes(poll.poll_id, keys)}
        if any(v.choices != wanted for v in earlier.values()):
            raise FailedPrecondition("a vote is final: you voted differently", reason="ALREADY_VOTED")
        if len(earlier) < len(keys):
            rules.ensure_open(poll, now)
        voter = "" if poll.anonymous else user_id
        for key in keys:
            if key in earlier:
                continue
            voted = ev.PollVoted(chat_id, poll.seq, poll.poll_id, poll.author_user_id, now)
            before = await self.repo.cast(Vote(poll.poll_id, key, wanted, now, voter), [voted])
            if before is None:
                self.notify()
            elif before.choices != wanted:
                raise FailedPrecondition("a vote is final: voted differently meanwhile", reason="ALREADY_VOTED")
        return await self._view(poll, chat, member, keys)

    async def get(self, user_id: str, chat_id: str, seq: int) -> PollView:
        check_at_seq(chat_id, seq)
        chat, member = await self.access.check(chat_id, user_id)
        poll = await self._find(chat_id, seq)
        try:
            keys = await self._keys(poll, chat, user_id)
        except PermissionDenied:
            keys = []  # not a voter of this family poll: the poll without a vote of theirs
        return await self._view(poll, chat, member, keys)

    async def close(self, user_id: str, chat_id: str, seq: int) -> PollView:
        check_at_seq(chat_id, seq)
        chat, member = await self.access.check(chat_id, user_id)
        poll = await self._find(chat_id, seq)
        rules.ensure_watcher(poll, member)
        now = self.clock.now()
        if not poll.closed(now):
            await self.repo.close(poll.poll_id, now)
            poll = replace(poll, closed_at=now)
        return await self._view(poll, chat, member, [])

    async def list_polls(self, user_id: str, chat_id: str) -> list[PollView]:
        v = Violations()
        check_chat_id(chat_id, v)
        v.raise_if_any()
        chat, member = await self.access.check(chat_id, user_id)
        out = []
        for poll in await self.repo.in_chat(chat_id, LIST_LIMIT):
            try:
                keys = await self._keys(poll, chat, user_id)
            except PermissionDenied:
                keys = []
            out.append(await self._view(poll, chat, member, keys))
        return out

    async def _view(self, poll: Poll, chat: Chat, member: Member, keys: list[str]) -> PollView:
        now = self.clock.now()
        mine = await self.repo.votes(poll.poll_id, keys) if keys else []
        my_choices = mine[0].choices if mine else None
        visible = rules.results_visible(poll, now, voted=bool(mine), watcher=rules.is_watcher(poll, member))
        if not visible:
            return PollView(poll, poll.closed(now), my_choices, None, 0)
        results, voters = rules.tally(poll, await self.repo.votes(poll.poll_id))
        return PollView(poll, poll.closed(now), my_choices, results, voters)


def build_polls(repo: PollRepository, messages: Messages, clock: Clock, notify: Notifier) -> Polls:
    return Polls(repo, messages.access, messages, clock, notify)
