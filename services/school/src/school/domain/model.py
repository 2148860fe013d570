"""School, classes, memberships, invites and join requests: state and the rules on it (pure Python)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import IntEnum

from parta_common.errors import FailedPrecondition, InvalidArgument, PermissionDenied, Violations
from parta_common.ids import IdNamespace
from parta_common.safety import DEFAULT_POLICY, SchoolPolicy
from parta_common.validation import check_id as check_id
from parta_common.validation import check_request_id as check_request_id
from parta_common.validation import check_text as check_text
from parta_common.validation import has_control_chars as has_control_chars

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


class JoinState(IntEnum):
    UNSPECIFIED = 0
    PENDING = 1
    APPROVED = 2
    REJECTED = 3


class ProfileState(IntEnum):
    """What school knows of a person's educational profile (kept at identity, projected from its events)."""

    UNKNOWN = 0  # no ProfileCreated seen (none yet, or the event has not arrived)
    PRESENT = 1
    DELETED = 2  # AccountDeleted: final, whatever arrives later


@dataclass(frozen=True)
class ProfileFacts:
    """The profile facts school projects from identity: whether there is one, and whether a guardian
    still has to confirm (a child below the consent age). `version` is identity's aggregate version."""

    state: ProfileState = ProfileState.UNKNOWN
    awaiting_guardian: bool = False
    version: int = 0


STAFF_ROLES = frozenset({SchoolRole.ADMIN, SchoolRole.TEACHER})
STAFF_ROOM_TITLE = "Учительская"

# Limits on free text; protobuf already rejects invalid UTF-8.
MAX_NAME = 200
MAX_SHORT_NAME = 64
MAX_REGION = 120
MAX_ADDRESS = 300
MAX_SUBJECT = 80
MAX_REQUEST_ID = 128
MAX_ID = 64
MIN_GRADE, MAX_GRADE = 0, 11  # 0 is the pre-school class
MAX_LETTER = 4
MAX_INVITE_USES = 10_000
MAX_INVITE_DAYS = 90


def check_academic_year(v: Violations, name: str, value: str, *, required: bool) -> None:
    """ "2026/2027": two consecutive years in a plausible range."""
    if not value:
        if required:
            v.add(name, "must not be empty")
        return
    parts = value.split("/")
    ok = len(parts) == 2 and all(p.isascii() and p.isdigit() and len(p) == 4 for p in parts)
    if ok:
        first, second = int(parts[0]), int(parts[1])
        ok = 2000 <= first <= 2100 and second == first + 1
    if not ok:
        v.add(name, 'must look like "2026/2027"')


def check_minutes(v: Violations, start_name: str, start: int, end_name: str, end: int) -> None:
    if not 0 <= start < 24 * 60:
        v.add(start_name, "must be minutes after midnight (0..1439)")
    if not 0 < end <= 24 * 60:
        v.add(end_name, "must be minutes after midnight (1..1440)")
    if 0 <= start < 24 * 60 and 0 < end <= 24 * 60 and end <= start:
        v.add(end_name, "must be after the start of the workday")


def normalize_letter(letter: str) -> str:
    return letter.strip().upper()


def class_title(grade: int, letter: str) -> str:
    return f"{grade}{letter}"


