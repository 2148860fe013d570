"""RetentionService: thin protobuf ↔ use case mapping (rules in app/retention.py, domain/retention.py)."""

from __future__ import annotations

from typing import Any

from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta.chat.v1 import events_pb2 as ev
from parta_common.grpc.context import require_principal
from parta_common.retention import RetentionRule
from parta_common.timestamps import ts

from chat.app.retention import RetentionAdmin
from chat.domain.retention import RetainedChat, Stage


def retained_pb(c: RetainedChat, rule: RetentionRule) -> chat_pb2.RetainedChat:
    return chat_pb2.RetainedChat(
        chat_id=c.chat_id,
        kind=int(c.kind),  # type: ignore[arg-type]
        class_id=c.class_id,
        title=c.title,
        stage=int(c.stage),  # type: ignore[arg-type]
        retained_from=ts(c.retained_from),
        archive_at=ts(c.archive_at(rule)),
        purge_at=ts(c.purge_after),
        purged_at=ts(c.purged_at),
        archive_file_id=c.archive_file_id if c.stage is Stage.ARCHIVED else "",
        counts=ev.RetentionCounts(
            messages=c.counts.messages,
            files_deleted=c.counts.files_deleted,
            files_detached=c.counts.files_detached,
            members=c.counts.members,
        ),
    )


class RetentionServicer(chat_pb2_grpc.RetentionServiceServicer):
    def __init__(self, admin: RetentionAdmin):
        self._admin = admin

    async def ListRetainedChats(
        self, request: chat_pb2.ListRetainedChatsRequest, context: Any
    ) -> chat_pb2.ListRetainedChatsResponse:
        chats, rule, token = await self._admin.list_retained(
            require_principal().user_id, request.school_id, request.page_size, request.page_token
        )
        return chat_pb2.ListRetainedChatsResponse(chats=[retained_pb(c, rule) for c in chats], next_page_token=token)
