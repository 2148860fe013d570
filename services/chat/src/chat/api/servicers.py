"""Thin gRPC servicers: protobuf → use case → protobuf. Rules live in app/ and domain/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta_common.errors import Violations
from parta_common.grpc.context import require_principal
from parta_common.timestamps import ts

from chat.api.moderation import ModerationRpcs
from chat.app.chats import ChatView
from chat.app.live import ChatRemoved, ChatState, LiveFeed, LiveMarker, LiveStatus, MessageState
from chat.app.service import ChatApp
from chat.domain.chats import PostingPolicy
from chat.pb import Update, chat_pb, encode_stream_item, message_pb


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


class ChatServicer(ModerationRpcs, chat_pb2_grpc.ChatServiceServicer):
    def __init__(self, app: ChatApp, feed: LiveFeed):
        self._app = app
        self._chats = app.chats
        self._messages = app.messages
        self._reads = app.reads
        self._moderation = app.moderation
        self._feed = feed

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
        result = await self._messages.send_message(
            _user(),
            request.chat_id,
            request.client_message_id,
            request.text,
            reply_to_seq=request.reply_to_seq,
            file_ids=list(request.file_ids),
            urgent=request.urgent,
            urgent_reason=request.urgent_reason,
        )
        return chat_pb2.SendMessageResponse(message=message_pb(result.message), deliver_at=ts(result.deliver_at))

    async def EditMessage(self, request: chat_pb2.EditMessageRequest, context: Any) -> chat_pb2.EditMessageResponse:
        message = await self._messages.edit_message(_user(), request.chat_id, request.seq, request.text)
        return chat_pb2.EditMessageResponse(message=message_pb(message))

    async def DeleteMessage(
        self, request: chat_pb2.DeleteMessageRequest, context: Any
    ) -> chat_pb2.DeleteMessageResponse:
        message = await self._messages.delete_message(_user(), request.chat_id, request.seq)
        return chat_pb2.DeleteMessageResponse(message=message_pb(message))

    async def ReactToMessage(
        self, request: chat_pb2.ReactToMessageRequest, context: Any
    ) -> chat_pb2.ReactToMessageResponse:
        message = await self._messages.react(_user(), request.chat_id, request.seq, request.emoji, request.add)
        return chat_pb2.ReactToMessageResponse(message=message_pb(message))

    async def PinMessage(self, request: chat_pb2.PinMessageRequest, context: Any) -> chat_pb2.PinMessageResponse:
        chat = await self._chats.pin(_user(), request.chat_id, request.seq, request.pinned)
        return chat_pb2.PinMessageResponse(chat=chat_pb(chat))

    async def ListMessages(self, request: chat_pb2.ListMessagesRequest, context: Any) -> chat_pb2.ListMessagesResponse:
        messages, more = await self._messages.list_messages(
            _user(), request.chat_id, request.before_seq, request.after_seq, request.limit
        )
        return chat_pb2.ListMessagesResponse(messages=[message_pb(m) for m in messages], has_more=more)

    async def MarkRead(self, request: chat_pb2.MarkReadRequest, context: Any) -> chat_pb2.MarkReadResponse:
        return chat_pb2.MarkReadResponse(
            last_read_seq=await self._reads.mark_read(_user(), request.chat_id, request.seq)
        )

    async def GetReadCount(self, request: chat_pb2.GetReadCountRequest, context: Any) -> chat_pb2.GetReadCountResponse:
        read, total = await self._reads.read_count(_user(), request.chat_id, request.seq)
        return chat_pb2.GetReadCountResponse(read_count=read, member_count=total)

    async def ReportMessage(
        self, request: chat_pb2.ReportMessageRequest, context: Any
    ) -> chat_pb2.ReportMessageResponse:
        report_id = await self._moderation.report(_user(), request.chat_id, request.seq, request.reason)
        return chat_pb2.ReportMessageResponse(report_id=report_id)

    async def MuteMember(self, request: chat_pb2.MuteMemberRequest, context: Any) -> chat_pb2.MuteMemberResponse:
        until = await self._moderation.mute(_user(), request.chat_id, request.user_id, request.duration_seconds)
        return chat_pb2.MuteMemberResponse(muted_until=ts(until))

    # ---- live -----------------------------------------------------------------------------------

    async def Subscribe(
        self, request: chat_pb2.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[chat_pb2.ChatEvent | Update]:
        cursors = [(c.chat_id, c.update_seq) for c in request.cursors]
        async for item in self._feed.subscribe(_user(), cursors):
            if type(item) is Update:
                yield item  # the replica's one encoding of it, shared by every subscriber
            elif isinstance(item, MessageState):
                m = item.message
                yield chat_pb2.ChatEvent(chat_id=m.chat_id, update_seq=m.update_seq, message=message_pb(m))
            elif isinstance(item, ChatState):
                c = item.chat
                yield chat_pb2.ChatEvent(chat_id=c.chat_id, update_seq=item.update_seq, chat=chat_pb(c))
            elif isinstance(item, ChatRemoved):
                yield chat_pb2.ChatEvent(chat_id=item.chat_id, chat_removed=True)
            elif isinstance(item, LiveMarker):
                yield chat_pb2.ChatEvent(live=chat_pb2.LiveMarker())
            elif isinstance(item, LiveStatus):
                state = chat_pb2.LIVE_STATE_DEGRADED if item.degraded else chat_pb2.LIVE_STATE_LIVE
                yield chat_pb2.ChatEvent(live_status=chat_pb2.LiveStatus(state=state))


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
