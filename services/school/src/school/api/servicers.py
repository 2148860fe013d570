"""Thin gRPC servicers of school: pb → use case → pb. Domain errors are mapped by the edge interceptor."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc
from parta.school.v1 import school_pb2 as pb
from parta.school.v1 import school_pb2_grpc as rpc

from school.api import mappers as m
from school.app.classes import Classes
from school.app.invites import CreateInvite, Invites
from school.app.join_requests import JoinRequests
from school.app.memberships import Memberships
from school.app.schools import UPDATABLE, RegisterSchool, Schools
from school.app.years import AcademicYears
from school.domain.join_requests import JoinState
from school.domain.memberships import ClassRole, SchoolRole
from school.domain.permissions import PERSON_TO_PERSON, Action
from school.domain.validation import invalid

Ctx: TypeAlias = grpc.aio.ServicerContext


def _enum(enum: Any, value: int, field: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise invalid(field, "unknown value") from None


class SchoolServicer(rpc.SchoolServiceServicer):
    def __init__(self, schools: Schools, years: AcademicYears):
        self.schools = schools
        self.years = years

    async def RegisterSchool(self, request: pb.RegisterSchoolRequest, context: Ctx) -> pb.RegisterSchoolResponse:
        school = await self.schools.register_school(
            m.caller(),
            RegisterSchool(
                request_id=request.request_id,
                name=request.name,
                short_name=request.short_name,
                region=request.region,
                address=request.address,
                timezone=request.timezone,
                academic_year=request.academic_year,
                admin_phone=request.admin_phone,
            ),
        )
        return pb.RegisterSchoolResponse(school=m.school(school))

    async def ClaimPendingRoles(
        self, request: pb.ClaimPendingRolesRequest, context: Ctx
    ) -> pb.ClaimPendingRolesResponse:
        return pb.ClaimPendingRolesResponse(school_ids=await self.schools.claim_pending_roles(m.caller()))

    async def ListMySchools(self, request: pb.ListMySchoolsRequest, context: Ctx) -> pb.ListMySchoolsResponse:
        mine = await self.schools.list_my_schools(m.caller())
        return pb.ListMySchoolsResponse(
            schools=[
                pb.MySchool(school=m.school(s.school), roles=[int(r) for r in s.roles], verified=s.verified)  # type: ignore[misc]
                for s in mine
            ]
        )

    async def GetSchool(self, request: pb.GetSchoolRequest, context: Ctx) -> pb.GetSchoolResponse:
        return pb.GetSchoolResponse(school=m.school(await self.schools.get_school(m.caller(), request.school_id)))

    async def UpdateSchool(self, request: pb.UpdateSchoolRequest, context: Ctx) -> pb.UpdateSchoolResponse:
        paths = list(request.update_mask.paths)
        changes: dict[str, object] = {}
        for path in paths:
            if path not in UPDATABLE:
                raise invalid("update_mask", f"{path[:64]!r} cannot be updated")
            changes[path] = getattr(request.school, path)
        school = await self.schools.update_school(m.caller(), request.school.school_id, changes)
        return pb.UpdateSchoolResponse(school=m.school(school))

    async def AppointAdmin(self, request: pb.AppointAdminRequest, context: Ctx) -> pb.AppointAdminResponse:
        await self.schools.appoint_admin(m.caller(), request.school_id, request.user_id, request.admin_phone)
        return pb.AppointAdminResponse()

    async def RemoveAdmin(self, request: pb.RemoveAdminRequest, context: Ctx) -> pb.RemoveAdminResponse:
        await self.schools.remove_admin(m.caller(), request.school_id, request.user_id)
        return pb.RemoveAdminResponse()

    async def VerifyStaff(self, request: pb.VerifyStaffRequest, context: Ctx) -> pb.VerifyStaffResponse:
        await self.schools.verify_staff(m.caller(), request.school_id, request.user_id)
        return pb.VerifyStaffResponse()

    async def ListVacantSchools(
        self, request: pb.ListVacantSchoolsRequest, context: Ctx
    ) -> pb.ListVacantSchoolsResponse:
        page = m.Page(request.page)
        found = await self.schools.list_vacant_schools(m.caller(), page.after, page.limit)
        items, info = page.cut(found, lambda s: s.id)
        return pb.ListVacantSchoolsResponse(schools=[m.school(s) for s in items], page=info)

    async def StartAcademicYear(
        self, request: pb.StartAcademicYearRequest, context: Ctx
    ) -> pb.StartAcademicYearResponse:
        started = await self.years.start_academic_year(
            m.caller(), request.request_id, request.school_id, request.academic_year
        )
        return pb.StartAcademicYearResponse(
            school=m.school(started.school),
            previous_academic_year=started.previous_academic_year,
            promoted=[m.school_class(c) for c in started.promoted],
            graduated=[m.school_class(c) for c in started.graduated],
        )

    async def GetSchoolPolicy(self, request: pb.GetSchoolPolicyRequest, context: Ctx) -> pb.GetSchoolPolicyResponse:
        return pb.GetSchoolPolicyResponse(policy=m.policy(await self.schools.get_policy(m.caller(), request.school_id)))

    async def SetSchoolPolicy(self, request: pb.SetSchoolPolicyRequest, context: Ctx) -> pb.SetSchoolPolicyResponse:
        # Only the switches the request sets change (proto3 optional: presence says "set this").
        wanted = request.policy
        switches = {f.name: bool(value) for f, value in wanted.ListFields()}
        policy = await self.schools.set_policy(m.caller(), request.school_id, switches)
        return pb.SetSchoolPolicyResponse(policy=m.policy(policy))


class ClassServicer(rpc.ClassServiceServicer):
    def __init__(self, classes: Classes):
        self.classes = classes

    async def CreateClass(self, request: pb.CreateClassRequest, context: Ctx) -> pb.CreateClassResponse:
        c = await self.classes.create_class(
            m.caller(), request.request_id, request.school_id, request.grade, request.letter, request.academic_year
        )
        return pb.CreateClassResponse(**{"class": m.school_class(c)})

    async def GetClass(self, request: pb.GetClassRequest, context: Ctx) -> pb.GetClassResponse:
        c = await self.classes.get_class(m.caller(), request.class_id)
        return pb.GetClassResponse(**{"class": m.school_class(c)})

    async def ListClasses(self, request: pb.ListClassesRequest, context: Ctx) -> pb.ListClassesResponse:
        page = m.Page(request.page)
        found = await self.classes.list_classes(
            m.caller(), request.school_id, request.include_archived, page.after, page.limit
        )
        items, info = page.cut(found, lambda c: c.id)
        return pb.ListClassesResponse(classes=[m.school_class(c) for c in items], page=info)

    async def RenameClass(self, request: pb.RenameClassRequest, context: Ctx) -> pb.RenameClassResponse:
        c = await self.classes.rename_class(m.caller(), request.class_id, request.grade, request.letter)
        return pb.RenameClassResponse(**{"class": m.school_class(c)})

    async def ArchiveClass(self, request: pb.ArchiveClassRequest, context: Ctx) -> pb.ArchiveClassResponse:
        c = await self.classes.archive_class(m.caller(), request.class_id)
        return pb.ArchiveClassResponse(**{"class": m.school_class(c)})

    async def SetClassHead(self, request: pb.SetClassHeadRequest, context: Ctx) -> pb.SetClassHeadResponse:
        await self.classes.set_class_head(m.caller(), request.class_id, request.user_id)
        return pb.SetClassHeadResponse()

    async def AddSubjectTeacher(
        self, request: pb.AddSubjectTeacherRequest, context: Ctx
    ) -> pb.AddSubjectTeacherResponse:
        await self.classes.add_subject_teacher(m.caller(), request.class_id, request.user_id, request.subject)
        return pb.AddSubjectTeacherResponse()


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
        role = _enum(ClassRole, request.class_role, "class_role")
        await self.classes.change_teaching_role(m.caller(), request.class_id, request.user_id, role, request.subject)
        return pb.ChangeMemberRoleResponse()

    async def GetMemberships(self, request: pb.GetMembershipsRequest, context: Ctx) -> pb.GetMembershipsResponse:
        found = await self.memberships.get_memberships(m.caller(), request.user_id, request.school_id)
        return pb.GetMembershipsResponse(memberships=[m.membership(x) for x in found])

    async def CheckPermission(self, request: pb.CheckPermissionRequest, context: Ctx) -> pb.CheckPermissionResponse:
        action = _enum(Action, request.action, "action")
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
                role=_enum(SchoolRole, request.role, "role"),
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


class JoinRequestServicer(rpc.JoinRequestServiceServicer):
    def __init__(self, join_requests: JoinRequests):
        self.join_requests = join_requests

    async def ListJoinRequests(self, request: pb.ListJoinRequestsRequest, context: Ctx) -> pb.ListJoinRequestsResponse:
        page = m.Page(request.page)
        found = await self.join_requests.list_join_requests(
            m.caller(),
            request.school_id,
            request.class_id,
            _enum(JoinState, request.state, "state"),
            page.after,
            page.limit,
        )
        items, info = page.cut(found, lambda x: x.id)
        return pb.ListJoinRequestsResponse(join_requests=[m.join_request(x) for x in items], page=info)

    async def ApproveJoinRequest(
        self, request: pb.ApproveJoinRequestRequest, context: Ctx
    ) -> pb.ApproveJoinRequestResponse:
        decided = await self.join_requests.decide(m.caller(), request.join_request_id, approve=True)
        return pb.ApproveJoinRequestResponse(join_request=m.join_request(decided))

    async def RejectJoinRequest(
        self, request: pb.RejectJoinRequestRequest, context: Ctx
    ) -> pb.RejectJoinRequestResponse:
        decided = await self.join_requests.decide(m.caller(), request.join_request_id, approve=False)
        return pb.RejectJoinRequestResponse(join_request=m.join_request(decided))

    async def ListMyJoinRequests(
        self, request: pb.ListMyJoinRequestsRequest, context: Ctx
    ) -> pb.ListMyJoinRequestsResponse:
        found = await self.join_requests.list_my_join_requests(m.caller())
        return pb.ListMyJoinRequestsResponse(join_requests=[m.join_request(x) for x in found])
