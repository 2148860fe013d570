"""Domain events of school, past tense; adapters turn them into parta.school.v1 envelopes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from school.domain.classes import SchoolClass
from school.domain.invites import Invite
from school.domain.join_requests import JoinRequest
from school.domain.memberships import Membership
from school.domain.schools import School
from school.domain.timetables import DateRange, Timetable


@dataclass(frozen=True)
class SchoolCreated:
    school: School


@dataclass(frozen=True)
class SchoolUpdated:
    school: School
    actor: str = ""  # who changed it; empty when no person did (a rollover)


@dataclass(frozen=True)
class AdminSeatVacated:
    """The last admin's account was deleted: the school has no admin until an operator appoints one."""

    school: School
    reason: str  # "account_deleted"


@dataclass(frozen=True)
class AdminSeatFilled:
    """A school without admins got one again (by an operator's appointment or a claimed nomination)."""

    school: School
    admin_user_id: str
    appointed_by: str  # the operator; empty when the nominated phone's owner claimed the seat


@dataclass(frozen=True)
class ClassCreated:
    school_class: SchoolClass


@dataclass(frozen=True)
class ClassUpdated:
    school_class: SchoolClass


@dataclass(frozen=True)
class ClassArchived:
    school_class: SchoolClass
    reason: str = ""  # "graduated" when a new academic year archives a top-grade class; else empty


@dataclass(frozen=True)
class AcademicYearStarted:
    """A rollover finished: every class it planned has moved up or graduated."""

    school: School
    previous_academic_year: str
    promoted_class_ids: tuple[str, ...]
    graduated_class_ids: tuple[str, ...]


@dataclass(frozen=True)
class MemberJoined:
    membership: Membership


@dataclass(frozen=True)
class MemberRoleChanged:
    membership: Membership
    actor: str = ""  # who changed the seat; empty when no person did directly


@dataclass(frozen=True)
class MemberLeft:
    membership: Membership
    reason: str  # "left", "removed", "account_deleted", "class_archived"
    actor: str = ""  # who ended it; empty when no person did (class archived)


@dataclass(frozen=True)
class StaffVerified:
    school_id: str
    user_id: str
    verified_by: str


@dataclass(frozen=True)
class JoinRequested:
    request: JoinRequest


@dataclass(frozen=True)
class JoinRequestDecided:
    request: JoinRequest


@dataclass(frozen=True)
class InviteCreated:
    invite: Invite


@dataclass(frozen=True)
class InviteRevoked:
    invite: Invite
    actor: str = ""


@dataclass(frozen=True)
class InviteAccepted:
    """A person used an invite (counted once per person and invite)."""

    invite: Invite
    user_id: str
    at: datetime


@dataclass(frozen=True)
class TimetableChanged:
    """A class's week, term or cancellations changed, or the school's holidays did: the full snapshot
    with the school's timezone and holidays, so a consumer expands lessons from this event alone."""

    timetable: Timetable
    timezone: str
    holidays: tuple[DateRange, ...]
    class_title: str


DomainEvent = (
    SchoolCreated
    | SchoolUpdated
    | AdminSeatVacated
    | AdminSeatFilled
    | ClassCreated
    | ClassUpdated
    | ClassArchived
    | AcademicYearStarted
    | MemberJoined
    | MemberRoleChanged
    | MemberLeft
    | StaffVerified
    | JoinRequested
    | JoinRequestDecided
    | InviteCreated
    | InviteRevoked
    | TimetableChanged
    | InviteAccepted
)
