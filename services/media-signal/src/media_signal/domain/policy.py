"""Who may meet whom in a call: the school's communication policy ("safety for minors").

Pure functions over the membership projection. The defaults of DESIGN.md "Cross-cutting rules":
students reach their classmates and their teachers; an adult reaches a student only as that
student's teacher (teaches the student's class, and is verified staff) or guardian (a parent
membership naming that child); parents reach the teachers of their children and the parents of
their children's classes; staff reach each other; the administration is reachable by every adult
(as in chat's direct messages). The rule is symmetric: a call is allowed when either side may
reach the other.
"""

from __future__ import annotations

from collections.abc import Iterable

from parta_common.errors import PermissionDenied

from media_signal.domain.rooms import TEACHING_CLASS_ROLES, Access, awaiting_guardian_error

STAFF_ROLES = frozenset({"admin", "teacher"})


def _one_way(a: Access, b: Access) -> bool:
    """May A reach B? (Applied both ways by may_meet.)"""
    a_roles, b_roles = a.school_roles, b.school_roles
    if "student" in b_roles:
        b_classes = b.classes_as("student")
        if "student" in a_roles and a.classes_as("student") & b_classes:
            return True  # classmates
        # Their teacher — only once verified: an invite link alone must not open a line to a child.
        if a.is_verified_staff and a.classes_as(*TEACHING_CLASS_ROLES) & b_classes:
            return True
        return b.user_id in a.children  # their guardian
    if "student" in a_roles:
        return False  # a student reaches only classmates and teachers (covered from the other side)
    # Both adults.
    if a_roles & STAFF_ROLES and b_roles & STAFF_ROLES:
        return True  # staff among themselves
    if "admin" in a_roles or "admin" in b_roles:
        return True  # the administration is reachable by every adult of the school
    if "parent" in a_roles:
        kids_classes = a.classes_as("parent")
        if b.classes_as(*TEACHING_CLASS_ROLES) & kids_classes:
            return True  # the teachers of their children
        if "parent" in b_roles and b.classes_as("parent") & kids_classes:
            return True  # the parents of their children's classes
    return False


def may_meet(a: Access, b: Access) -> bool:
    if a.user_id == b.user_id:
        return True
    if not a.is_member or not b.is_member:
        return False
    return _one_way(a, b) or _one_way(b, a)


def check_call_contacts(me: Access, others: Iterable[Access]) -> None:
    """PermissionDenied CONTACT_NOT_ALLOWED when `me` may not be in a call with one of `others`.

    People who are no longer members are skipped: they cannot join the call anyway.
    """
    for other in others:
        if other.user_id == me.user_id or not other.is_member:
            continue
        if not may_meet(me, other):
            raise PermissionDenied(
                "the school's communication policy does not allow this call",
                reason="CONTACT_NOT_ALLOWED",
                metadata={"user_id": other.user_id},
            )


def check_call_group(members: list[Access]) -> None:
    """Every pair of a call's people (host and invitees) must be allowed to meet, and nobody in it
    may be a child still awaiting a guardian's consent."""
    for member in members:
        if member.awaiting_guardian and member.is_member:
            error = awaiting_guardian_error()
            error.metadata["user_id"] = member.user_id
            raise error
    for i, me in enumerate(members):
        check_call_contacts(me, members[i + 1 :])
