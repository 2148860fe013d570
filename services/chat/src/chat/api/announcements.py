"""AnnouncementService: thin protobuf ↔ use case mapping (rules in app/ and domain/announcements.py)."""

from __future__ import annotations

from typing import Any

from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta_common.grpc.context import require_principal
from parta_common.timestamps import from_ts, ts

from chat.app.announcements import Announcements, AnnouncementView, FamilyState
from chat.pb import message_pb


def family_pb(state: FamilyState) -> chat_pb2.AnnouncementFamily:
    c = state.confirmation
    return chat_pb2.AnnouncementFamily(
        child_user_id=state.family.child_user_id,
        guardian_user_ids=state.family.guardian_user_ids,
        confirmed=c is not None,
        confirmed_by_user_id=c.confirmed_by if c else "",
        confirmed_at=ts(c.at) if c else None,
        reminded_at=ts(state.reminded_at),
    )


def announcement_pb(view: AnnouncementView) -> chat_pb2.Announcement:
    a = view.announcement
    return chat_pb2.Announcement(
        announcement_id=a.announcement_id,
        chat_id=a.chat_id,
        seq=a.seq,
        author_user_id=a.author_user_id,
        text=a.text,
        posted_at=ts(a.posted_at),
        deadline=ts(a.deadline),
        students_confirm=a.students_confirm,
        family_count=a.family_count,
        confirmed_count=a.confirmed_count,
        closed=view.closed,
        my_families=[family_pb(s) for s in view.mine],
    )


def _user() -> str:
    return require_principal().user_id


class AnnouncementServicer(chat_pb2_grpc.AnnouncementServiceServicer):
    def __init__(self, announcements: Announcements):
        self._a = announcements

    async def PostAnnouncement(
        self, request: chat_pb2.PostAnnouncementRequest, context: Any
    ) -> chat_pb2.PostAnnouncementResponse:
        view, message = await self._a.post(
            _user(),
            request.chat_id,
            request.client_message_id,
            request.text,
            from_ts(request.deadline) if request.HasField("deadline") else None,
            request.students_confirm,
        )
        return chat_pb2.PostAnnouncementResponse(announcement=announcement_pb(view), message=message_pb(message))

    async def ConfirmAnnouncement(
        self, request: chat_pb2.ConfirmAnnouncementRequest, context: Any
    ) -> chat_pb2.ConfirmAnnouncementResponse:
        result = await self._a.confirm(_user(), request.chat_id, request.seq)
        return chat_pb2.ConfirmAnnouncementResponse(
            announcement=announcement_pb(result.view),
            families=[
                chat_pb2.FamilyConfirmation(
                    child_user_id=c.child_user_id,
                    already_confirmed=before,
                    confirmed_by_user_id=c.confirmed_by,
                    confirmed_at=ts(c.at),
                )
                for c, before in result.confirmed
            ],
        )

    async def GetAnnouncementStatus(
        self, request: chat_pb2.GetAnnouncementStatusRequest, context: Any
    ) -> chat_pb2.GetAnnouncementStatusResponse:
        status = await self._a.status(_user(), request.chat_id, request.seq)
        return chat_pb2.GetAnnouncementStatusResponse(
            announcement=announcement_pb(status.view),
            unconfirmed=[family_pb(s) for s in status.unconfirmed],
            confirmed=[family_pb(s) for s in status.confirmed],
        )

    async def RemindAnnouncement(
        self, request: chat_pb2.RemindAnnouncementRequest, context: Any
    ) -> chat_pb2.RemindAnnouncementResponse:
        r = await self._a.remind(_user(), request.chat_id, request.seq)
        return chat_pb2.RemindAnnouncementResponse(
            reminded_child_user_ids=r.reminded,
            reminded_user_ids=r.reached,
            skipped_child_user_ids=r.skipped,
            unreached_user_ids=r.unreached,
        )

    async def ListAnnouncements(
        self, request: chat_pb2.ListAnnouncementsRequest, context: Any
    ) -> chat_pb2.ListAnnouncementsResponse:
        views = await self._a.list(_user(), request.chat_id)
        return chat_pb2.ListAnnouncementsResponse(announcements=[announcement_pb(v) for v in views])
