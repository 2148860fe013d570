"""Memberships: school and class roles, one membership per seat, what joining gives, roles that cannot
be combined, and Roles (all one person is in one school) (pure Python)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import IntEnum

from parta_common.errors import FailedPrecondition

from school.domain.schools import School

# Mirrors parta.school.v1 enums by value, so mapping at the edge is a plain int conversion.


class SchoolRole(IntEnum):
    UNSPECIFIED = 0
    ADMIN = 1
    TEACHER = 2
    STUDENT = 3
    PARENT = 4


class ClassRole(IntEnum):
    UNSPECIFIED = 0
    CLASS_HEAD = 1
    SUBJECT_TEACHER = 2
    STUDENT = 3
    PARENT = 4
    STAFF = 5


STAFF_ROLES = frozenset({SchoolRole.ADMIN, SchoolRole.TEACHER})


def membership_id(
    school_id: str, user_id: str, school_role: SchoolRole, class_id: str, class_role: ClassRole, child_user_id: str
) -> str:
    """Deterministic: the same slot of the same person is always the same membership, so joining twice
    is a no-op and re-joining after leaving reactivates it (its version keeps growing).

    A slot is what a consumer shows as one line: a school-level role; a seat in the staff room; a
    teaching seat in a class (class head ↔ subject teacher is a role change of that seat, not a
    leave + join that a projection could apply out of order); a student seat; a parent seat per child.
    """
    if class_role == ClassRole.STAFF:
        slot = ["staff"]
    elif class_role in (ClassRole.CLASS_HEAD, ClassRole.SUBJECT_TEACHER):
        slot = ["teaching"]
    elif class_id:
        slot = [str(int(class_role)), child_user_id]
    else:
        slot = ["school", str(int(school_role)), child_user_id]
    raw = "\x1f".join([school_id, user_id, class_id, *slot])
    return "m" + hashlib.sha256(raw.encode()).hexdigest()[:31]


@dataclass(frozen=True)
class Membership:
    id: str
    school_id: str
    user_id: str
    school_role: SchoolRole
    class_id: str = ""
    class_role: ClassRole = ClassRole.UNSPECIFIED
    child_user_id: str = ""
    subject: str = ""
    verified: bool = False
    active: bool = True
    version: int = 0

    @staticmethod
    def new(
        school_id: str,
        user_id: str,
        school_role: SchoolRole,
        class_id: str = "",
        class_role: ClassRole = ClassRole.UNSPECIFIED,
        child_user_id: str = "",
        subject: str = "",
        verified: bool = False,
    ) -> Membership:
        return Membership(
            id=membership_id(school_id, user_id, school_role, class_id, class_role, child_user_id),
            school_id=school_id,
            user_id=user_id,
            school_role=school_role,
            class_id=class_id,
            class_role=class_role,
            child_user_id=child_user_id,
            subject=subject,
            verified=verified,
        )


def memberships_for_joining(
    school: School, user_id: str, role: SchoolRole, class_id: str, child_user_id: str, verified: bool
) -> list[Membership]:
    """Every membership one person gets when joining with `role` (school level, then class level).

    Staff land in the staff room; students and parents in their class; parents name their child.
    """
    if role == SchoolRole.PARENT and child_user_id == user_id:
        raise FailedPrecondition("a child cannot become their own parent", reason="PARENT_IS_CHILD")
    staff = role in STAFF_ROLES
    out = [Membership.new(school.id, user_id, role, child_user_id=child_user_id, verified=staff and verified)]
    if staff:
        out.append(
            Membership.new(school.id, user_id, role, school.staff_room_class_id, ClassRole.STAFF, verified=verified)
        )
        if class_id and role == SchoolRole.TEACHER:
            out.append(Membership.new(school.id, user_id, role, class_id, ClassRole.SUBJECT_TEACHER, verified=verified))
    elif class_id:
        class_role = ClassRole.STUDENT if role == SchoolRole.STUDENT else ClassRole.PARENT
        out.append(Membership.new(school.id, user_id, role, class_id, class_role, child_user_id=child_user_id))
    return out


# --- roles that cannot be combined ---------------------------------------------------------------

# (role the person holds in the school, role an invite or join request would give) pairs refused with
# ROLE_CONFLICT. A student is a child of the school: a staff invite would hand them staff powers over
# other children, a parent seat would make them a guardian of another child. An adult (staff or parent)
# taking a student seat would sit among children with a student's reach to them. A teacher who is also a
# parent (their own child at the school) is normal and allowed, as is an admin who is a parent.
ROLE_CONFLICTS = frozenset(
    {
        (SchoolRole.STUDENT, SchoolRole.TEACHER),
        (SchoolRole.STUDENT, SchoolRole.PARENT),
        (SchoolRole.TEACHER, SchoolRole.STUDENT),
        (SchoolRole.ADMIN, SchoolRole.STUDENT),
        (SchoolRole.PARENT, SchoolRole.STUDENT),
    }
)


def check_role_conflict(held: set[SchoolRole], wanted: SchoolRole) -> None:
    """Refuse a seat that cannot be combined with a role the person already holds in this school."""
    clash = sorted(r for r in held if (r, wanted) in ROLE_CONFLICTS)
    if clash:
        raise FailedPrecondition(
            f"a {clash[0].name.lower()} of this school cannot join as {wanted.name.lower()}",
            reason="ROLE_CONFLICT",
            metadata={"held_role": clash[0].name, "wanted_role": wanted.name},
        )


@dataclass
class Roles:
    """Everything one person is in one school, derived from their active memberships."""

    user_id: str
    school_id: str
    school_roles: set[SchoolRole] = field(default_factory=set)
    class_roles: dict[str, set[ClassRole]] = field(default_factory=dict)
    children: set[str] = field(default_factory=set)
    verified: bool = False

    @staticmethod
    def of(user_id: str, school_id: str, memberships: list[Membership], verified_ids: tuple[str, ...] = ()) -> Roles:
        roles = Roles(user_id, school_id, verified=user_id in verified_ids)
        for m in memberships:
            if not m.active or m.school_id != school_id or m.user_id != user_id:
                continue
            roles.school_roles.add(m.school_role)
            if m.class_id:
                roles.class_roles.setdefault(m.class_id, set()).add(m.class_role)
            if m.child_user_id:
                roles.children.add(m.child_user_id)
        return roles

    @property
    def is_member(self) -> bool:
        return bool(self.school_roles)

    @property
    def is_admin(self) -> bool:
        return SchoolRole.ADMIN in self.school_roles

    @property
    def is_staff(self) -> bool:
        return bool(self.school_roles & STAFF_ROLES)

    @property
    def is_verified_staff(self) -> bool:
        return self.is_admin or (self.is_staff and self.verified)

    def in_class(self, class_id: str) -> set[ClassRole]:
        return self.class_roles.get(class_id, set())


# --- who sees which roster ---------------------------------------------------------------------


def sees_school_roster(roles: Roles) -> bool:
    """The school-wide member list (every seat, every family) is for staff: admins and teachers. A
    student or parent sees the members of their own classes instead (ListMembers with a class)."""
    return roles.is_staff and SchoolRole.STUDENT not in roles.school_roles


def as_seen_by(roles: Roles, m: Membership) -> Membership:
    """A membership as `roles`' holder may see it: which child a parent seat names is for staff and for
    the family concerned (the guardian, the child, the child's other guardians), never for classmates
    or other parents."""
    if not m.child_user_id or sees_school_roster(roles):
        return m
    if roles.user_id in (m.user_id, m.child_user_id) or m.child_user_id in roles.children:
        return m
    return replace(m, child_user_id="")
