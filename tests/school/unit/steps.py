"""Steps the use-case tests share: the admin, registering a school, an invite command, an onboarded school."""

from __future__ import annotations

from school.app.common import Caller
from school.app.invites import CreateInvite
from school.app.schools import RegisterSchool
from school.domain.memberships import SchoolRole

from tests.school.fakes import OPERATOR, World

ADMIN = Caller("irina", "+79990000001")


def register(w: World, phone: str = ADMIN.phone, request_id: str = "r1"):  # type: ignore[no-untyped-def]
    return w.schools.register_school(
        OPERATOR, RegisterSchool(request_id, "Школа № 17", "", "", "", "", "2026/2027", phone)
    )


def invite_cmd(
    school_id: str,
    role: SchoolRole,
    class_id: str = "",
    child: str = "",
    approval: bool = False,
    uses: int = 10,
    request_id: str = "i",
) -> CreateInvite:
    return CreateInvite(request_id, school_id, class_id, role, child, 3600, uses, approval)


async def onboarded(w: World):  # type: ignore[no-untyped-def]
    school = await register(w)
    await w.admins.claim_pending_roles(ADMIN)
    klass = await w.classes.create_class(ADMIN, "c1", school.id, 5, "а", "")
    return school, klass