def check_class_name(v: Violations, grade: int, letter: str) -> None:
    if not MIN_GRADE <= grade <= MAX_GRADE:
        v.add("grade", f"must be between {MIN_GRADE} and {MAX_GRADE}")
    if not letter.strip():
        v.add("letter", "must not be empty")
    elif len(letter) > MAX_LETTER or not all(ch.isalpha() for ch in letter.strip()):
        v.add("letter", f"must be 1..{MAX_LETTER} letters")


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
class School:
    id: str
    name: str
    short_name: str
    region: str
    address: str
    timezone: str
    academic_year: str
    staff_room_class_id: str
    workday_start_minute: int = 8 * 60
    workday_end_minute: int = 18 * 60
    admin_ids: tuple[str, ...] = ()
    verified_ids: tuple[str, ...] = ()
    # The first admin before they sign in: a keyed hash of their phone, cleared once claimed.
    pending_admin_phone_hash: str = ""
    admin_claimed_by: str = ""
    version: int = 0
    created_at: datetime | None = None
    # Set when the last admin's account was deleted (the person's right; the school cannot refuse it):
    # nobody administers the school until an operator appoints a successor. Cleared by that appointment.
    admin_vacant_since: datetime | None = None
    # The last academic-year rollover (domain/years.py), recorded in this document before any class
    # moves, so a retry after a crash resumes the same plan: the year left, the classes it moves up and
    # graduates, and whether classes may still be pending (cleared with AcademicYearStarted).
    rollover_from_year: str = ""
    rollover_promoted: tuple[str, ...] = ()
    rollover_graduated: tuple[str, ...] = ()
    rollover_pending: bool = False
    # The school's tighten-only communication switches (SetSchoolPolicy; the rule book applies them).
    policy: SchoolPolicy = DEFAULT_POLICY

    @property
    def admin_vacant(self) -> bool:
        return self.admin_vacant_since is not None


@dataclass(frozen=True)
class SchoolClass:
    id: str
    school_id: str
    grade: int
    letter: str
    title: str
    academic_year: str
    is_staff_room: bool = False
    archived: bool = False
    version: int = 0

    def unique_key(self) -> str | None:
        """Grade + letter are unique per school and academic year among live classes."""
        if self.is_staff_room or self.archived:
            return None
        return f"{self.school_id}|{self.academic_year}|{self.grade}|{self.letter}"


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


def forget_verification(school: School, user_id: str) -> School:
    """Verification belongs to a person's time on the staff: once they leave the school it ends, so a
    teacher re-joining by a plain link is unverified until an admin verifies them again."""
    if user_id not in school.verified_ids:
        return school
    return replace(school, verified_ids=tuple(v for v in school.verified_ids if v != user_id))


# --- admins ------------------------------------------------------------------------------------


def check_can_remove_admin(admin_ids: tuple[str, ...], user_id: str) -> None:
    if user_id not in admin_ids:
        raise FailedPrecondition("the user is not an admin of this school", reason="NOT_AN_ADMIN")
    if len(admin_ids) <= 1:
        raise FailedPrecondition(
            "a school must keep at least one admin: appoint another admin before stepping down", reason="LAST_ADMIN"
        )


def vacate_admin(school: School, user_id: str, now: datetime) -> School:
    """A deleted account leaves the admins whatever their count: the person is gone and the last-admin rule
    cannot hold them. When they were the last, the seat is recorded vacant (since the first vacancy: a
    replay or a second deletion does not move the date). Unchanged when the person was no admin."""
    if user_id not in school.admin_ids:
        return school
    remaining = tuple(a for a in school.admin_ids if a != user_id)
    vacant_since = school.admin_vacant_since or (None if remaining else now)
    return replace(school, admin_ids=remaining, admin_vacant_since=vacant_since)


def check_operator_may_fill(school: School) -> None:
    """Operators step into a school only when nobody inside can act: while it has an admin, admins appoint.
    A school whose first admin never signed in counts as without admin too (a mistyped phone is fixed so)."""
    if school.admin_ids:
        raise FailedPrecondition("the school has an admin; its admins appoint new ones", reason="ADMIN_SEAT_OCCUPIED")


def fill_admin_seat(school: School, user_id: str) -> School:
    """`user_id` becomes admin (and verified staff); a vacancy and any pending phone nomination end."""
    return replace(
        school,
        admin_ids=school.admin_ids if user_id in school.admin_ids else (*school.admin_ids, user_id),
        verified_ids=school.verified_ids if user_id in school.verified_ids else (*school.verified_ids, user_id),
        admin_vacant_since=None,
        pending_admin_phone_hash="",
    )


def nominate_admin_phone(school: School, phone_hash: str) -> School:
    """An operator names the successor by phone (there may be no staff left to pick from): whoever signs
    in with it claims the seat, exactly like the first admin of a newly registered school."""
    check_operator_may_fill(school)
    return replace(school, pending_admin_phone_hash=phone_hash, admin_claimed_by="")


