"""School's aggregates → parta.school.v1 messages: the API's responses (`school_pb2`) and the outbox
events' snapshots (`events_pb2`). Both edges import these (neither layer imports the other), and a
field the two messages share is mapped once, in the `_fields` of its aggregate."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import school_pb2 as pb
from parta.school.v1 import timetable_pb2 as tt
from parta_common.retention import RetentionRule
from parta_common.safety import SchoolPolicy
from parta_common.timestamps import ts

from school.domain.classes import SchoolClass
from school.domain.events import TimetableChanged
from school.domain.invites import Invite
from school.domain.join_requests import JoinRequest
from school.domain.memberships import Membership
from school.domain.schools import School
from school.domain.timetables import DateRange, Timetable


def policy_pb(p: SchoolPolicy) -> ev.CommunicationPolicy:
    """Every switch set, so a reader sees the whole policy (unset would mean "the default")."""
    return ev.CommunicationPolicy(**asdict(p))


def _school_fields(s: School) -> dict[str, Any]:
    return {
        "school_id": s.id,
        "name": s.name,
        "short_name": s.short_name,
        "region": s.region,
        "address": s.address,
        "timezone": s.timezone,
        "academic_year": s.academic_year,
        "staff_room_class_id": s.staff_room_class_id,
        "workday_start_minute": s.workday_start_minute,
        "workday_end_minute": s.workday_end_minute,
        "admin_vacant": s.admin_vacant,
        "locale": s.locale,
    }


def retention_pb(r: RetentionRule) -> ev.RetentionPolicy:
    return ev.RetentionPolicy(keep_days=r.keep_days, archive_grace_days=r.archive_grace_days)


def school_pb(s: School) -> ev.SchoolSnapshot:
    return ev.SchoolSnapshot(
        **_school_fields(s), communication_policy=policy_pb(s.policy), retention=retention_pb(s.retention)
    )


def school_message(s: School) -> pb.School:
    return pb.School(
        **_school_fields(s),
        created_at=ts(s.created_at),
        admin_vacant_since=ts(s.admin_vacant_since) if s.admin_vacant_since else None,
    )


def _class_fields(c: SchoolClass) -> dict[str, Any]:
    return {
        "class_id": c.id,
        "school_id": c.school_id,
        "grade": c.grade,
        "letter": c.letter,
        "title": c.title,
        "academic_year": c.academic_year,
        "is_staff_room": c.is_staff_room,
        "archived": c.archived,
    }


def class_pb(c: SchoolClass) -> ev.ClassSnapshot:
    return ev.ClassSnapshot(**_class_fields(c))


def class_message(c: SchoolClass) -> pb.SchoolClass:
    return pb.SchoolClass(**_class_fields(c))


def membership_pb(m: Membership) -> ev.MembershipSnapshot:
    """Also the API's `Membership` (school.proto reuses the snapshot)."""
    return ev.MembershipSnapshot(
        membership_id=m.id,
        school_id=m.school_id,
        user_id=m.user_id,
        school_role=ev.SchoolRole.ValueType(m.school_role),
        class_id=m.class_id,
        class_role=ev.ClassRole.ValueType(m.class_role),
        child_user_id=m.child_user_id,
        subject=m.subject,
        verified=m.verified,
    )


def _invite_fields(i: Invite) -> dict[str, Any]:
    return {
        "invite_id": i.id,
        "school_id": i.school_id,
        "class_id": i.class_id,
        "role": int(i.role),
        "child_user_id": i.child_user_id,
        "expires_at": ts(i.expires_at),
        "max_uses": i.max_uses,
        "requires_approval": i.requires_approval,
        "revoked": i.revoked,
        "created_by_user_id": i.created_by,
    }


def invite_pb(i: Invite) -> ev.InviteSnapshot:
    return ev.InviteSnapshot(**_invite_fields(i))


def invite_message(i: Invite) -> pb.Invite:
    return pb.Invite(**_invite_fields(i), uses=i.uses)


def join_request_message(r: JoinRequest) -> pb.JoinRequest:
    return pb.JoinRequest(
        join_request_id=r.id,
        school_id=r.school_id,
        class_id=r.class_id,
        user_id=r.user_id,
        role=int(r.role),  # type: ignore[arg-type]
        child_user_id=r.child_user_id,
        state=int(r.state),  # type: ignore[arg-type]
        decided_by_user_id=r.decided_by,
        created_at=ts(r.created_at),
    )


def date_range_pb(r: DateRange) -> tt.DateRange:
    return tt.DateRange(first_day=r.first_day.isoformat(), last_day=r.last_day.isoformat(), title=r.title)


def timetable_pb(t: Timetable) -> tt.Timetable:
    return tt.Timetable(
        school_id=t.school_id,
        class_id=t.class_id,
        academic_year=t.academic_year,
        first_day=t.first_day.isoformat(),
        last_day=t.last_day.isoformat(),
        slots=[
            tt.TimetableSlot(
                slot_id=s.slot_id,
                weekday=s.weekday,
                start_minute=s.start_minute,
                duration_minutes=s.duration_minutes,
                subject=s.subject,
                teacher_user_id=s.teacher_user_id,
            )
            for s in t.slots
        ],
        cancelled=[tt.CancelledLesson(date=c.day.isoformat(), slot_id=c.slot_id) for c in t.cancelled],
        version=t.version,
    )


def timetable_snapshot_pb(e: TimetableChanged) -> tt.TimetableSnapshot:
    return tt.TimetableSnapshot(
        timetable=timetable_pb(e.timetable),
        timezone=e.timezone,
        holidays=[date_range_pb(r) for r in e.holidays],
        class_title=e.class_title,
    )
