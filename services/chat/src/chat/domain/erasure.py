"""Erasure of an account's content in chat (issue 17): what is left of a message whose author's
account was erased, of a system message that named them, of an announcement or a poll they posted,
of the note that announced a material they published, and of their reactions on others' messages.
docs/chat.md, "Erasure"."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from chat.domain.announcements import Announcement
from chat.domain.messages import Message, Reaction
from chat.domain.polls import Poll
from chat.domain.system_notes import SystemNote


def erased_message(message: Message, *, remove: bool, update_seq: int) -> Message:
    """The placeholder: nothing the author wrote or attached stays (text, files, the urgent reason),
    nor the reactions on it; the seq, time, chat and author id stay so the conversation keeps its
    shape and a client can show "deleted account". `remove` (the school's policy says so) also marks
    it deleted, as a deleted message shows."""
    return replace(
        message,
        text="",
        file_ids=[],
        removed_file_ids=[],
        reactions=[],
        urgent_reason="",
        edited_at=None,
        author_erased=True,
        deleted=message.deleted or remove,
        update_seq=update_seq,
    )


def unnamed_note(note: SystemNote) -> SystemNote:
    """A system note about the erased person without their name (the id stays: it names no one)."""
    return replace(note, subject_name="")


def names(message: Message, user_id: str) -> bool:
    """Does this system message carry `user_id`'s name?"""
    note = message.system_note
    return note is not None and note.subject_user_id == user_id and bool(note.subject_name)


def erased_announcement(announcement: Announcement) -> Announcement:
    """The placeholder of an announcement: its text goes (as its message's does); the families
    asked, their confirmations and the deadline stay — they are the families', not the author's."""
    return replace(announcement, text="")


def erased_poll(poll: Poll, now: datetime) -> Poll:
    """The placeholder of a poll: the question and every option's text go, the number of options and
    the votes stay (the results keep their counts), and it is closed now if it was open — nobody
    votes on a blank."""
    return replace(poll, question="", options=["" for _ in poll.options], closed_at=poll.closed_at or now)


def untitled_note(note: SystemNote) -> SystemNote:
    """A «material published» note without the title the erased publisher wrote."""
    return replace(note, title="")


def unquoted(text: str, excerpt: str) -> str | None:
    """A reminder's text without the announcement excerpt it ends with; None when it does not end
    with it (edited since, or stripped before)."""
    if not excerpt or not text.endswith(excerpt):
        return None
    return text[: len(text) - len(excerpt)].rstrip()


def unreacted(message: Message, user_id: str, token: str) -> Message | None:
    """The message with `token` (the erasure's) where `user_id` reacted: each reaction keeps its
    count and names no one. None when they left no reaction on it."""
    if not any(user_id in r.user_ids for r in message.reactions):
        return None
    reactions = [
        Reaction(r.emoji, list(dict.fromkeys(token if u == user_id else u for u in r.user_ids)))
        for r in message.reactions
    ]
    return replace(message, reactions=reactions)
