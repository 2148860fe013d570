"""Thin gRPC servicers: protobuf → use case → protobuf. Rules live in app/ and domain/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta_common.clock import Clock
from parta_common.errors import Aborted, Violations
from parta_common.grpc.context import require_principal

from chat.adapters.mongo import MongoChatStore
from chat.adapters.pb import chat_pb, message_pb, ts
from chat.api.live import LiveHub, SubscriberOverflow, Update, encode_stream_item
from chat.app.chats import Chats, ChatView
from chat.domain import rules
from chat.domain.model import PostingPolicy

MAX_CURSORS = 2000
HISTORY_BATCH = 500


def view_pb(view: ChatView) -> chat_pb2.ChatView:
    return chat_pb2.ChatView(
        chat=chat_pb(view.chat),
        last_seq=view.last_seq,
        last_read_seq=view.member.last_read_seq,
        unread_count=view.unread,
        can_post=view.can_post,
        is_moderator=view.member.is_moderator,
        muted_until=ts(view.member.muted_until),
        peer_user_id=view.peer_user_id,
    )


def _user() -> str:
    return require_principal().user_id


class ChatServicer(chat_pb2_grpc.ChatServiceServicer):
    def __init__(self, chats: Chats, store: MongoChatStore, hub: LiveHub, clock: Clock, *, queue_limit: int):
        self._chats = chats
        self._store = store
        self._hub = hub
        self._clock = clock
        self._queue_limit = queue_limit

    async def ListChats(self, request: chat_pb2.ListChatsRequest, context: Any) -> chat_pb2.ListChatsResponse:
        views = await self._chats.list_chats(_user(), request.school_id)
        return chat_pb2.ListChatsResponse(chats=[view_pb(v) for v in views])

    async def GetChat(self, request: chat_pb2.GetChatRequest, context: Any) -> chat_pb2.GetChatResponse:
        return chat_pb2.GetChatResponse(chat=view_pb(await self._chats.get_chat(_user(), request.chat_id)))

    async def CreateGroupChat(
        self, request: chat_pb2.CreateGroupChatRequest, context: Any
    ) -> chat_pb2.CreateGroupChatResponse:
        view = await self._chats.create_group_chat(
            _user(),
            request.request_id,
            request.school_id,
            request.title,
            request.subject,
            list(request.member_user_ids),
        )
        return chat_pb2.CreateGroupChatResponse(chat=view_pb(view))

    async def OpenDirectChat(
        self, request: chat_pb2.OpenDirectChatRequest, context: Any
    ) -> chat_pb2.OpenDirectChatResponse:
        view = await self._chats.open_direct_chat(_user(), request.school_id, request.user_id)
        return chat_pb2.OpenDirectChatResponse(chat=view_pb(view))

    async def UpdateChat(self, request: chat_pb2.UpdateChatRequest, context: Any) -> chat_pb2.UpdateChatResponse:
        policy = None
        if request.posting_policy:
            try:
                policy = PostingPolicy(request.posting_policy)
            except ValueError:
                v = Violations()
                v.add("posting_policy", "unknown posting policy")
                v.raise_if_any()
        view = await self._chats.update_chat(
            _user(),
            request.chat_id,
            request.title if request.HasField("title") else None,
            policy,
            request.slow_mode_seconds if request.HasField("slow_mode_seconds") else None,
        )
        return chat_pb2.UpdateChatResponse(chat=view_pb(view))

    async def AddMembers(self, request: chat_pb2.AddMembersRequest, context: Any) -> chat_pb2.AddMembersResponse:
        view = await self._chats.add_members(_user(), request.chat_id, list(request.user_ids))
        return chat_pb2.AddMembersResponse(chat=view_pb(view))

    async def RemoveMember(self, request: chat_pb2.RemoveMemberRequest, context: Any) -> chat_pb2.RemoveMemberResponse:
        await self._chats.remove_member(_user(), request.chat_id, request.user_id)
        return chat_pb2.RemoveMemberResponse()

    async def SendMessage(self, request: chat_pb2.SendMessageRequest, context: Any) -> chat_pb2.SendMessageResponse:
        result = await self._chats.send_message(
            _user(),
            request.chat_id,
            request.client_message_id,
            request.text,
            reply_to_seq=request.reply_to_seq,
            file_ids=list(request.file_ids),
            urgent=request.urgent,
        )
        return chat_pb2.SendMessageResponse(message=message_pb(result.message), deliver_at=ts(result.deliver_at))

    async def EditMessage(self, request: chat_pb2.EditMessageRequest, context: Any) -> chat_pb2.EditMessageResponse:
        message = await self._chats.edit_message(_user(), request.chat_id, request.seq, request.text)
        return chat_pb2.EditMessageResponse(message=message_pb(message))

    async def DeleteMessage(
        self, request: chat_pb2.DeleteMessageRequest, context: Any
    ) -> chat_pb2.DeleteMessageResponse:
        message = await self._chats.delete_message(_user(), request.chat_id, request.seq)
        return chat_pb2.DeleteMessageResponse(message=message_pb(message))

    async def ReactToMessage(
        self, request: chat_pb2.ReactToMessageRequest, context: Any
    ) -> chat_pb2.ReactToMessageResponse:
        message = await self._chats.react(_user(), request.chat_id, request.seq, request.emoji, request.add)
        return chat_pb2.ReactToMessageResponse(message=message_pb(message))

    async def PinMessage(self, request: chat_pb2.PinMessageRequest, context: Any) -> chat_pb2.PinMessageResponse:
        chat = await self._chats.pin(_user(), request.chat_id, request.seq, request.pinned)
        return chat_pb2.PinMessageResponse(chat=chat_pb(chat))

    async def ListMessages(self, request: chat_pb2.ListMessagesRequest, context: Any) -> chat_pb2.ListMessagesResponse:
        messages, more = await self._chats.list_messages(
            _user(), request.chat_id, request.before_seq, request.after_seq, request.limit
        )
        return chat_pb2.ListMessagesResponse(messages=[message_pb(m) for m in messages], has_more=more)

    async def MarkRead(self, request: chat_pb2.MarkReadRequest, context: Any) -> chat_pb2.MarkReadResponse:
        return chat_pb2.MarkReadResponse(
            last_read_seq=await self._chats.mark_read(_user(), request.chat_id, request.seq)
        )

    async def GetReadCount(self, request: chat_pb2.GetReadCountRequest, context: Any) -> chat_pb2.GetReadCountResponse:
        read, total = await self._chats.read_count(_user(), request.chat_id, request.seq)
        return chat_pb2.GetReadCountResponse(read_count=read, member_count=total)

    async def ReportMessage(
        self, request: chat_pb2.ReportMessageRequest, context: Any
    ) -> chat_pb2.ReportMessageResponse:
        report_id = await self._chats.report(_user(), request.chat_id, request.seq, request.reason)
        return chat_pb2.ReportMessageResponse(report_id=report_id)

    async def MuteMember(self, request: chat_pb2.MuteMemberRequest, context: Any) -> chat_pb2.MuteMemberResponse:
        until = await self._chats.mute(_user(), request.chat_id, request.user_id, request.duration_seconds)
        return chat_pb2.MuteMemberResponse(muted_until=ts(until))

    # ---- live -----------------------------------------------------------------------------------

    def _held_from(self, message: Any, user_id: str) -> bool:
        if user_id not in message.held_for_user_ids:
            return False
        return bool(message.held_until.seconds) and message.held_until.ToSeconds() > self._clock.now().timestamp()

    async def Subscribe(
        self, request: chat_pb2.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[chat_pb2.ChatEvent | Update]:
        user = _user()
        v = Violations()
        if len(request.cursors) > MAX_CURSORS:
            v.add("cursors", f"at most {MAX_CURSORS}")
        for i, c in enumerate(request.cursors[:MAX_CURSORS]):
            rules.check_id(v, f"cursors[{i}].chat_id", c.chat_id)
            rules.check_seq(v, f"cursors[{i}].update_seq", c.update_seq, required=False)
        v.raise_if_any()
        cursors = {c.chat_id: c.update_seq for c in request.cursors}
        # Register before reading history: whatever is published meanwhile waits in the queue and
        # is deduplicated against the history by update_seq, so the switch to live has no gap.
        sub = self._hub.register(user, self._queue_limit)
        try:
            members = await self._store.list_member_chats(user)
            mine = {m.chat_id for m in members}
            for chat_id in mine:
                self._hub.follow(sub, chat_id, cursors.get(chat_id))
            for chat_id in sorted(set(cursors) - mine):
                cursors.pop(chat_id)
                yield chat_pb2.ChatEvent(chat_id=chat_id, chat_removed=True)
            for chat in await self._store.get_chats(sorted(mine)):
                async for event in self._catch_up(chat, cursors, user):
                    yield event
            yield chat_pb2.ChatEvent(live=chat_pb2.LiveMarker())
            while True:
                update = await sub.next()
                async for out in self._live(update, cursors, sub):
                    yield out
        except SubscriberOverflow:
            raise Aborted(
                "this subscription fell behind; subscribe again with your cursors", reason="RESYNC_REQUIRED"
            ) from None
        finally:
            self._hub.unregister(sub)

    async def _catch_up(self, chat: Any, cursors: dict[str, int], user: str) -> AsyncIterator[chat_pb2.ChatEvent]:
        chat_id = chat.chat_id
        if chat_id not in cursors:
            # A chat the client does not know yet: its snapshot, then live from the current position
            # (older messages are history, paged with ListMessages).
            last = await self._store.last_seq(chat_id)
            cursors[chat_id] = last
            self._hub.set_floor(chat_id, last)
            yield chat_pb2.ChatEvent(chat_id=chat_id, update_seq=last, chat=chat_pb(chat))
            return
        cursor = cursors[chat_id]
        chat_pending = chat.update_seq > cursor
        while True:
            batch = await self._store.messages_after(chat_id, cursor, HISTORY_BATCH)
            for message in batch:
                if chat_pending and chat.update_seq < message.update_seq:
                    chat_pending = False
                    yield chat_pb2.ChatEvent(chat_id=chat_id, update_seq=chat.update_seq, chat=chat_pb(chat))
                cursor = message.update_seq
                if not message.held_from(user, self._clock.now()):
                    yield chat_pb2.ChatEvent(
                        chat_id=chat_id, update_seq=message.update_seq, message=message_pb(message)
                    )
            if len(batch) < HISTORY_BATCH:
                break
        if chat_pending:
            yield chat_pb2.ChatEvent(chat_id=chat_id, update_seq=chat.update_seq, chat=chat_pb(chat))
            cursor = max(cursor, chat.update_seq)
        cursors[chat_id] = cursor

    async def _live(
        self, update: Update, cursors: dict[str, int], sub: Any
    ) -> AsyncIterator[chat_pb2.ChatEvent | Update]:
        event = update.event
        kind = event.WhichOneof("event")
        chat_id = event.chat_id
        if kind == "member_added" and event.member_added.user_id == sub.user_id:
            if chat_id not in cursors:
                self._hub.follow(sub, chat_id)
                chat = await self._store.get_chat(chat_id)
                if chat is not None:
                    async for out in self._catch_up(chat, cursors, sub.user_id):
                        yield out
            return
        if kind == "member_removed" and event.member_removed.user_id == sub.user_id:
            self._hub.unfollow(sub, chat_id)
            if cursors.pop(chat_id, None) is not None:
                yield chat_pb2.ChatEvent(chat_id=chat_id, chat_removed=True)
            return
        if chat_id not in cursors:
            return
        if event.update_seq == 0:
            yield update
            return
        if event.update_seq <= cursors[chat_id]:
            return  # already sent (history, gap fill, or a duplicate from Kafka)
        cursors[chat_id] = event.update_seq
        if kind == "message" and self._held_from(event.message, sub.user_id):
            return  # quiet hours: released later with a new update_seq
        yield update  # the replica's one encoding of it, shared by every subscriber


class _Registrations:
    """Catches what the generated code registers, so one handler's serializer can be swapped."""

    def __init__(self) -> None:
        self.handlers: dict[str, dict[str, grpc.RpcMethodHandler]] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass  # rebuilt from the registered handlers below

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        self.handlers[service] = dict(handlers)


def add_chat_service(servicer: ChatServicer, server: Any) -> None:
    """The generated registration, with Subscribe's serializer taking the hub's shared updates."""
    caught = _Registrations()
    chat_pb2_grpc.add_ChatServiceServicer_to_server(servicer, caught)
    for service, handlers in caught.handlers.items():
        handlers["Subscribe"] = handlers["Subscribe"]._replace(response_serializer=encode_stream_item)  # type: ignore[attr-defined]
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
        server.add_registered_method_handlers(service, handlers)
