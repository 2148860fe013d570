"""Erasure of a deleted account in chat (issue 17), run on identity's AccountDeleted.

In order, each step idempotent (a replay finds nothing left to do):
1. out of every chat, the name replaced by "Deleted account" (Provisioning.account_deleted);
2. every message they wrote becomes an empty placeholder (author_erased), or is removed too when
   the school's policy says so (`erased_message_placeholders` false) — a new update_seq and a
   MessageChanged each, so open streams and Subscribe replays get the empty version;
3. system messages that carried their name ("X joined") lose the name, and on others' messages
   the erasure's token stands in for them in each reaction they left (still counted, unnamed);
4. the snapshots of their reported messages (the report queue) and the reasons they wrote in
   reports are blanked;
5. the announcements they posted lose their text and their polls the question and options (a
   placeholder), or are removed with their families and votes (`erased_message_placeholders`
   false: the same switch as their messages) — the reminders a moderator sent for one lose its
   quote first; in others' announcements a token stands in for their id (as the child of a
   family, as the one who confirmed) and they leave the guardians listed; their votes stay
   counted but name no one;
6. the materials they published are removed, after their «material published» notes lose the
   title;
7. every file they own is deleted (FileService.DeleteFile's path: out of every message, then the
   GridFS contents), and the names left on the files' tombstones are blanked.
The counts go into the ledger after each batch; the report (parta.common.v1.ErasureReported) is
published when the last step is done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

from parta_common.clock import Clock
from parta_common.erasure import ErasureLedger
from parta_common.errors import ConcurrentChange, NotFound

from chat.app.announcements import reminder_excerpt, reminder_message_id
from chat.app.files import Files
from chat.app.messages import message_id_for
from chat.app.ports import (
    ErasureContent,
    ErasureWorks,
    MemberRepository,
    MessageRepository,
    Notifier,
    SchoolFacts,
)
from chat.app.provisioning import Provisioning
from chat.domain import events as ev
from chat.domain.announcements import Announcement
from chat.domain.erasure import (
    erased_announcement,
    erased_message,
    erased_poll,
    names,
    unnamed_note,
    unquoted,
    unreacted,
    untitled_note,
)
from chat.domain.messages import Message
from chat.domain.system_notes import note_text

BATCH = 100
SERVICE = "chat"

# A message as stored and a fresh update_seq → the message to write, or None (nothing to change).
_Change = Callable[[Message, int], Message | None]


@dataclass
class _Placeholders:
    """Each school's policy for an erased author's content, read once per run: a placeholder (True,
    the default) or removal (`erased_message_placeholders`, docs/chat.md "Erasure")."""

    facts: SchoolFacts
    known: dict[str, bool] = field(default_factory=dict)

    async def keep(self, school_id: str) -> bool:
        if school_id not in self.known:
            info = await self.facts.school(school_id)
            self.known[school_id] = info.policy.erased_message_placeholders if info else True
        return self.known[school_id]


@dataclass
class Erasure:
    ledger: ErasureLedger
    content: ErasureContent
    works: ErasureWorks
    messages: MessageRepository
    members: MemberRepository
    facts: SchoolFacts
    files: Files
    provisioning: Provisioning
    clock: Clock
    notify: Notifier = field(default=lambda: None)

    async def erase(self, user_id: str, requested_by: str, version: int) -> dict[str, int] | None:
        """Erases `user_id` in chat; the counts reported, or None when this was done before."""
        run = await self.ledger.start(user_id, requested_by, self.clock.now())
        if run is None:
            return None
        chats = len(await self.members.of_user(user_id))
        await self.provisioning.account_deleted(user_id, version)
        await self.ledger.add(user_id, "chat_memberships", chats)

        policies = _Placeholders(self.facts)
        while batch := await self.content.messages_by(user_id, BATCH):
            replaced = removed = 0
            for message in batch:
                keep = await policies.keep(message.school_id)
                if await self._rewrite(message, partial(_erase, keep_placeholder=keep)):
                    replaced, removed = (replaced + 1, removed) if keep else (replaced, removed + 1)
            await self.ledger.add(user_id, "messages_replaced", replaced)
            await self.ledger.add(user_id, "messages_removed", removed)
            if not replaced + removed:
                break  # nothing left that this pass can change (a message gone meanwhile)

        while batch := await self.content.notes_naming(user_id, BATCH):
            unnamed = 0
            for message in batch:
                locale = await self._locale(message.school_id)
                unnamed += await self._rewrite(message, partial(_unname, user_id=user_id, locale=locale))
            await self.ledger.add(user_id, "names_in_system_messages", unnamed)
            if not unnamed:
                break

        await self.ledger.add(user_id, "reactions", 0)
        while batch := await self.content.reacted_by(user_id, BATCH):
            anonymised = 0
            for message in batch:
                anonymised += await self._rewrite(message, partial(_unreact, user_id=user_id, token=run.token))
            await self.ledger.add(user_id, "reactions", anonymised)
            if not anonymised:
                break

        await self.ledger.add(user_id, "report_snapshots", await self.content.erase_reports(user_id))
        await self._erase_works(user_id, run.token, policies)
        await self._erase_materials(user_id)

        while owned := await self.files.storage.list_owned(user_id, 0, BATCH):
            for file in owned:
                try:
                    await self.files.delete_file(user_id, file.file_id)
                except NotFound:
                    pass  # deleted meanwhile (by its owner before the deletion, or a twin run)
            await self.ledger.add(user_id, "files", len(owned))
        await self.content.erase_file_names(user_id)
        self.notify()
        return await self.ledger.finish(user_id, self.clock.now())

    async def _erase_works(self, user_id: str, token: str, policies: _Placeholders) -> None:
        """Announcements and polls: theirs become placeholders or go, per the school's policy as
        their messages; their id leaves others' family rows and votes. Every category is reported,
        zero included."""
        for what in ("announcements", "reminder_excerpts", "polls"):
            await self.ledger.add(user_id, what, 0)
        while batch := await self.works.announcements_by(user_id, BATCH):
            done = 0
            for announcement in batch:
                await self.ledger.add(user_id, "reminder_excerpts", await self._unquote(user_id, announcement))
                if await policies.keep(announcement.school_id):
                    done += await self.works.save_erased_announcement(erased_announcement(announcement))
                else:
                    done += await self.works.remove_announcement(announcement.announcement_id)
            await self.ledger.add(user_id, "announcements", done)
            if not done:
                break  # gone meanwhile: nothing this pass can change
        families, confirmations = await self.works.anonymise_families(user_id, token)
        await self.ledger.add(user_id, "announcement_families", families)
        await self.ledger.add(user_id, "announcement_confirmations", confirmations)
        while polls := await self.works.polls_by(user_id, BATCH):
            done = 0
            for poll in polls:
                if await policies.keep(poll.school_id):
                    done += await self.works.save_erased_poll(erased_poll(poll, self.clock.now()))
                else:
                    done += await self.works.remove_poll(poll.poll_id)
            await self.ledger.add(user_id, "polls", done)
            if not done:
                break
        await self.ledger.add(user_id, "poll_votes", await self.works.anonymise_votes(user_id))

    async def _unquote(self, user_id: str, announcement: Announcement) -> int:
        """The reminders others (the chat's moderators) sent for it quote its text in a direct
        message of theirs: the quote goes, their words stay. Before the announcement is blanked (the
        quote is found by the text), so a resumed run finds what is left."""
        excerpt = reminder_excerpt(announcement.text)
        stripped = 0
        for reminder in await self.works.reminders_of(announcement.announcement_id):
            if reminder.by == user_id:
                continue  # their own messages are placeholders already
            for person in reminder.to:
                client_id = reminder_message_id(announcement.announcement_id, person, reminder.day)
                message = await self.messages.get(message_id_for(reminder.by, client_id))
                if message is not None:
                    stripped += await self._rewrite(message, partial(_unquoted, excerpt=excerpt))
        return stripped

    async def _erase_materials(self, user_id: str) -> None:
        """Their materials go (the files with the rest of their files, below); first the notes that
        announced them lose the title, so a crash in between finds the material and its notes again."""
        for what in ("materials", "material_notes"):
            await self.ledger.add(user_id, what, 0)
        while materials := await self.works.materials_by(user_id, BATCH):
            removed = 0
            for material in materials:
                while notes := await self.content.notes_of_material(material.material_id, BATCH):
                    untitled = 0
                    for message in notes:
                        locale = await self._locale(message.school_id)
                        untitled += await self._rewrite(message, partial(_untitle, locale=locale))
                    await self.ledger.add(user_id, "material_notes", untitled)
                    if not untitled:
                        break
                removed += await self.works.remove_material(material.material_id)
            await self.ledger.add(user_id, "materials", removed)
            if not removed:
                break

    async def _locale(self, school_id: str) -> str:
        info = await self.facts.school(school_id)
        return info.locale if info else ""

    async def _rewrite(self, message: Message, change: _Change) -> bool:
        """One message rewritten with a new update_seq (live to every member), retried over
        concurrent writers (a reaction landing meanwhile); False when there was nothing to change.
        The first attempt writes from the message as the query found it (two store commands: the
        sequence number and the versioned write); only a conflict reads it again."""
        current: Message | None = message
        for _ in range(8):
            if current is None or change(current, current.update_seq) is None:
                return False
            useq = await self.messages.next_seq(current.chat_id)
            changed = change(current, useq)
            assert changed is not None
            if await self.messages.save(changed, current.update_seq, [ev.MessageChanged(changed)]):
                self.notify()
                return True
            await self.messages.burn_seq(current.chat_id, useq)
            current = await self.messages.get(message.message_id)
        raise ConcurrentChange("a message changed during the erasure; it resumes on redelivery")


def _erase(message: Message, update_seq: int, *, keep_placeholder: bool) -> Message | None:
    if message.author_erased:
        return None
    return erased_message(message, remove=not keep_placeholder, update_seq=update_seq)


def _unname(message: Message, update_seq: int, *, user_id: str, locale: str) -> Message | None:
    if not names(message, user_id) or message.system_note is None:
        return None
    note = unnamed_note(message.system_note)
    return replace(message, system_note=note, text=note_text(note, locale), update_seq=update_seq)


def _untitle(message: Message, update_seq: int, *, locale: str) -> Message | None:
    if message.system_note is None or not message.system_note.title:
        return None
    note = untitled_note(message.system_note)
    return replace(message, system_note=note, text=note_text(note, locale), update_seq=update_seq)


def _unquoted(message: Message, update_seq: int, *, excerpt: str) -> Message | None:
    text = unquoted(message.text, excerpt)
    if text is None or message.author_erased:
        return None
    return replace(message, text=text, update_seq=update_seq)


def _unreact(message: Message, update_seq: int, *, user_id: str, token: str) -> Message | None:
    changed = unreacted(message, user_id, token)
    return replace(changed, update_seq=update_seq) if changed is not None else None
