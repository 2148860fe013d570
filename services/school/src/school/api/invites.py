"""InviteService: thin servicer (pb → use case → pb): invite links, their preview, acceptance and QR codes."""

from __future__ import annotations

from parta.school.v1 import school_pb2 as pb
from parta.school.v1 import school_pb2_grpc as rpc

from school.api import mappers as m
from school.api.mappers import Ctx, enum_value
from school.app.invites import CreateInvite, Invites
from school.domain.memberships import SchoolRole


class InviteServicer(rpc.InviteServiceServicer):
    def __init__(self, invites: Invites):
        self.invites = invites

    async def CreateInvite(self, request: pb.CreateInviteRequest, context: Ctx) -> pb.CreateInviteResponse:
        created = await self.invites.create_invite(
            m.caller(),
            CreateInvite(
                request_id=request.request_id,
                school_id=request.school_id,
                class_id=request.class_id,
                role=enum_value(SchoolRole, request.role, "role"),
                child_user_id=request.child_user_id,
                ttl_seconds=request.ttl_seconds,
                max_uses=request.max_uses,
                requires_approval=request.requires_approval,
            ),
        )
        return pb.CreateInviteResponse(invite=m.invite(created.invite), token=created.token, link=created.link)

    async def PreviewInvite(self, request: pb.PreviewInviteRequest, context: Ctx) -> pb.PreviewInviteResponse:
        p = await self.invites.preview_invite(request.token)
        return pb.PreviewInviteResponse(
            school_id=p.school.id,
            school_name=p.school.name,
            class_id=p.school_class.id if p.school_class else "",
            class_title=p.school_class.title if p.school_class else "",
            role=int(p.invite.role),  # type: ignore[arg-type]
            requires_approval=p.invite.requires_approval,
            expires_at=m.ts(p.invite.expires_at),
            bound_to_child=bool(p.invite.child_user_id),
        )

    async def AcceptInvite(self, request: pb.AcceptInviteRequest, context: Ctx) -> pb.AcceptInviteResponse:
        accepted = await self.invites.accept_invite(m.caller(context), request.token)
        return pb.AcceptInviteResponse(
            school_id=accepted.invite.school_id,
            class_id=accepted.invite.class_id,
            join_request=m.join_request(accepted.join_request) if accepted.join_request else None,
            memberships=[m.membership(x) for x in accepted.memberships],
        )

    async def RevokeInvite(self, request: pb.RevokeInviteRequest, context: Ctx) -> pb.RevokeInviteResponse:
        return pb.RevokeInviteResponse(invite=m.invite(await self.invites.revoke_invite(m.caller(), request.invite_id)))

    async def ListInvites(self, request: pb.ListInvitesRequest, context: Ctx) -> pb.ListInvitesResponse:
        page = m.Page(request.page)
        found = await self.invites.list_invites(m.caller(), request.school_id, request.class_id, page.after, page.limit)
        items, info = page.cut(found, lambda x: x.id)
        return pb.ListInvitesResponse(invites=[m.invite(x) for x in items], page=info)

    async def RenderInviteQr(self, request: pb.RenderInviteQrRequest, context: Ctx) -> pb.RenderInviteQrResponse:
        formats = {pb.QR_FORMAT_PNG: "png", pb.QR_FORMAT_SVG: "svg"}
        image, content_type, link = await self.invites.render_invite_qr(
            m.caller(), request.token, formats.get(request.format, ""), request.scale
        )
        return pb.RenderInviteQrResponse(image=image, content_type=content_type, link=link)