# --- invites -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invite:
    id: str
    school_id: str
    class_id: str
    role: SchoolRole
    child_user_id: str
    expires_at: datetime
    max_uses: int
    uses: int
    requires_approval: bool
    revoked: bool
    created_by: str
    created_at: datetime
    accepted_by: tuple[str, ...] = ()
    version: int = 0

    def check_usable(self, now: datetime, user_id: str) -> None:
        """Distinct reasons: a client tells "ask for a new link" from "link was withdrawn"."""
        if self.revoked:
            raise FailedPrecondition("this invite was revoked", reason="INVITE_REVOKED")
        if now >= self.expires_at:
            raise FailedPrecondition("this invite has expired", reason="INVITE_EXPIRED")
        if user_id in self.accepted_by:
            return  # a retry by someone already counted does not need a free use
        if self.uses >= self.max_uses:
            raise FailedPrecondition("this invite has been used up", reason="INVITE_EXHAUSTED")

    def accept(self, now: datetime, user_id: str) -> Invite:
        self.check_usable(now, user_id)
        if user_id in self.accepted_by:
            return self
        return replace(self, uses=self.uses + 1, accepted_by=(*self.accepted_by, user_id))


def check_invite_shape(
    v: Violations, role: SchoolRole, class_id: str, child_user_id: str, max_uses: int, ttl_seconds: int
) -> None:
    if role == SchoolRole.UNSPECIFIED or role not in SchoolRole.__members__.values():
        v.add("role", "must be teacher, student or parent")
    elif role == SchoolRole.ADMIN:
        v.add("role", "admins are appointed, not invited")
    if role in (SchoolRole.STUDENT, SchoolRole.PARENT) and not class_id:
        v.add("class_id", "student and parent invites are for a class")
    if role == SchoolRole.PARENT and not child_user_id:
        v.add("child_user_id", "a parent invite is bound to a child")
    if role != SchoolRole.PARENT and child_user_id:
        v.add("child_user_id", "only parent invites are bound to a child")
    if not 1 <= max_uses <= MAX_INVITE_USES:
        v.add("max_uses", f"must be between 1 and {MAX_INVITE_USES}")
    if not 60 <= ttl_seconds <= MAX_INVITE_DAYS * 86400:
        v.add("ttl_seconds", f"must be between 60 seconds and {MAX_INVITE_DAYS} days")


# --- join requests -----------------------------------------------------------------------------


@dataclass(frozen=True)
class JoinRequest:
    id: str
    school_id: str
    class_id: str
    user_id: str
    role: SchoolRole
    child_user_id: str
    invite_id: str
    state: JoinState
    created_at: datetime
    decided_by: str = ""
    decided_at: datetime | None = None
    version: int = 0

    def decide(self, approve: bool, by: str, now: datetime) -> JoinRequest:
        """PENDING → APPROVED | REJECTED, once. Repeating the same decision is a no-op (retries)."""
        target = JoinState.APPROVED if approve else JoinState.REJECTED
        if self.state == target:
            return self
        if self.state != JoinState.PENDING:
            raise FailedPrecondition("this join request was already decided", reason="JOIN_REQUEST_DECIDED")
        if by == self.user_id:
            raise PermissionDenied("nobody decides on their own join request", reason="OWN_JOIN_REQUEST")
        return replace(self, state=target, decided_by=by, decided_at=now)

    @property
    def class_role(self) -> ClassRole:
        if self.role == SchoolRole.STUDENT:
            return ClassRole.STUDENT
        if self.role == SchoolRole.PARENT:
            return ClassRole.PARENT
        return ClassRole.SUBJECT_TEACHER if self.class_id else ClassRole.STAFF


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


def invalid(name: str, description: str) -> InvalidArgument:
    return InvalidArgument.field(name, description)


# School's derived ids (parta_common.ids.IdNamespace): from a client's request id (idempotent
# creates) or from a parent id.
derived_id = IdNamespace(uuid.UUID("2b7c8a4e-5f0e-4c1e-9d8f-1c0a7a6b5e21")).derive
