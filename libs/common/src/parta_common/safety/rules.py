"""The rules themselves: a school-scoped view of a person and who may reach whom (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import combinations

from parta_common.errors import DomainError, FailedPrecondition, PermissionDenied

# The machine reasons of the shared safety contract (docs/safety.md).
PROFILE_MISSING = "PROFILE_MISSING"
AWAITING_GUARDIAN = "AWAITING_GUARDIAN"
STAFF_NOT_VERIFIED = "STAFF_NOT_VERIFIED"
CONTACT_NOT_ALLOWED = "CONTACT_NOT_ALLOWED"
CHAT_READ_ONLY = "CHAT_READ_ONLY"
NOT_A_SCHOOL_MEMBER = "NOT_A_SCHOOL_MEMBER"
NOT_STAFF = "NOT_STAFF"


class Role(StrEnum):
    """A school-level role (school's SchoolRole)."""

    ADMIN = "admin"
    TEACHER = "teacher"
    STUDENT = "student"
    PARENT = "parent"


class Seat(StrEnum):
    """A class-level role (school's ClassRole)."""

    CLASS_HEAD = "class_head"
    SUBJECT_TEACHER = "subject_teacher"
    STUDENT = "student"
    PARENT = "parent"
    STAFF = "staff"


class Contact(StrEnum):
    """The ways one person reaches another."""

    DM = "dm"  # a direct message
    CALL = "call"  # a call (not a lesson or broadcast: those follow class seats)
    GROUP = "group"  # sharing a group chat (or any chat people are put into by hand)


@dataclass(frozen=True)
class Fact:
    """One active membership row of a service's projection, in the rule book's terms."""

    role: Role
    class_id: str = ""
    seat: Seat | None = None
    child_user_id: str = ""
    verified: bool = False


@dataclass(frozen=True)
class Person:
    """Everything the rules need to know about one user in one school.

    Built with `Person.of` from a service's own projection. A person holding STUDENT has no staff
    powers in that school even when a staff seat exists (a student who followed a teacher link):
    `roles` and `teaches` are the *effective* ones.
    """

    user_id: str
    school_id: str
    roles: frozenset[Role] = frozenset()
    student_in: frozenset[str] = frozenset()  # classes seated as a student
    teaches: frozenset[str] = frozenset()  # classes taught (class head or subject teacher)
    heads: frozenset[str] = frozenset()  # classes headed
    parent_in: frozenset[str] = frozenset()  # classes of their children
    children: frozenset[str] = frozenset()
    verified: bool = False  # verified staff (admins always count as verified)
    has_profile: bool = False
    awaiting_guardian: bool = False

    @classmethod
    def of(
        cls,
        user_id: str,
        school_id: str,
        facts: Iterable[Fact],
        *,
        has_profile: bool,
        awaiting_guardian: bool = False,
    ) -> Person:
        rows = list(facts)
        roles = {f.role for f in rows}
        is_student = Role.STUDENT in roles

        def classes(*seats: Seat) -> frozenset[str]:
            return frozenset(f.class_id for f in rows if f.class_id and f.seat in seats)

        if is_student:
            roles -= {Role.ADMIN, Role.TEACHER}
        admin = Role.ADMIN in roles
        verified = admin or any(f.verified and f.role in (Role.ADMIN, Role.TEACHER) for f in rows)
        no_teaching = frozenset[str]()
        return cls(
            user_id=user_id,
            school_id=school_id,
            roles=frozenset(roles),
            student_in=classes(Seat.STUDENT),
            teaches=no_teaching if is_student else classes(Seat.CLASS_HEAD, Seat.SUBJECT_TEACHER),
            heads=no_teaching if is_student else classes(Seat.CLASS_HEAD),
            parent_in=classes(Seat.PARENT),
            children=frozenset(f.child_user_id for f in rows if f.role is Role.PARENT and f.child_user_id),
            verified=verified and not is_student,
            has_profile=has_profile,
            awaiting_guardian=awaiting_guardian,
        )

    @property
    def active(self) -> bool:
        """A member of the school now (a person who left has no roles)."""
        return bool(self.roles)

    @property
    def is_student(self) -> bool:
        return Role.STUDENT in self.roles

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & {Role.ADMIN, Role.TEACHER})


