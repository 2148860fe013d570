"""SchoolService: thin servicer (pb → use case → pb) over the use cases of schools, the admin seat, staff
verification, academic years and the policy."""

from __future__ import annotations

from parta.school.v1 import school_pb2 as pb
from parta.school.v1 import school_pb2_grpc as rpc

from school.api import mappers as m
from school.api.mappers import Ctx
from school.app.schools import UPDATABLE, RegisterSchool
from school.app.service import SchoolApp
from school.domain.validation import invalid


class SchoolServicer(rpc.SchoolServiceServicer):
    def __init__(self, app: SchoolApp):
        self.schools = app.schools
        self.admins = app.admins
        self.staff = app.staff
        self.policies = app.policies
        self.years = app.years
        self.retention = app.retention

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
        return pb.ClaimPendingRolesResponse(school_ids=await self.admins.claim_pending_roles(m.caller()))

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
        await self.admins.appoint_admin(m.caller(), request.school_id, request.user_id, request.admin_phone)
        return pb.AppointAdminResponse()

    async def RemoveAdmin(self, request: pb.RemoveAdminRequest, context: Ctx) -> pb.RemoveAdminResponse:
        await self.admins.remove_admin(m.caller(), request.school_id, request.user_id)
        return pb.RemoveAdminResponse()

    async def VerifyStaff(self, request: pb.VerifyStaffRequest, context: Ctx) -> pb.VerifyStaffResponse:
        await self.staff.verify_staff(m.caller(), request.school_id, request.user_id)
        return pb.VerifyStaffResponse()

    async def ListVacantSchools(
        self, request: pb.ListVacantSchoolsRequest, context: Ctx
    ) -> pb.ListVacantSchoolsResponse:
        page = m.Page(request.page)
        found = await self.admins.list_vacant_schools(m.caller(), page.after, page.limit)
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
        return pb.GetSchoolPolicyResponse(
            policy=m.policy(await self.policies.get_policy(m.caller(), request.school_id))
        )

    async def SetSchoolPolicy(self, request: pb.SetSchoolPolicyRequest, context: Ctx) -> pb.SetSchoolPolicyResponse:
        # Only the switches the request sets change (proto3 optional: presence says "set this").
        wanted = request.policy
        switches = {f.name: bool(value) for f, value in wanted.ListFields()}
        policy = await self.policies.set_policy(m.caller(), request.school_id, switches)
        return pb.SetSchoolPolicyResponse(policy=m.policy(policy))

    async def GetRetentionPolicy(
        self, request: pb.GetRetentionPolicyRequest, context: Ctx
    ) -> pb.GetRetentionPolicyResponse:
        rule = await self.retention.get_retention(m.caller(), request.school_id)
        return pb.GetRetentionPolicyResponse(retention=m.retention(rule))

    async def SetRetentionPolicy(
        self, request: pb.SetRetentionPolicyRequest, context: Ctx
    ) -> pb.SetRetentionPolicyResponse:
        wanted = request.retention
        rule = await self.retention.set_retention(
            m.caller(), request.school_id, wanted.keep_days, wanted.archive_grace_days
        )
        return pb.SetRetentionPolicyResponse(retention=m.retention(rule))
