"""Rooms: kinds, lifecycle, who may create and join them with which grants, and attendance."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property

from parta_common.errors import FailedPrecondition, NotFound, PermissionDenied, Violations
from parta_common.safety import Fact, Person, Role, Seat, check_can_participate


class RoomKind(StrEnum):
    CALL = "call"
    LESSON = "lesson"
    BROADCAST = "broadcast"


class RoomState(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class MediaMode(StrEnum):
    P2P = "p2p"
    SFU = "sfu"


class ScreenShare(StrEnum):
    """Who may share a screen (domain/screen_share.py has the rule)."""

    ANYONE = "anyone"  # anyone who may publish, unless the host stopped them
    HOSTS = "hosts"  # the host and the participants the host allowed


# Peer-to-peer needs a full mesh (n·(n-1) streams); beyond 4 people the SFU is the only sane path.
# A call of more people is a group call through the SFU (domain/group_calls.py).
MAX_P2P_PARTICIPANTS = 4
MAX_GROUP_CALL = 100
DEFAULT_MAX = {RoomKind.CALL: 4, RoomKind.LESSON: 40, RoomKind.BROADCAST: 300}
DEFAULT_GROUP_CALL_MAX = MAX_GROUP_CALL
HARD_MAX = {RoomKind.CALL: MAX_GROUP_CALL, RoomKind.LESSON: 100, RoomKind.BROADCAST: 1000}
DEFAULT_SCREEN_SHARE = {RoomKind.CALL: ScreenShare.ANYONE, RoomKind.LESSON: ScreenShare.HOSTS}
MAX_TITLE = 200
MAX_INVITED = MAX_GROUP_CALL - 1  # a group call of 100: the host and 99 invitees
MAX_PRESENTERS = 10
MAX_SCHEDULE_AHEAD = timedelta(days=366)
MAX_SCHEDULE_BEHIND = timedelta(days=1)
ID_MAX = 64


@dataclass(frozen=True)
class Grants:
    can_publish: bool = False
    can_subscribe: bool = False
    can_publish_data: bool = False
    is_host: bool = False
    # False for a child whose guardian has not confirmed yet: they watch, and no host can put them
    # on stage (identity's contract: "may read, may not write or call").
    stage_allowed: bool = True


HOST_GRANTS = Grants(can_publish=True, can_subscribe=True, can_publish_data=True, is_host=True)
SPEAKER_GRANTS = Grants(can_publish=True, can_subscribe=True, can_publish_data=True)
VIEWER_GRANTS = Grants(can_subscribe=True)


@dataclass(frozen=True)
class Membership:
    """One role of one person, as projected from school events."""

    user_id: str
    school_id: str
    school_role: str  # "admin" | "teacher" | "student" | "parent"
    class_id: str = ""
    class_role: str = ""  # "class_head" | "subject_teacher" | "student" | "parent" | "staff"
    # Parents are members through a child (school's MembershipSnapshot.child_user_id).
    child_user_id: str = ""
    # Staff verification by an admin (teachers and admins), as school publishes it on the seat.
    verified: bool = False


TEACHING_CLASS_ROLES = frozenset({"class_head", "subject_teacher"})


@dataclass(frozen=True)
class Access:
    """Everything the projection knows about one user in one school; the rule book's view of the
    same person is `person` (parta_common.safety decides every "who may" question from it)."""

    user_id: str
    school_id: str
    memberships: tuple[Membership, ...] = ()
    # Projected from identity: a minor below the consent age without a confirming guardian.
    awaiting_guardian: bool = False
    # Projected from identity's ProfileCreated: no school participation without a profile.
    has_profile: bool = False

    @cached_property
    def person(self) -> Person:
        return Person.of(
            self.user_id,
            self.school_id,
            [_fact(m) for m in self.memberships],
            has_profile=self.has_profile,
            awaiting_guardian=self.awaiting_guardian,
        )

    @property
    def is_member(self) -> bool:
        return bool(self.memberships)

    @property
    def is_admin(self) -> bool:
        return self.person.is_admin

    @property
    def is_staff(self) -> bool:
        return self.person.is_staff

    @property
    def is_verified_staff(self) -> bool:
        """Admins count as verified (an admin is appointed by an admin); a teacher needs a staff
        seat that school marked verified; a student holding a staff seat never counts."""
        return self.person.is_staff and self.person.verified

    def teaches(self, class_id: str) -> bool:
        return class_id in self.person.teaches

    def class_roles(self, class_id: str) -> set[str]:
        return {m.class_role for m in self.memberships if m.class_id == class_id}


def _fact(m: Membership) -> Fact:
    try:
        role = Role(m.school_role)
        seat = Seat(m.class_role) if m.class_role else None
    except ValueError:
        role, seat = Role.PARENT, None  # a role this version does not know grants nothing special
    return Fact(role, m.class_id, seat, m.child_user_id, m.verified)


# Presence intervals kept per person and room; a flapping connection beyond this merges into the last
# interval (its total stays exact: total_seconds counts every stream).
MAX_INTERVALS = 100


@dataclass(frozen=True)
class AttendanceEntry:
    first_joined_at: datetime
    last_left_at: datetime | None = None
    total_seconds: float = 0.0
    # Streams the user has open now (a user may join from two devices) and since when.
    open_streams: int = 0
    open_since: datetime | None = None
    # When the user was in the room: (joined, left) per stretch of presence, left None while open.
    # Two devices at once are one stretch; a rejoin after leaving starts a new one.
    intervals: tuple[tuple[datetime, datetime | None], ...] = ()

    def joined(self, at: datetime) -> AttendanceEntry:
        if self.open_streams == 0:
            intervals = self.intervals
            if len(intervals) >= MAX_INTERVALS:
                intervals = (*intervals[:-1], (intervals[-1][0], None))
            else:
                intervals = (*intervals, (at, None))
            return replace(self, open_streams=1, open_since=at, intervals=intervals)
        return replace(self, open_streams=self.open_streams + 1)

    def left(self, at: datetime) -> AttendanceEntry:
        if self.open_streams <= 0:
            return self
        if self.open_streams > 1:
            return replace(self, open_streams=self.open_streams - 1, last_left_at=at)
        spent = max(0.0, (at - self.open_since).total_seconds()) if self.open_since else 0.0
        intervals = self.intervals
        if intervals and intervals[-1][1] is None:
            intervals = (*intervals[:-1], (intervals[-1][0], max(at, intervals[-1][0])))
        return replace(
            self,
            open_streams=0,
            open_since=None,
            last_left_at=at,
            total_seconds=self.total_seconds + spent,
            intervals=intervals,
        )


@dataclass
class Room:
    room_id: str
    school_id: str
    kind: RoomKind
    title: str
    host_user_id: str
    created_at: datetime
    class_id: str = ""
    scheduled_for: datetime | None = None
    state: RoomState = RoomState.SCHEDULED
    max_participants: int = 0
    waiting_room: bool = False
    invited_user_ids: tuple[str, ...] = ()
    presenter_user_ids: tuple[str, ...] = ()
    started_at: datetime | None = None
    ended_at: datetime | None = None
    version: int = 1
    attendance: dict[str, AttendanceEntry] = field(default_factory=dict)
    # The SFU (Janus VideoRoom) room of a lesson or broadcast while one exists, and the SFU it is
    # on. Persisted so a replica other than the owner can destroy it when the owner died.
    sfu_room: int = 0
    sfu_instance: str = ""
    # A call of more than MAX_P2P_PARTICIPANTS people: media through the SFU (decided at create).
    group_call: bool = False
    screen_share: ScreenShare = ScreenShare.ANYONE
    # The host locked the room: no newcomer but the host joins until unlocked (see require_open).
    locked: bool = False

    @property
    def media_mode(self) -> MediaMode:
        return MediaMode.P2P if self.kind is RoomKind.CALL and not self.group_call else MediaMode.SFU

    def require_live(self) -> None:
        if self.state is RoomState.ENDED:
            raise FailedPrecondition("the room has ended", reason="ROOM_ENDED")
        if self.state is not RoomState.LIVE:
            raise FailedPrecondition("the room has not started", reason="ROOM_NOT_STARTED")

    def start(self, at: datetime) -> bool:
        """Returns False when already live (starting is idempotent)."""
        if self.state is RoomState.ENDED:
            raise FailedPrecondition("the room has ended", reason="ROOM_ENDED")
        if self.state is RoomState.LIVE:
            return False
        self.state = RoomState.LIVE
        self.started_at = at
        self.version += 1
        return True

    def end(self, at: datetime) -> bool:
        if self.state is RoomState.ENDED:
            return False
        for user_id, entry in self.attendance.items():
            while entry.open_streams > 0:
                entry = entry.left(at)
            self.attendance[user_id] = entry
        self.state = RoomState.ENDED
        self.ended_at = at
        self.version += 1
        return True

    def require_open(self, user_id: str, *, is_host: bool) -> None:
        """A locked room takes no newcomer but its host; someone who was already in it may come
        back (a dropped connection must not lock a student out of their lesson; a removed person
        stays out by the removal)."""
        if self.locked and not is_host and user_id not in self.attendance:
            raise FailedPrecondition("the host locked the room", reason="ROOM_LOCKED")

    def set_locked(self, locked: bool) -> bool:
        """False when nothing changes (locking a locked room is a no-op)."""
        if self.locked == locked:
            return False
        self.locked = locked
        self.version += 1
        return True

    def record_sfu_room(self, number: int, instance: str) -> None:
        self.sfu_room, self.sfu_instance = number, instance
        self.version += 1

    def forget_sfu_room(self) -> None:
        self.sfu_room, self.sfu_instance = 0, ""
        self.version += 1

    def sfu_room_orphaned(self, *, holder_alive: bool) -> bool:
        """Whether the recorded SFU room has nobody left to destroy it but the caller: the room
        ended, or the replica that created it no longer holds the room (died, or let it go).
        A live holder destroys its own SFU room when it ends or empties the room."""
        return bool(self.sfu_room) and (self.state is RoomState.ENDED or not holder_alive)

    def record_join(self, user_id: str, at: datetime) -> AttendanceEntry:
        entry = self.attendance.get(user_id) or AttendanceEntry(first_joined_at=at)
        self.attendance[user_id] = entry.joined(at)
        return self.attendance[user_id]

    def record_leave(self, user_id: str, at: datetime) -> AttendanceEntry | None:
        entry = self.attendance.get(user_id)
        if entry is None:
            return None
        self.attendance[user_id] = entry.left(at)
        return self.attendance[user_id]


def require_same_school(access: Access) -> None:
    # NOT_FOUND, not PERMISSION_DENIED: outsiders must not learn that a school or room exists.
    if not access.is_member:
        raise NotFound("room not found", reason="ROOM_NOT_FOUND")


def require_host(room: Room, user_id: str) -> None:
    if room.host_user_id != user_id:
        raise PermissionDenied("only the host may do this", reason="NOT_HOST")


def check_can_create(kind: RoomKind, class_id: str, access: Access, known_class: bool) -> None:
    if not access.is_member:
        raise PermissionDenied("not a member of this school", reason="NOT_A_MEMBER")
    check_can_participate(access.person)  # PROFILE_MISSING, AWAITING_GUARDIAN
    if kind is RoomKind.CALL:
        return
    if class_id and not known_class:
        raise NotFound("class not found", reason="CLASS_NOT_FOUND")
    check_can_host(kind, class_id, access)


def check_can_host(kind: RoomKind, class_id: str, access: Access) -> None:
    """Who may schedule, start and host a lesson or a broadcast (calls: anyone, see policy.py).

    Checked at create, at start and when the host takes a join grant, so a teacher who stopped
    teaching the class, or whose verification was withdrawn, no longer runs it.
    """
    if kind is RoomKind.CALL:
        return
    if kind is RoomKind.LESSON and not (access.is_admin or access.teaches(class_id)):
        raise PermissionDenied("only the class's teachers or an admin may hold a lesson", reason="NOT_CLASS_TEACHER")
    if kind is RoomKind.BROADCAST:
        allowed = access.is_admin or (access.teaches(class_id) if class_id else access.is_staff)
        if not allowed:
            raise PermissionDenied("only staff may hold a broadcast", reason="NOT_STAFF")
    if not access.is_verified_staff:
        raise PermissionDenied(
            "an admin has to verify you before you hold lessons or broadcasts", reason="STAFF_NOT_VERIFIED"
        )


def grants_for(room: Room, access: Access) -> Grants:
    """What this user may do in this room; PermissionDenied when they may not join at all.

    Calls additionally need policy.check_call_contacts against the call's other people (the
    caller of this function has their memberships). A child awaiting a guardian's consent is kept
    out of calls and may only watch lessons and broadcasts, whatever their roles allow.
    """
    if access.is_member and not access.has_profile:
        check_can_participate(access.person)  # PROFILE_MISSING: no participation without a profile
    if access.awaiting_guardian and access.is_member:
        if room.kind is RoomKind.CALL:
            raise awaiting_guardian_error()
        grants = _grants_by_role(room, access)
        return Grants(can_subscribe=grants.can_subscribe, stage_allowed=False)
    return _grants_by_role(room, access)


def awaiting_guardian_error() -> PermissionDenied:
    return PermissionDenied("a guardian has to confirm this account first", reason="AWAITING_GUARDIAN")


def _grants_by_role(room: Room, access: Access) -> Grants:
    user_id = access.user_id
    if not access.is_member:
        raise NotFound("room not found", reason="ROOM_NOT_FOUND")
    if user_id == room.host_user_id:
        check_can_host(room.kind, room.class_id, access)
        return HOST_GRANTS
    if room.kind is RoomKind.CALL:
        if user_id in room.invited_user_ids:
            return SPEAKER_GRANTS
        raise PermissionDenied("not invited to this call", reason="NOT_INVITED")
    if room.kind is RoomKind.LESSON:
        roles = access.class_roles(room.class_id)
        if "student" in roles:
            return SPEAKER_GRANTS
        if access.person.is_student:
            raise PermissionDenied("lessons are for the class's students and teachers", reason="NOT_IN_CLASS")
        if roles & TEACHING_CLASS_ROLES:
            if not access.is_verified_staff:
                # A teacher speaks to the class's children only once verified.
                raise PermissionDenied("an admin has to verify you first", reason="STAFF_NOT_VERIFIED")
            return SPEAKER_GRANTS
        if access.is_admin:
            return VIEWER_GRANTS  # an admin may observe a lesson, silently
        raise PermissionDenied("lessons are for the class's students and teachers", reason="NOT_IN_CLASS")
    # Broadcast: presenters on stage, everyone else in the audience.
    if user_id in room.presenter_user_ids:
        return SPEAKER_GRANTS
    if not room.class_id:
        return VIEWER_GRANTS  # a school-wide broadcast: every member may watch
    # A class broadcast (e.g. a parents' meeting) is for that class's parents, teachers and admins.
    roles = access.class_roles(room.class_id)
    if access.is_admin or roles & (TEACHING_CLASS_ROLES | {"parent"}):
        return VIEWER_GRANTS
    if roles:
        raise PermissionDenied("this broadcast is for the class's parents", reason="NOT_IN_AUDIENCE")
    raise PermissionDenied("this broadcast is for another class", reason="NOT_IN_CLASS")


def _text_ok(value: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in value)


def id_ok(value: str) -> bool:
    return 0 < len(value) <= ID_MAX and value.isprintable() and " " not in value


@dataclass(frozen=True)
class NewRoom:
    request_id: str
    school_id: str
    class_id: str
    kind: RoomKind | None
    title: str
    scheduled_for: datetime | None
    max_participants: int
    waiting_room: bool
    invited_user_ids: tuple[str, ...]
    presenter_user_ids: tuple[str, ...]
    start_now: bool
    screen_share: ScreenShare | None = None  # None: the kind's default


def validate_new_room(cmd: NewRoom, now: datetime) -> None:
    v = Violations()
    v.check(id_ok(cmd.request_id), "request_id", "1..64 printable characters without spaces")
    v.check(id_ok(cmd.school_id), "school_id", "required")
    v.check(cmd.kind is not None, "kind", "must be call, lesson or broadcast")
    title = cmd.title.strip()
    v.check(0 < len(title) <= MAX_TITLE, "title", f"1..{MAX_TITLE} characters")
    v.check(_text_ok(cmd.title), "title", "must not contain control characters")
    if cmd.kind is RoomKind.LESSON:
        v.check(id_ok(cmd.class_id), "class_id", "a lesson is bound to a class")
    elif cmd.kind is RoomKind.CALL:
        v.check(not cmd.class_id, "class_id", "calls are not bound to a class")
    elif cmd.class_id:
        v.check(id_ok(cmd.class_id), "class_id", "invalid class id")
    if cmd.kind is not None:
        limit = HARD_MAX[cmd.kind]
        v.check(0 <= cmd.max_participants <= limit, "max_participants", f"0 (default) or up to {limit}")
    if cmd.scheduled_for is not None:
        ok = now - MAX_SCHEDULE_BEHIND <= cmd.scheduled_for <= now + MAX_SCHEDULE_AHEAD
        v.check(ok, "scheduled_for", "must be within a year from now")
    v.check(len(cmd.invited_user_ids) <= MAX_INVITED, "invited_user_ids", f"at most {MAX_INVITED}")
    v.check(all(id_ok(u) for u in cmd.invited_user_ids), "invited_user_ids", "invalid user id")
    v.check(len(cmd.presenter_user_ids) <= MAX_PRESENTERS, "presenter_user_ids", f"at most {MAX_PRESENTERS}")
    v.check(all(id_ok(u) for u in cmd.presenter_user_ids), "presenter_user_ids", "invalid user id")
    if cmd.kind is not RoomKind.CALL:
        v.check(not cmd.invited_user_ids, "invited_user_ids", "only calls have invitees")
    if cmd.kind is not RoomKind.BROADCAST:
        v.check(not cmd.presenter_user_ids, "presenter_user_ids", "only broadcasts have presenters")
    v.raise_if_any()


def new_room(cmd: NewRoom, *, room_id: str, host_user_id: str, now: datetime) -> Room:
    assert cmd.kind is not None
    invited = tuple(dict.fromkeys(u for u in cmd.invited_user_ids if u != host_user_id))
    group = cmd.kind is RoomKind.CALL and is_group_call(1 + len(invited), cmd.max_participants)
    default_max = DEFAULT_GROUP_CALL_MAX if group else DEFAULT_MAX[cmd.kind]
    room = Room(
        room_id=room_id,
        school_id=cmd.school_id,
        class_id=cmd.class_id,
        kind=cmd.kind,
        title=cmd.title.strip(),
        host_user_id=host_user_id,
        created_at=now,
        scheduled_for=cmd.scheduled_for,
        max_participants=cmd.max_participants or default_max,
        waiting_room=cmd.waiting_room,
        invited_user_ids=invited,
        presenter_user_ids=tuple(dict.fromkeys(cmd.presenter_user_ids)),
        group_call=group,
        screen_share=cmd.screen_share or DEFAULT_SCREEN_SHARE.get(cmd.kind, ScreenShare.ANYONE),
    )
    if cmd.start_now:
        room.start(now)
        room.version = 1
    return room


def is_group_call(people: int, max_participants: int) -> bool:
    """The switch point: a call for more than MAX_P2P_PARTICIPANTS people (the host and the
    invitees), or one asking for more seats than that, runs through the SFU from the start; a call
    of at most 4 stays peer-to-peer for its whole life (docs/media-signal.md, "Group calls")."""
    return people > MAX_P2P_PARTICIPANTS or max_participants > MAX_P2P_PARTICIPANTS
