"""The moderation, blocking and held-message RPCs of ChatService (mixed into ChatServicer)."""

from __future__ import annotations

from typing import Any

from parta.chat.v1 import chat_pb2
from parta_common.errors import Violations
from parta_common.grpc.context import require_principal
from parta_common.timestamps import ts

from chat.app.service import ChatApp
from chat.domain.moderation import Decision, Report, ReportAction
from chat.pb import message_pb


def _user() -> str:
    return require_principal().user_id


def decision_pb(d: Decision) -> chat_pb2.ReportDecision:
    return chat_pb2.ReportDecision(
        actions=[int(a) for a in d.actions],  # type: ignore[misc]
        moderator_user_id=d.moderator,
        note=d.note,
        decided_at=ts(d.at),
        muted_until=ts(d.muted_until),
    )


def report_pb(r: Report) -> chat_pb2.ReportView:
    return chat_pb2.ReportView(
        report_id=r.report_id,
        school_id=r.school_id,
        chat_id=r.chat_id,
        chat_kind=int(r.chat_kind),  # type: ignore[arg-type]
        class_id=r.class_id,
        reporter_user_id=r.reporter,
        reason=r.reason,
        reported_at=ts(r.at),
        message=message_pb(r.message) if r.message is not None else None,
        state=int(r.state),  # type: ignore[arg-type]
        decisions=[decision_pb(d) for d in r.decisions],
    )


def my_report_pb(r: Report) -> chat_pb2.MyReport:
    return chat_pb2.MyReport(
        report_id=r.report_id,
        chat_id=r.chat_id,
        seq=r.seq,
        reason=r.reason,
        reported_at=ts(r.at),
        state=int(r.state),  # type: ignore[arg-type]
        outcome=[int(a) for a in r.outcome],  # type: ignore[misc]
        decided_at=ts(r.decided_at),
    )


def _actions(values: Any) -> list[ReportAction]:
    v = Violations()
    out = []
    for i, value in enumerate(values):
        try:
            out.append(ReportAction(value))
        except ValueError:
            v.add(f"actions[{i}]", "unknown action")
    v.raise_if_any()
    return out


class ModerationRpcs:
    """ChatServicer's moderation RPCs; ChatServicer sets `_app`."""

    _app: ChatApp

    async def ListReports(self, request: chat_pb2.ListReportsRequest, context: Any) -> chat_pb2.ListReportsResponse:
        reports = await self._app.moderation.list_reports(
            _user(), request.school_id, request.include_closed, request.limit
        )
        return chat_pb2.ListReportsResponse(reports=[report_pb(r) for r in reports])

    async def ActOnReport(self, request: chat_pb2.ActOnReportRequest, context: Any) -> chat_pb2.ActOnReportResponse:
        report = await self._app.moderation.act(
            _user(), request.report_id, _actions(request.actions), request.note, request.mute_seconds
        )
        return chat_pb2.ActOnReportResponse(report=report_pb(report))

    async def ListMyReports(
        self, request: chat_pb2.ListMyReportsRequest, context: Any
    ) -> chat_pb2.ListMyReportsResponse:
        reports = await self._app.moderation.my_reports(_user(), request.limit)
        return chat_pb2.ListMyReportsResponse(reports=[my_report_pb(r) for r in reports])

    async def BlockUser(self, request: chat_pb2.BlockUserRequest, context: Any) -> chat_pb2.BlockUserResponse:
        await self._app.preferences.block(_user(), request.user_id)
        return chat_pb2.BlockUserResponse()

    async def UnblockUser(self, request: chat_pb2.UnblockUserRequest, context: Any) -> chat_pb2.UnblockUserResponse:
        await self._app.preferences.unblock(_user(), request.user_id)
        return chat_pb2.UnblockUserResponse()

    async def GetMyChatSettings(
        self, request: chat_pb2.GetMyChatSettingsRequest, context: Any
    ) -> chat_pb2.GetMyChatSettingsResponse:
        blocked, urgent = await self._app.preferences.get(_user())
        return chat_pb2.GetMyChatSettingsResponse(blocked_user_ids=blocked, urgent_notifications=urgent)

    async def SetUrgentNotifications(
        self, request: chat_pb2.SetUrgentNotificationsRequest, context: Any
    ) -> chat_pb2.SetUrgentNotificationsResponse:
        enabled = await self._app.preferences.set_urgent_notifications(_user(), request.enabled)
        return chat_pb2.SetUrgentNotificationsResponse(urgent_notifications=enabled)

    async def ListHeldMessages(
        self, request: chat_pb2.ListHeldMessagesRequest, context: Any
    ) -> chat_pb2.ListHeldMessagesResponse:
        held = await self._app.held.list_held(_user(), request.school_id)
        return chat_pb2.ListHeldMessagesResponse(
            messages=[
                chat_pb2.HeldMessage(
                    chat_id=m.chat_id,
                    seq=m.seq,
                    sender_user_id=m.sender_user_id,
                    held_for_user_ids=m.held_for,
                    held_until=ts(m.held_until),
                    urgent=m.urgent,
                )
                for m in held
            ]
        )

    async def ReleaseHeldMessage(
        self, request: chat_pb2.ReleaseHeldMessageRequest, context: Any
    ) -> chat_pb2.ReleaseHeldMessageResponse:
        message = await self._app.held.release(_user(), request.chat_id, request.seq)
        return chat_pb2.ReleaseHeldMessageResponse(message=message_pb(message))
