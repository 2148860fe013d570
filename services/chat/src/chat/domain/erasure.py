"""Erasure of an account's content in chat (issue 17): what is left of a message whose author's
account was erased, and of a system message that named them. docs/chat.md, "Erasure"."""

from __future__ import annotations

from dataclasses import replace

from chat.domain.messages import Message
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
