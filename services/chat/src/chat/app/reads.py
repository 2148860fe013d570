"""Read state use cases: my read position in a chat, and how many read a message ("23 of 27")."""

from __future__ import annotations

from dataclasses import dataclass

from parta_common.clock import Clock
from parta_common.errors import InvalidArgument, PermissionDenied, Violations

from chat.app.access import Access
from chat.app.chats import check_chat_id
from chat.app.ports import MemberRepository, MessageRepository, Notifier
from chat.domain import events as ev
from chat.domain import rules


@dataclass
class Reads:
    members: MemberRepository
    messages: MessageRepository
    access: Access
    clock: Clock
    notify: Notifier

    async def mark_read(self, user_id: str, chat_id: str, seq: int) -> int:
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        v.raise_if_any()
        await self.access.check(chat_id, user_id, moderation=False)
        if seq > await self.messages.last_seq(chat_id):
            raise InvalidArgument.field("seq", "beyond the last message of the chat")
        # Read state only moves forward; ReadUpdated rides on the member document.
        moved = await self.members.mark_read(chat_id, user_id, seq, [ev.ReadUpdated(chat_id, user_id, seq)])
        self.notify()
        return moved if moved is not None else await self.members.last_read(chat_id, user_id)

    async def read_count(self, user_id: str, chat_id: str, seq: int) -> tuple[int, int]:
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        v.raise_if_any()
        _chat, member = await self.access.check(chat_id, user_id)
        message = rules.ensure_visible(await self.messages.get_by_seq(chat_id, seq), user_id, self.clock.now())
        if message.sender_user_id != user_id and not member.is_moderator:
            raise PermissionDenied("read counts are for the author", reason="NOT_AUTHOR")
        return await self.members.count_read(chat_id, seq, exclude_user=message.sender_user_id)
