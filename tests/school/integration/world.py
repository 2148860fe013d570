"""Two schools with one person per role, built through the public API, for the contour and matrix tests."""

from __future__ import annotations

import itertools
import random
import string
import uuid
from dataclasses import dataclass
from typing import Any

from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import school_pb2 as pb

from tests.school.support import User


def rid() -> str:
    return uuid.uuid4().hex


# Class letters are unique per school and year: random ones collided (26^3 combinations, a module's
# World makes ~100 classes in one school — ALREADY_EXISTS about one run in four). Consecutive
# combinations from a random start never repeat within a process.
_NEXT_LETTERS = itertools.count(random.randrange(26**3))


def letters() -> str:
    n = next(_NEXT_LETTERS) % 26**3
    return "".join(string.ascii_uppercase[(n // 26**i) % 26] for i in range(3))


@dataclass
class World:
    env: Any
    school: pb.School
    admin: User
    head: User  # verified teacher, class head of c5a
    sub: User  # unverified teacher, subject teacher of c5a
    student: User  # student of c5a
    parent: User  # parent of `student`, in c5a
    c5a: pb.SchoolClass
    c5b: pb.SchoolClass
    other_school: pb.School
    other_admin: User

    @property
    def s(self) -> Any:
        return self.env.stubs

    def role_users(self) -> dict[str, User]:
        return {"admin": self.admin, "head": self.head, "sub": self.sub, "student": self.student, "parent": self.parent}

    # --- builders (as the admin unless said otherwise) -----------------------------------------

    async def new_class(self, school: pb.School | None = None, actor: User | None = None) -> pb.SchoolClass:
        reply = await self.s.classes.CreateClass(
            pb.CreateClassRequest(
                request_id=rid(), school_id=(school or self.school).school_id, grade=7, letter=letters()
            ),
            metadata=(actor or self.admin).md,
        )
        return getattr(reply, "class")

    async def invite(
        self,
        role: int,
        *,
        class_id: str = "",
        child: str = "",
        approval: bool = False,
        actor: User | None = None,
        school: pb.School | None = None,
        uses: int = 10,
        ttl: int = 86400,
    ) -> pb.CreateInviteResponse:
        return await self.s.invites.CreateInvite(
            pb.CreateInviteRequest(
                request_id=rid(),
                school_id=(school or self.school).school_id,
                class_id=class_id,
                role=role,
                child_user_id=child,
                ttl_seconds=ttl,
                max_uses=uses,
                requires_approval=approval,
            ),
            metadata=(actor or self.admin).md,
        )

    async def join(
        self,
        user: User,
        role: int,
        *,
        class_id: str = "",
        child: str = "",
        school: pb.School | None = None,
        actor: User | None = None,
    ) -> None:
        created = await self.invite(role, class_id=class_id, child=child, school=school, actor=actor)
        await self.s.invites.AcceptInvite(pb.AcceptInviteRequest(token=created.token), metadata=user.md)

    async def new_teacher(self, verified: bool = False) -> User:
        user = self.env.mint.user()
        await self.join(user, ev.SCHOOL_ROLE_TEACHER)
        if verified:
            await self.s.schools.VerifyStaff(
                pb.VerifyStaffRequest(school_id=self.school.school_id, user_id=user.user_id), metadata=self.admin.md
            )
        return user

    async def new_student(self, class_id: str = "") -> User:
        user = self.env.mint.user()
        await self.join(user, ev.SCHOOL_ROLE_STUDENT, class_id=class_id or self.c5a.class_id)
        return user

    async def pending_request(self, class_id: str = "") -> str:
        created = await self.invite(ev.SCHOOL_ROLE_STUDENT, class_id=class_id or self.c5a.class_id, approval=True)
        user = self.env.mint.user()
        reply = await self.s.invites.AcceptInvite(pb.AcceptInviteRequest(token=created.token), metadata=user.md)
        return reply.join_request.join_request_id


async def register(env: Any, admin: User, name: str) -> pb.School:
    reply = await env.stubs.schools.RegisterSchool(
        pb.RegisterSchoolRequest(request_id=rid(), name=name, academic_year="2026/2027", admin_phone=admin.phone),
        metadata=env.operator.md,
    )
    await env.stubs.schools.ClaimPendingRoles(pb.ClaimPendingRolesRequest(), metadata=admin.md)
    return reply.school


async def build_world(env: Any) -> World:
    admin, other_admin = env.mint.user(), env.mint.user()
    school = await register(env, admin, "Школа A")
    other = await register(env, other_admin, "Школа B")
    w = World(
        env,
        school,
        admin,
        env.mint.user(),
        env.mint.user(),
        env.mint.user(),
        env.mint.user(),
        pb.SchoolClass(),
        pb.SchoolClass(),
        other,
        other_admin,
    )
    w.c5a = await w.new_class()
    w.c5b = await w.new_class()
    await w.join(w.head, ev.SCHOOL_ROLE_TEACHER)
    await w.s.schools.VerifyStaff(
        pb.VerifyStaffRequest(school_id=school.school_id, user_id=w.head.user_id), metadata=admin.md
    )
    await w.s.classes.SetClassHead(
        pb.SetClassHeadRequest(class_id=w.c5a.class_id, user_id=w.head.user_id), metadata=admin.md
    )
    await w.join(w.sub, ev.SCHOOL_ROLE_TEACHER)
    await w.s.classes.AddSubjectTeacher(
        pb.AddSubjectTeacherRequest(class_id=w.c5a.class_id, user_id=w.sub.user_id, subject="Математика"),
        metadata=admin.md,
    )
    await w.join(w.student, ev.SCHOOL_ROLE_STUDENT, class_id=w.c5a.class_id)
    await w.join(w.parent, ev.SCHOOL_ROLE_PARENT, class_id=w.c5a.class_id, child=w.student.user_id)
    return w