@dataclass(frozen=True)
class SchoolPolicy:
    """Per-school settings. Every switch defaults to DESIGN.md's rule and can only take rights
    away (False tightens), so no setting can open a line the defaults keep closed. Admins set them
    (school owns storing them); services that do not have them yet use the defaults."""

    students_reach_classmates: bool = True  # students DM, call and group with classmates
    parents_reach_parents: bool = True  # parents of the same class reach each other
    calls_with_students: bool = True  # False: adults meet students only in lessons, not calls
    # Not a contact rule (issue 17, chat's erasure): True keeps an erased account's messages as
    # empty "deleted account" placeholders, False removes them. Tighten-only like the others.
    erased_message_placeholders: bool = True

    @classmethod
    def from_settings(cls, settings: dict[str, bool]) -> SchoolPolicy:
        """Unknown keys are ignored; a True can never loosen a default (defaults are all True)."""
        known = {k: bool(v) for k, v in settings.items() if k in cls.__dataclass_fields__}
        return replace(cls(), **known)


DEFAULT_POLICY = SchoolPolicy()


# ---- pairwise ----------------------------------------------------------------------------------


def _one_way(a: Person, b: Person, how: Contact, policy: SchoolPolicy) -> bool:
    """May A reach B? (may_contact applies it both ways.)"""
    if b.is_student:
        if a.is_student:
            return policy.students_reach_classmates and bool(a.student_in & b.student_in)  # classmates
        if how is Contact.CALL and not policy.calls_with_students and b.user_id not in a.children:
            return False
        if a.verified and a.teaches & b.student_in:
            return True  # their teacher — once an admin verified them
        return b.user_id in a.children  # their guardian
    if a.is_student:
        return False  # a student reaches only classmates, teachers, guardians (from the other side)
    if a.is_staff and b.is_staff:
        return True  # staff among themselves
    if a.is_admin or b.is_admin:
        return True  # the administration is reachable by every adult of the school
    if Role.PARENT in a.roles:
        if b.teaches & a.parent_in:
            return True  # the teachers of their children
        if policy.parents_reach_parents and Role.PARENT in b.roles and b.parent_in & a.parent_in:
            return True  # the parents of their children's classes
    return False


def may_contact(a: Person, b: Person, how: Contact, policy: SchoolPolicy = DEFAULT_POLICY) -> bool:
    """The pairwise rule, symmetric: allowed when either side may reach the other. Both must be
    members of the same school now; nobody "contacts" themselves."""
    if a.user_id == b.user_id or a.school_id != b.school_id or not a.active or not b.active:
        return False
    return _one_way(a, b, how, policy) or _one_way(b, a, how, policy)


def _as_verified(p: Person) -> Person:
    return replace(p, verified=True) if p.is_staff else p


def contact_refusal(a: Person, b: Person, how: Contact, policy: SchoolPolicy = DEFAULT_POLICY) -> DomainError | None:
    """Why A may not start reaching B (a new DM, a call, putting them in one group), or None."""
    refusal = participation_refusal(a)
    if refusal is not None:
        return refusal
    if how is Contact.CALL and b.awaiting_guardian and b.active:
        return _awaiting(b.user_id)
    if may_contact(a, b, how, policy):
        return None
    if not a.verified and a.is_staff and may_contact(_as_verified(a), b, how, policy):
        return PermissionDenied(
            "an admin has to verify you before you reach students",
            reason=STAFF_NOT_VERIFIED,
            metadata={"user_id": b.user_id},
        )
    return PermissionDenied(
        "the school's communication policy does not allow this contact",
        reason=CONTACT_NOT_ALLOWED,
        metadata={"user_id": b.user_id},
    )


def check_contact(a: Person, b: Person, how: Contact, policy: SchoolPolicy = DEFAULT_POLICY) -> None:
    refusal = contact_refusal(a, b, how, policy)
    if refusal is not None:
        raise refusal


