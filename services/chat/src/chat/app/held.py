"""Quiet hours, the admin's side: the messages still held in the school (without their text) and
releasing one now (the same MessageChanged the release worker writes in the morning)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from parta_common.errors import ConcurrentChange, PermissionDenied, Violations

from chat.app.access import Access
from chat.app.chats import check_chat_id
from chat.app.ports import ChatRepository, MessageRepository, Notifier
from chat.domain import events as ev
from chat.domain import rules
from chat.domain.messages import Message

MAX_HELD_LISTED = 200


def _not_admin() -> PermissionDenied:
    return PermissionDenied("only the school's admins release held messages", reason="NOT_ADMIN")


@dataclass
class HeldMessages:
    chats: ChatRepository
    messages: MessageRepository
    access: Access
    notify: Notifier

    async def _ensure_admin(self, school_id: str, user_id: str) -> None:
        if not (await self.access.person(school_id, user_id, with_profile=False)).is_admin:
            raise _not_admin()

    async def list_held(self, user_id: str, school_id: str) -> list[Message]:
        v = Violations()
        rules.check_id(v, "school_id", school_id)
        v.raise_if_any()
        await self._ensure_admin(school_id, user_id)
        return await self.messages.held_in_school(school_id, MAX_HELD_LISTED)

    async def release(self, user_id: str, chat_id: str, seq: int) -> Message:
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        v.raise_if_any()
        chat = await self.chats.get(chat_id)
        if chat is None:
            raise _not_admin()  # as for a chat of another school: ids are not probed
        await self._ensure_admin(chat.school_id, user_id)
        message = rules.ensure_found(await self.messages.get_by_seq(chat_id, seq))
        if not message.held_for:
            return message  # delivered already: idempotent
        released = replace(message, held_for=[], update_seq=await self.messages.next_seq(chat_id))
        if not await self.messages.save(released, message.update_seq, [ev.MessageChanged(released)]):
            await self.messages.burn_seq(chat_id, released.update_seq)
            raise ConcurrentChange("the message changed meanwhile; retry")
        self.notify()
        return released
