"""School's aggregates → parta.school.v1 snapshots, shared by the API's responses and the outbox
events (neither layer imports the other)."""

from __future__ import annotations

from dataclasses import asdict

from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import timetable_pb2 as tt
from parta_common.timestamps import ts

from school.domain.classes import SchoolClass
from school.domain.events import TimetableChanged
from school.domain.invites import Invite
from school.domain.memberships import Membership
from school.domain.schools import School
from school.domain.timetables import DateRange, Timetable


def school_pb(s: School) -> ev.SchoolSnapshot:
    return ev.SchoolSnapshot(
        school_id=s.id,
        name=s.name,
        short_name=s.short_name,
        region=s.region,
        address=s.address,
        timezone=s.timezone,
        academic_year=s.academic_year,
        staff_room_class_id=s.staff_room_class_id,
        workday_start_minute=s.workday_start_minute,
        workday_end_minute=s.workday_end_minute,
        admin_vacant=s.admin_vacant,
        communication_policy=ev.CommunicationPolicy(**asdict(s.policy)),
    )


def class_pb(c: SchoolClass) -> ev.ClassSnapshot:
    return ev.ClassSnapshot(
        class_id=c.id,
        school_id=c.school_id,
        grade=c.grade,
        letter=c.letter,
        title=c.title,
        academic_year=c.academic_year,
        is_staff_room=c.is_staff_room,
        archived=c.archived,
    )


def membership_pb(m: Membership) -> ev.MembershipSnapshot:
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


def invite_pb(i: Invite) -> ev.InviteSnapshot:
    return ev.InviteSnapshot(
        invite_id=i.id,
        school_id=i.school_id,
        class_id=i.class_id,
        role=ev.SchoolRole.ValueType(i.role),
        child_user_id=i.child_user_id,
        expires_at=ts(i.expires_at),
        max_uses=i.max_uses,
        requires_approval=i.requires_approval,
        revoked=i.revoked,
        created_by_user_id=i.created_by,
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
