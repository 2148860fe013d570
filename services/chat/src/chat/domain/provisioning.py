"""The school facts chat keeps from school's and identity's events, the chats a seat puts its user into,
and person_of for the kit's rule book."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from parta_common.safety import DEFAULT_POLICY, Fact, Person, Role, SchoolPolicy, Seat

from chat.domain.chats import class_chat_id, parents_chat_id, school_channel_id, staff_channel_id
from chat.domain.members import Grant


class SchoolRole(IntEnum):
    ADMIN = 1
    TEACHER = 2
    STUDENT = 3
    PARENT = 4


class ClassRole(IntEnum):
    NONE = 0
    CLASS_HEAD = 1
    SUBJECT_TEACHER = 2
    STUDENT = 3
    PARENT = 4
    STAFF = 5


@dataclass(frozen=True)
class Membership:
    """One role of one person in a school (from school.membership.v1)."""

    membership_id: str
    school_id: str
    user_id: str
    school_role: SchoolRole
    class_id: str = ""
    class_role: ClassRole = ClassRole.NONE
    child_user_id: str = ""
    active: bool = True
    # Staff verification by an admin, as school publishes it on the seat (MembershipSnapshot.verified).
    verified: bool = False

    @property
    def is_staff(self) -> bool:
        return self.school_role in (SchoolRole.ADMIN, SchoolRole.TEACHER)

    @property
    def teaches_class(self) -> bool:
        return bool(self.class_id) and self.class_role in (ClassRole.CLASS_HEAD, ClassRole.SUBJECT_TEACHER)


def chat_grants(m: Membership, person: Person | None = None) -> list[tuple[str, Grant]]:
    """The provisioned chats a membership puts its user into, and as what.

    `person` is the rule book's view of the whole person in the school (all their seats): a
    student's staff seat grants nothing (no staff powers), and the staff channel takes posts
    only from verified staff. Without it the seat is judged on its own.
    """
    if person is not None and person.is_student and m.is_staff:
        return [(school_channel_id(m.school_id), Grant.MEMBER)]
    admin = m.school_role is SchoolRole.ADMIN
    out: list[tuple[str, Grant]] = [(school_channel_id(m.school_id), Grant.ADMIN if admin else Grant.MEMBER)]
    if m.is_staff:
        verified = person.verified if person is not None else m.verified or admin
        staff = Grant.ADMIN if admin else Grant.STAFF if verified else Grant.STAFF_UNVERIFIED
        out.append((staff_channel_id(m.school_id), staff))
    if m.class_id and m.class_role is not ClassRole.STAFF:
        if m.class_role is ClassRole.STUDENT:
            out.append((class_chat_id(m.class_id), Grant.STUDENT))
        elif m.class_role is ClassRole.PARENT:
            out.append((parents_chat_id(m.class_id), Grant.PARENT))
        elif m.teaches_class:
            grant = Grant.CLASS_HEAD if m.class_role is ClassRole.CLASS_HEAD else Grant.TEACHER
            out.append((class_chat_id(m.class_id), grant))
            out.append((parents_chat_id(m.class_id), grant))
    return out


@dataclass(frozen=True)
class Profile:
    user_id: str
    display_name: str
    awaiting_guardian: bool = False
    deleted: bool = False

    @property
    def has_profile(self) -> bool:
        return not self.deleted


@dataclass(frozen=True)
class SchoolInfo:
    school_id: str
    name: str
    timezone: str
    workday_start_minute: int
    workday_end_minute: int
    # The school's communication switches (school's SetSchoolPolicy); the rule book applies them.
    policy: SchoolPolicy = DEFAULT_POLICY
    # The language of the texts chat writes into the school's chats ("ru" | "en"; system_notes.py).
    locale: str = "ru"


_ROLES = {SchoolRole.ADMIN: Role.ADMIN, SchoolRole.TEACHER: Role.TEACHER, SchoolRole.STUDENT: Role.STUDENT}
_SEATS = {
    ClassRole.CLASS_HEAD: Seat.CLASS_HEAD,
    ClassRole.SUBJECT_TEACHER: Seat.SUBJECT_TEACHER,
    ClassRole.STUDENT: Seat.STUDENT,
    ClassRole.PARENT: Seat.PARENT,
    ClassRole.STAFF: Seat.STAFF,
}


def person_of(school_id: str, user_id: str, memberships: list[Membership], profile: Profile | None) -> Person:
    """Chat's projection (memberships from school, profile from identity) → the rule book's view."""
    facts = [
        Fact(_ROLES.get(m.school_role, Role.PARENT), m.class_id, _SEATS.get(m.class_role), m.child_user_id, m.verified)
        for m in memberships
        if m.active and m.school_id == school_id and m.user_id == user_id
    ]
    return Person.of(
        user_id,
        school_id,
        facts,
        has_profile=profile is not None and profile.has_profile,
        awaiting_guardian=profile is not None and profile.awaiting_guardian,
    )
