"""In-memory PollRepository (app/polls.py's port) for unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from chat.app.polls import Polls, build_polls
from chat.domain import events as ev
from chat.domain.polls import Poll, Vote

from tests.chat.unit.fakes import Fakes


@dataclass
class FakePolls:
    rows: dict[str, Poll] = field(default_factory=dict)
    stored: dict[tuple[str, str], Vote] = field(default_factory=dict)
    events: list[ev.ChatEvent] = field(default_factory=list)

    async def add(self, poll: Poll) -> Poll:
        return self.rows.setdefault(poll.poll_id, poll)

    async def get_by_seq(self, chat_id: str, seq: int) -> Poll | None:
        return next((p for p in self.rows.values() if p.chat_id == chat_id and p.seq == seq), None)

    async def cast(self, vote: Vote, events: Sequence[ev.ChatEvent] = ()) -> Vote | None:
        key = (vote.poll_id, vote.key)
        if key in self.stored:
            return self.stored[key]
        self.stored[key] = vote
        self.events.extend(events)
        return None

    async def votes(self, poll_id: str, keys: Sequence[str] | None = None) -> list[Vote]:
        return [v for (p, k), v in self.stored.items() if p == poll_id and (keys is None or k in keys)]

    async def in_chat(self, chat_id: str, limit: int) -> list[Poll]:
        return sorted((p for p in self.rows.values() if p.chat_id == chat_id), key=lambda p: -p.seq)[:limit]

    async def close(self, poll_id: str, at: datetime) -> None:
        poll = self.rows[poll_id]
        if poll.closed_at is None:
            self.rows[poll_id] = replace(poll, closed_at=at)


def polls_on(fakes: Fakes) -> tuple[Polls, FakePolls]:
    repo = FakePolls()
    return build_polls(repo, fakes.app.messages, fakes.clock, lambda: None), repo
