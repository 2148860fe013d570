"""Erasure of a deleted account in chat (issue 17), run on identity's AccountDeleted.

In order, each step idempotent (a replay finds nothing left to do):
1. out of every chat, the name replaced by "Deleted account" (Provisioning.account_deleted);
2. every message they wrote becomes an empty placeholder (author_erased), or is removed too when
   the school's policy says so (`erased_message_placeholders` false) — a new update_seq and a
   MessageChanged each, so open streams and Subscribe replays get the empty version;
3. system messages that carried their name ("X joined") lose the name;
4. the snapshots of their reported messages (the report queue) and the reasons they wrote in
   reports are blanked;
5. every file they own is deleted (FileService.DeleteFile's path: out of every message, then the
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

from chat.app.files import Files
from chat.app.ports import ErasureContent, MemberRepository, MessageRepository, Notifier, SchoolFacts
from chat.app.provisioning import Provisioning
from chat.domain import events as ev
from chat.domain.erasure import erased_message, names, unnamed_note
from chat.domain.messages import Message
from chat.domain.system_notes import note_text

BATCH = 100
SERVICE = "chat"

# A message as stored and a fresh update_seq → the message to write, or None (nothing to change).
_Change = Callable[[Message, int], Message | None]


@dataclass
class Erasure:
    ledger: ErasureLedger
    content: ErasureContent
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

        placeholders: dict[str, bool] = {}
        while batch := await self.content.messages_by(user_id, BATCH):
            replaced = removed = 0
            for message in batch:
                school = message.school_id
                if school not in placeholders:
                    info = await self.facts.school(school)
                    placeholders[school] = info.policy.erased_message_placeholders if info else True
                if await self._rewrite(message, partial(_erase, keep_placeholder=placeholders[school])):
                    replaced, removed = (replaced + 1, removed) if placeholders[school] else (replaced, removed + 1)
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

        await self.ledger.add(user_id, "report_snapshots", await self.content.erase_reports(user_id))

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
