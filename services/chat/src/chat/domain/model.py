"""Chat's model: chat kinds, messages, members and the school facts chat keeps from school's events."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum

from parta_common.safety import DEFAULT_POLICY, Fact, Person, Role, SchoolPolicy, Seat

from chat.domain.system_notes import SystemNote


class ChatKind(IntEnum):
    # Values match parta.chat.v1.ChatKind so mappers stay trivial.
    SCHOOL_CHANNEL = 1
    STAFF_CHANNEL = 2
    CLASS = 3
    CLASS_PARENTS = 4
    GROUP = 5
    DIRECT = 6


class PostingPolicy(IntEnum):
    EVERYONE = 1
    ADMINS_ONLY = 2


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


class Grant(StrEnum):
    """Why someone is a member of a chat; a member may hold several grants."""

    ADMIN = "admin"
    STAFF = "staff"
    # A teacher an admin has not verified yet: reads the staff channel, does not post there.
    STAFF_UNVERIFIED = "staff_unverified"
    MEMBER = "member"
    CLASS_HEAD = "class_head"
    TEACHER = "teacher"
    STUDENT = "student"
    PARENT = "parent"
    CREATOR = "creator"
    ADDED = "added"


# Grants that make a member a moderator of the chat (delete any message, mute, settings).
MODERATOR_GRANTS = frozenset({Grant.ADMIN, Grant.CLASS_HEAD, Grant.CREATOR})


def school_channel_id(school_id: str) -> str:
    return f"sch-{school_id}"


def staff_channel_id(school_id: str) -> str:
    return f"stf-{school_id}"


def class_chat_id(class_id: str) -> str:
    return f"cls-{class_id}"


def parents_chat_id(class_id: str) -> str:
    return f"par-{class_id}"


def direct_chat_id(school_id: str, a: str, b: str) -> str:
    low, high = sorted((a, b))
    digest = hashlib.sha256(f"{school_id}\x1f{low}\x1f{high}".encode()).hexdigest()[:32]
    return f"dm-{digest}"


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


@dataclass
class Chat:
    chat_id: str
    school_id: str
    kind: ChatKind
    title: str
    class_id: str = ""
    subject: str = ""
    posting_policy: PostingPolicy = PostingPolicy.EVERYONE
    slow_mode_seconds: int = 0
    read_only: bool = False
    pinned_seqs: list[int] = field(default_factory=list)
    member_count: int = 0
    update_seq: int = 0
    # Groups: who made it. Direct chats have no creator (see `members`).
    created_by: str = ""
    # Provisioned chats: the school/class aggregate version they follow.
    version: int = 0
    # Groups only: members in a pair the rule book no longer allows (a seat or verification
    # changed since they were put together). Non-empty = nobody writes until a moderator fixes it.
    contact_conflicts: tuple[str, ...] = ()
    # Direct chats only: the two people, sorted.
    members: tuple[str, ...] = ()

    def peer_of(self, user_id: str) -> str:
        """A direct chat's other person ("" in other chats)."""
        return next((u for u in self.members if u != user_id), "")

    @property
    def settings(self) -> tuple[object, ...]:
        """What a ChatUpdated event reports a change of (member_count is a counter, not a setting)."""
        return (
            self.title,
            self.class_id,
            self.subject,
            self.posting_policy,
            self.slow_mode_seconds,
            self.read_only,
            tuple(self.pinned_seqs),
            self.contact_conflicts,
        )


@dataclass
class Member:
    chat_id: str
    user_id: str
    grants: set[Grant] = field(default_factory=set)
    last_read_seq: int = 0
    muted_until: datetime | None = None
    last_sent_at: datetime | None = None
    # Each reason for membership by its key (a membership id, "direct", "added", "creator"):
    # `grants` is their set of values. `rev` counts changes of the keys (compare-and-set).
    keyed: dict[str, Grant] = field(default_factory=dict)
    rev: int = 0
    school_id: str = ""

    @property
    def active(self) -> bool:
        return bool(self.grants)

    @property
    def is_moderator(self) -> bool:
        return bool(self.grants & MODERATOR_GRANTS)


@dataclass
class Reaction:
    emoji: str
    user_ids: list[str]


@dataclass
class Message:
    chat_id: str
    message_id: str
    seq: int
    update_seq: int
    school_id: str
    sender_user_id: str
    text: str
    sent_at: datetime
    client_message_id: str = ""
    reply_to_seq: int = 0
    file_ids: list[str] = field(default_factory=list)
    edited_at: datetime | None = None
    deleted: bool = False
    system: bool = False
    urgent: bool = False
    held_until: datetime | None = None
    held_for: list[str] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    system_note: SystemNote | None = None  # what a system message says (system_notes.py)

    def held_from(self, user_id: str, now: datetime) -> bool:
        return held_from(self.held_until, self.held_for, user_id, now)


def held_from(held_until: datetime | None, held_for: Sequence[str], user_id: str, now: datetime) -> bool:
    """Quiet hours: a message held for `user_id` until `held_until` is not theirs to see yet."""
    return held_until is not None and now < held_until and user_id in held_for


@dataclass(frozen=True)
class Report:
    """A member's report of a message to the school's moderators (one per reporter and message)."""

    report_id: str
    chat_id: str
    seq: int
    reporter: str
    reason: str
    at: datetime


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


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    owner_user_id: str
    filename: str
    content_type: str
    size_bytes: int
    sha256_hex: str
    uploaded_at: datetime
    chat_ids: tuple[str, ...] = ()


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
