"""Polls: options and choices, who votes under which key (a person, or a family: a child), when
results show, and the one-way key that keeps anonymous voters unnamed.

Decisions (docs/chat.md "Polls"):
- A vote is final. The same choices again answer as before (idempotent); different ones are
  refused (ALREADY_VOTED): counts never move backwards, and concurrent votes count exactly.
- Family polls: a guardian votes for every child of theirs in the chat's class (the school's, in
  the school channel) that has no vote yet; students and staff do not vote in them.
- Results: the author and the chat's moderators always see the counts; others after they voted
  (or, with results_after_close, once the poll is closed). Named polls show who chose what with
  the counts; anonymous polls never name anyone, to anyone — votes are stored under a hash of
  (poll, voter), so not even the store names the voter of a choice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from parta_common.errors import FailedPrecondition, PermissionDenied, Violations

from chat.domain.announcements import ANNOUNCEMENT_CHATS
from chat.domain.chats import Chat, ChatKind
from chat.domain.members import Member
from chat.domain.provisioning import ClassRole, Membership

POLL_CHATS = ANNOUNCEMENT_CHATS
MIN_OPTIONS = 2
MAX_OPTIONS = 10
MAX_OPTION_CHARS = 200


@dataclass
class Poll:
    poll_id: str  # the poll message's id
    chat_id: str
    seq: int
    school_id: str
    class_id: str
    author_user_id: str
    question: str
    options: list[str]
    created_at: datetime
    multiple: bool = False
    anonymous: bool = False
    per_family: bool = False
    results_after_close: bool = False
    closes_at: datetime | None = None
    closed_at: datetime | None = None

    def closed(self, now: datetime) -> bool:
        return self.closed_at is not None or (self.closes_at is not None and now >= self.closes_at)


@dataclass(frozen=True)
class Vote:
    poll_id: str
    key: str  # the stored key: a person or a family (hashed when the poll is anonymous)
    choices: tuple[int, ...]
    at: datetime
    voter_user_id: str = ""  # named polls only


def check_options(v: Violations, options: Sequence[str]) -> None:
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        v.add("options", f"between {MIN_OPTIONS} and {MAX_OPTIONS} options")
    for i, text in enumerate(options):
        if not text.strip() or len(text) > MAX_OPTION_CHARS:
            v.add(f"options[{i}]", f"1 to {MAX_OPTION_CHARS} characters")
    if len({o.strip().casefold() for o in options}) != len(options):
        v.add("options", "options must differ")


def check_choices(poll: Poll, choices: Sequence[int]) -> tuple[int, ...]:
    v = Violations()
    if not choices:
        v.add("option_indexes", "choose at least one option")
    elif not poll.multiple and len(choices) != 1:
        v.add("option_indexes", "this poll takes one choice")
    if len(set(choices)) != len(choices):
        v.add("option_indexes", "an option chosen twice")
    for i, c in enumerate(choices):
        if not 0 <= c < len(poll.options):
            v.add(f"option_indexes[{i}]", f"no option {c}")
    v.raise_if_any()
    return tuple(sorted(choices))


def ensure_poll_chat(chat: Chat) -> None:
    if chat.kind not in POLL_CHATS:
        raise FailedPrecondition(
            "polls go to the school channel, a class chat or a parents' chat", reason="NOT_POLL_CHAT"
        )


def family_keys(poll: Poll, chat: Chat, memberships: Iterable[Membership]) -> list[str]:
    """A guardian's families in the poll's class (any class, in the school channel)."""
    return sorted(
        {
            m.child_user_id
            for m in memberships
            if m.active
            and m.class_role is ClassRole.PARENT
            and m.child_user_id
            and (chat.kind is ChatKind.SCHOOL_CHANNEL or m.class_id == poll.class_id)
        }
    )


def voter_keys(poll: Poll, chat: Chat, user_id: str, memberships: Iterable[Membership]) -> list[str]:
    if not poll.per_family:
        return [user_id]
    keys = family_keys(poll, chat, memberships)
    if not keys:
        raise PermissionDenied("guardians vote in a family poll", reason="NOT_A_FAMILY_VOTER")
    return keys


def stored_key(poll: Poll, key: str) -> str:
    """Anonymous polls store a one-way key: votes can be found by their voter, never named."""
    if not poll.anonymous:
        return key
    return hashlib.sha256(f"{poll.poll_id}\x1f{key}".encode()).hexdigest()


def ensure_open(poll: Poll, now: datetime) -> None:
    if poll.closed(now):
        raise FailedPrecondition("the poll is closed", reason="POLL_CLOSED")


def is_watcher(poll: Poll, member: Member) -> bool:
    return member.user_id == poll.author_user_id or member.is_moderator


def ensure_watcher(poll: Poll, member: Member) -> None:
    if not is_watcher(poll, member):
        raise PermissionDenied("only the author and the chat's moderators close a poll", reason="NOT_POLL_OWNER")


def results_visible(poll: Poll, now: datetime, *, voted: bool, watcher: bool) -> bool:
    if watcher or poll.closed(now):
        return True
    return voted and not poll.results_after_close


@dataclass(frozen=True)
class OptionResult:
    text: str
    votes: int
    voter_user_ids: tuple[str, ...] = ()


def tally(poll: Poll, votes: Iterable[Vote]) -> tuple[list[OptionResult], int]:
    """Counts per option and the number of voters; named polls list who chose each option."""
    counts = [0] * len(poll.options)
    named: list[list[str]] = [[] for _ in poll.options]
    voters = 0
    for vote in votes:
        voters += 1
        for c in vote.choices:
            if 0 <= c < len(counts):
                counts[c] += 1
                if not poll.anonymous and vote.voter_user_id and vote.voter_user_id not in named[c]:
                    named[c].append(vote.voter_user_id)
    results = [
        OptionResult(text, counts[i], () if poll.anonymous else tuple(sorted(named[i])))
        for i, text in enumerate(poll.options)
    ]
    return results, voters
