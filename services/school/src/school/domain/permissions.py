"""The permission matrix: which role may do what, where. One function, `allowed`, used by every use case
and by the CheckPermission RPC, so what other services are told is exactly what school enforces.

Unverified teachers are members with reduced powers: they read and talk in their classes and the staff
room, but they cannot invite, approve, run lessons or broadcasts, or create group chats until an admin
verifies them. The table is documented in docs/school.md and tested role by role.
"""

from __future__ import annotations

from enum import IntEnum

from parta_common import safety

from school.domain.memberships import ClassRole, Membership, Roles, SchoolRole
from school.domain.profiles import ProfileFacts, ProfileState


class Action(IntEnum):
    UNSPECIFIED = 0
    VIEW_SCHOOL = 1  # see school info, classes list (the school-wide member list: staff only, sees_school_roster)
    MANAGE_SCHOOL = 2  # edit school info, appoint/remove admins, remove members
    MANAGE_CLASSES = 3  # create/rename/archive classes, set class heads and subject teachers
    VERIFY_STAFF = 4
    INVITE_STAFF = 5
    INVITE_STUDENTS = 6  # class-scoped
    INVITE_PARENTS = 7  # class-scoped
    DECIDE_JOIN_REQUESTS = 8  # class-scoped (school-scoped: admins only)
    VIEW_CLASS = 9  # class-scoped: read class members / class chat
    POST_CLASS_CHAT = 10  # class-scoped
    POST_SCHOOL_CHANNEL = 11
    POST_STAFF_CHANNEL = 12
    MODERATE_CLASS = 13  # class-scoped: delete messages, mute in class chats
    START_LESSON = 14  # class-scoped
    START_BROADCAST = 15  # class-scoped or school-wide
    CREATE_GROUP_CHAT = 16
    # Person to person: decided by the kit's rule book (parta_common.safety), like chat and media-signal.
    DIRECT_MESSAGE = 17
    CALL = 18
    SHARE_GROUP = 19


CLASS_SCOPED = frozenset(
    {
        Action.INVITE_STUDENTS,
        Action.INVITE_PARENTS,
        Action.VIEW_CLASS,
        Action.POST_CLASS_CHAT,
        Action.MODERATE_CLASS,
        Action.START_LESSON,
    }
)

PERSON_TO_PERSON = {
    Action.DIRECT_MESSAGE: safety.Contact.DM,
    Action.CALL: safety.Contact.CALL,
    Action.SHARE_GROUP: safety.Contact.GROUP,
}

TEACHING = frozenset({ClassRole.CLASS_HEAD, ClassRole.SUBJECT_TEACHER})


def allowed(roles: Roles, action: Action, class_id: str = "") -> bool:
    """Whether `roles` (one person in one school) may perform `action`, optionally in one class."""
    if not roles.is_member or action == Action.UNSPECIFIED or action in PERSON_TO_PERSON:
        return False
    if roles.is_admin:
        return True  # admins may do everything inside their school
    in_class = roles.in_class(class_id) if class_id else set()
    verified = roles.is_verified_staff
    match action:
        case Action.VIEW_SCHOOL:
            return True
        case Action.MANAGE_SCHOOL | Action.MANAGE_CLASSES | Action.VERIFY_STAFF | Action.INVITE_STAFF:
            return False
        case Action.POST_SCHOOL_CHANNEL:
            return False  # the school channel is admins only
        case Action.POST_STAFF_CHANNEL:
            return roles.is_staff and verified
        case Action.CREATE_GROUP_CHAT:
            return roles.is_staff and verified
        case Action.VIEW_CLASS | Action.POST_CLASS_CHAT:
            # Staff see every class of their school; others only their own classes.
            return bool(in_class) or (action == Action.VIEW_CLASS and roles.is_staff)
        case Action.INVITE_STUDENTS | Action.INVITE_PARENTS | Action.START_LESSON:
            return verified and bool(in_class & TEACHING)
        case Action.DECIDE_JOIN_REQUESTS | Action.MODERATE_CLASS:
            return verified and ClassRole.CLASS_HEAD in in_class
        case Action.START_BROADCAST:
            if class_id:
                return verified and bool(in_class & TEACHING)
            return verified and roles.is_staff
    return False


def role_for_invite(role: SchoolRole) -> Action:
    return {
        SchoolRole.TEACHER: Action.INVITE_STAFF,
        SchoolRole.STUDENT: Action.INVITE_STUDENTS,
        SchoolRole.PARENT: Action.INVITE_PARENTS,
    }.get(role, Action.MANAGE_SCHOOL)


_ROLE = {
    SchoolRole.ADMIN: safety.Role.ADMIN,
    SchoolRole.TEACHER: safety.Role.TEACHER,
    SchoolRole.STUDENT: safety.Role.STUDENT,
    SchoolRole.PARENT: safety.Role.PARENT,
}
_SEAT = {
    ClassRole.CLASS_HEAD: safety.Seat.CLASS_HEAD,
    ClassRole.SUBJECT_TEACHER: safety.Seat.SUBJECT_TEACHER,
    ClassRole.STUDENT: safety.Seat.STUDENT,
    ClassRole.PARENT: safety.Seat.PARENT,
    ClassRole.STAFF: safety.Seat.STAFF,
}


def person_of(
    user_id: str, school_id: str, memberships: list[Membership], verified_ids: tuple[str, ...], profile: ProfileFacts
) -> safety.Person:
    """One person in one school in the rule book's terms, from school's own records. Verification is the
    school's list (the seats' `verified` flag is what was published; the list is the truth)."""
    verified = user_id in verified_ids
    facts = [
        safety.Fact(
            _ROLE[m.school_role],
            m.class_id,
            _SEAT.get(m.class_role),
            m.child_user_id,
            verified=verified and m.school_role in (SchoolRole.ADMIN, SchoolRole.TEACHER),
        )
        for m in memberships
        if m.active and m.user_id == user_id and m.school_id == school_id and m.school_role in _ROLE
    ]
    return safety.Person.of(
        user_id,
        school_id,
        facts,
        has_profile=profile.state == ProfileState.PRESENT,
        awaiting_guardian=profile.awaiting_guardian,
    )
