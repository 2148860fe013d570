"""MembershipService: thin servicer (pb → use case → pb): members, leaving, roles and permission checks."""

from __future__ import annotations

from parta.school.v1 import school_pb2 as pb
from parta.school.v1 import school_pb2_grpc as rpc

from school.api import mappers as m
from school.api.mappers import Ctx, enum_value
from school.app.classes import Classes
from school.app.memberships import Memberships
from school.domain.memberships import ClassRole
from school.domain.permissions import PERSON_TO_PERSON, Action
from school.domain.validation import invalid


class MembershipServicer(rpc.MembershipServiceServicer):
    def __init__(self, memberships: Memberships, classes: Classes):
        self.memberships = memberships
        self.classes = classes

    async def ListMembers(self, request: pb.ListMembersRequest, context: Ctx) -> pb.ListMembersResponse:
        page = m.Page(request.page)
        found = await self.memberships.list_members(
            m.caller(), request.school_id, request.class_id, page.after, page.limit
        )
        items, info = page.cut(found, lambda x: x.id)
        return pb.ListMembersResponse(members=[m.membership(x) for x in items], page=info)

    async def Leave(self, request: pb.LeaveRequest, context: Ctx) -> pb.LeaveResponse:
        await self.memberships.leave(m.caller(), request.school_id, request.class_id)
        return pb.LeaveResponse()

    async def RemoveMember(self, request: pb.RemoveMemberRequest, context: Ctx) -> pb.RemoveMemberResponse:
        await self.memberships.remove_member(m.caller(), request.school_id, request.user_id, request.class_id)
        return pb.RemoveMemberResponse()

    async def ChangeMemberRole(self, request: pb.ChangeMemberRoleRequest, context: Ctx) -> pb.ChangeMemberRoleResponse:
        role = enum_value(ClassRole, request.class_role, "class_role")
        await self.classes.change_teaching_role(m.caller(), request.class_id, request.user_id, role, request.subject)
        return pb.ChangeMemberRoleResponse()

    async def GetMemberships(self, request: pb.GetMembershipsRequest, context: Ctx) -> pb.GetMembershipsResponse:
        found = await self.memberships.get_memberships(m.caller(), request.user_id, request.school_id)
        return pb.GetMembershipsResponse(memberships=[m.membership(x) for x in found])

    async def CheckPermission(self, request: pb.CheckPermissionRequest, context: Ctx) -> pb.CheckPermissionResponse:
        action = enum_value(Action, request.action, "action")
        if action in PERSON_TO_PERSON or request.target_user_id:
            if request.class_id:
                raise invalid("class_id", "person-to-person actions are about the school, not a class")
            reason = await self.memberships.check_contact(
                m.caller(), request.user_id, request.target_user_id, request.school_id, action
            )
            return pb.CheckPermissionResponse(allowed=not reason, reason=reason)
        ok = await self.memberships.check_permission(
            m.caller(), request.user_id, request.school_id, request.class_id, action
        )
        return pb.CheckPermissionResponse(allowed=ok)