def check_together(
    actor: Person, people: Sequence[Person], how: Contact, policy: SchoolPolicy = DEFAULT_POLICY
) -> None:
    """`actor` puts `people` (and themselves) into one group chat or call: every pair must be
    allowed. The actor's own pairs are checked first, so an unverified teacher hears
    STAFF_NOT_VERIFIED; any other pair refuses with CONTACT_NOT_ALLOWED naming both users."""
    check_can_participate(actor)
    for other in people:
        if other.user_id != actor.user_id:
            check_contact(actor, other, how, policy)
    for x, y in combinations([p for p in people if p.user_id != actor.user_id], 2):
        if how is Contact.CALL:
            for p in (x, y):
                if p.awaiting_guardian and p.active:
                    raise _awaiting(p.user_id)
        if not may_contact(x, y, how, policy):
            raise PermissionDenied(
                "the school's communication policy does not allow these people together",
                reason=CONTACT_NOT_ALLOWED,
                metadata={"user_id": x.user_id, "other_user_id": y.user_id},
            )


def conflicts(people: Sequence[Person], policy: SchoolPolicy = DEFAULT_POLICY) -> set[str]:
    """The members of an existing group who are in a pair the rules no longer allow (after a
    seat, verification or class changed). Those who left are not counted: they are out of it."""
    present = [p for p in people if p.active]
    found: set[str] = set()
    for x, y in combinations(present, 2):
        if not may_contact(x, y, Contact.GROUP, policy):
            found |= {x.user_id, y.user_id}
    return found


# ---- what one person may do --------------------------------------------------------------------


def _awaiting(user_id: str) -> PermissionDenied:
    return PermissionDenied(
        "a guardian has to confirm this account first", reason=AWAITING_GUARDIAN, metadata={"user_id": user_id}
    )


def identity_refusal(user_id: str, *, has_profile: bool, awaiting_guardian: bool) -> DomainError | None:
    """The identity half of taking part: a profile, and no guardian consent outstanding. Services
    whose hot path knows only the person's profile (not their seats) check this part alone."""
    if not has_profile:
        return FailedPrecondition("create your educational profile first", reason=PROFILE_MISSING)
    if awaiting_guardian:
        return _awaiting(user_id)
    return None


def participation_refusal(p: Person) -> DomainError | None:
    """Why `p` may not take part (write, reach anyone, join a call) in the school, or None."""
    if not p.active:
        return PermissionDenied("not a member of this school", reason=NOT_A_SCHOOL_MEMBER)
    return identity_refusal(p.user_id, has_profile=p.has_profile, awaiting_guardian=p.awaiting_guardian)


def check_can_participate(p: Person) -> None:
    refusal = participation_refusal(p)
    if refusal is not None:
        raise refusal


def check_can_create_group(p: Person) -> None:
    """Groups are made by staff (a student holding a teacher seat is not staff)."""
    check_can_participate(p)
    if not p.is_staff:
        raise PermissionDenied("teachers and admins create group chats", reason=NOT_STAFF)


def may_post_in_staff_channel(p: Person) -> bool:
    """The seat half of check_staff_channel_post (what a projection can record ahead of time)."""
    return p.is_staff and p.verified


def staff_not_verified() -> PermissionDenied:
    return PermissionDenied("an admin has to verify you before you post here", reason=STAFF_NOT_VERIFIED)


def check_staff_channel_post(p: Person) -> None:
    """The staff channel is where staff speak as the school; an invite link alone is not enough."""
    check_can_participate(p)
    if not p.is_staff:
        raise PermissionDenied("the staff channel is for staff", reason=NOT_STAFF)
    if not p.verified:
        raise staff_not_verified()


def check_direct_write(me: Person, peer: Person, policy: SchoolPolicy = DEFAULT_POLICY) -> None:
    """Writing in an existing direct chat: the writer must still take part; a peer who left the
    school makes the chat read-only; a pair the rules no longer allow is refused."""
    check_can_participate(me)
    if not peer.active:
        raise FailedPrecondition("the other person left the school; this chat is read-only", reason=CHAT_READ_ONLY)
    check_contact(me, peer, Contact.DM, policy)


def group_conflict(user_ids: Sequence[str]) -> PermissionDenied:
    """The refusal for writing in a group whose members include a pair no longer allowed."""
    return PermissionDenied(
        "this group holds people the school's policy no longer allows together; a moderator has to remove them",
        reason=CONTACT_NOT_ALLOWED,
        metadata={"user_ids": ",".join(sorted(user_ids))},
    )


def check_archived(archived: bool) -> None:
    """An archived class keeps its history readable and takes no new writes."""
    if archived:
        raise FailedPrecondition("this chat is read-only (the class is archived)", reason=CHAT_READ_ONLY)
