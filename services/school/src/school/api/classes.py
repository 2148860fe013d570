"""ClassService: thin servicer (pb → use case → pb): classes and their teachers."""

from __future__ import annotations

from parta.school.v1 import school_pb2 as pb
from parta.school.v1 import school_pb2_grpc as rpc

from school.api import mappers as m
from school.api.mappers import Ctx
from school.app.classes import Classes


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
