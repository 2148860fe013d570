"""Announcements that ask every family to confirm: who the families are, who may confirm for which,
who may post and read the status, and the once-a-day reminder clock.

Decisions (docs/chat.md "Announcements"):
- A family is one child: the guardians of a child are one family; a parent of two children in the
  class is two families (each child's confirmation is counted and reminded on its own; one confirm
  call by that parent confirms both).
- The families asked are fixed when the announcement is posted (the class's children; the
  school's, in the school channel): "24 of 27" does not move when people join or leave later. A
  guardian who got their seat after posting still confirms for their child's family.
- Students confirm for themselves only when the announcement says so (off by default in the
  parents' chat and school channel); in a class chat it is always on (guardians are not members).
- After the deadline confirming is refused (ANNOUNCEMENT_CLOSED); the status stays readable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from parta_common.errors import FailedPrecondition, PermissionDenied
from parta_common.safety import Person

from chat.domain.chats import Chat, ChatKind
from chat.domain.members import Grant, Member
from chat.domain.provisioning import ClassRole, Membership

ANNOUNCEMENT_CHATS = frozenset({ChatKind.SCHOOL_CHANNEL, ChatKind.CLASS, ChatKind.CLASS_PARENTS})
MAX_FAMILIES = 5000


@dataclass(frozen=True)
class Family:
    """One child and the guardians the school knows for them (when the announcement was posted)."""

    child_user_id: str
    guardian_user_ids: tuple[str, ...] = ()
    # The child has a student seat in the class (a student who may confirm, where allowed).
    student: bool = False


@dataclass
class Announcement:
    announcement_id: str  # the announcement message's id
    chat_id: str
    seq: int
    school_id: str
    author_user_id: str
    text: str
    posted_at: datetime
    family_count: int
    deadline: datetime | None = None
    students_confirm: bool = False
    confirmed_count: int = 0  # the live counter (statuses count the confirmations themselves)
    # The families asked, as posted (stored one row per family; reads load only those they need).
    families: list[Family] = field(default_factory=list)

    def closed(self, now: datetime) -> bool:
        return self.deadline is not None and now >= self.deadline


@dataclass(frozen=True)
class Confirmation:
    """One family's confirmation: stored once per (announcement, child) — the unique key."""

    announcement_id: str
    child_user_id: str
    confirmed_by: str
    at: datetime


@dataclass(frozen=True)
class Reminder:
    announcement_id: str
    child_user_id: str
    day: str  # the school's calendar day (YYYY-MM-DD): one reminder per family per day
    at: datetime
    by: str
    to: tuple[str, ...] = field(default_factory=tuple)


def families_of(memberships: Iterable[Membership], class_id: str) -> list[Family]:
    """The families of one class ("" = of every class of the school), from school's seats: a
    student seat is its own child's family, a parent seat joins the family of its child."""
    guardians: dict[str, list[str]] = {}
    students: set[str] = set()
    for m in memberships:
        if not m.active or not m.class_id or (class_id and m.class_id != class_id):
            continue
        if m.class_role is ClassRole.STUDENT:
            students.add(m.user_id)
            guardians.setdefault(m.user_id, [])
        elif m.class_role is ClassRole.PARENT:
            # A parent seat names its child; one without (never seen) is a family of its own.
            child = m.child_user_id or m.user_id
            found = guardians.setdefault(child, [])
            if m.user_id not in found:
                found.append(m.user_id)
    return [Family(child, tuple(sorted(guardians[child])), child in students) for child in sorted(guardians)]


def ensure_announcement_chat(chat: Chat) -> None:
    if chat.kind not in ANNOUNCEMENT_CHATS:
        raise FailedPrecondition(
            "announcements go to the school channel, a class chat or a parents' chat", reason="NOT_ANNOUNCEMENT_CHAT"
        )


def ensure_may_post(chat: Chat, member: Member, person: Person) -> None:
    """Admins anywhere they post; a class's teachers in its class and parents' chats."""
    if person.is_admin:
        return
    if person.is_staff and member.grants & {Grant.CLASS_HEAD, Grant.TEACHER}:
        return
    raise PermissionDenied("only the class's teachers and admins post announcements", reason="NOT_ANNOUNCER")


def students_confirm(chat: Chat, asked: bool) -> bool:
    """In a class chat students always confirm: guardians are not its members."""
    return asked or chat.kind is ChatKind.CLASS


def ensure_may_watch(announcement: Announcement, member: Member) -> None:
    """Status and reminders: the author and the chat's moderators (class head, school admins)."""
    if member.user_id != announcement.author_user_id and not member.is_moderator:
        raise PermissionDenied(
            "only the author and the chat's moderators see who confirmed", reason="NOT_ANNOUNCEMENT_WATCHER"
        )


def asked_for(person: Person) -> list[str]:
    """The families a person might confirm for: their children's, and their own (a student)."""
    return sorted(person.children | {person.user_id})


def confirmable(announcement: Announcement, person: Person, found: list[Family]) -> list[Family]:
    """Of the families `asked_for` found in the announcement, those this person confirms for: a
    guardian their children's; a student their own where the announcement lets students confirm."""
    mine = [f for f in found if f.child_user_id in person.children]
    own = [f for f in found if f.child_user_id == person.user_id and person.is_student and f not in mine]
    if announcement.students_confirm:
        mine += own
    if mine:
        return mine
    if own:
        raise PermissionDenied("guardians confirm this announcement", reason="STUDENTS_DO_NOT_CONFIRM")
    raise PermissionDenied("no family of yours is asked to confirm this announcement", reason="NOT_IN_AUDIENCE")


def ensure_open(announcement: Announcement, now: datetime) -> None:
    if announcement.closed(now):
        raise FailedPrecondition("the announcement's deadline has passed", reason="ANNOUNCEMENT_CLOSED")


def confirmers(announcement: Announcement, family: Family) -> list[str]:
    """Whom a reminder to the family reaches: its guardians, and the student where students confirm."""
    people = list(family.guardian_user_ids)
    if announcement.students_confirm and family.student and family.child_user_id not in people:
        people.append(family.child_user_id)
    return people


def school_day(now: datetime, timezone: str) -> tuple[str, float]:
    """The school's calendar day of `now` and the seconds until the next one begins."""
    try:
        tz = ZoneInfo(timezone)
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    local = now.astimezone(tz)
    next_day = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)
    return local.date().isoformat(), max(1.0, (next_day - local).total_seconds())
