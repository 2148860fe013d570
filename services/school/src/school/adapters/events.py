"""Domain events → parta.school.v1 envelopes in a document's outbox.

Topics are keyed by school id (one school's events stay in order per topic); the envelope's aggregate
is the changed document (school, class, membership, join request, invite) with that document's version,
so consumers upsert by id and ignore stale versions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime

from google.protobuf import timestamp_pb2
from google.protobuf.message import Message
from parta.school.v1 import events_pb2 as ev
from parta_common.events.envelope import OutboxRecord, make_envelope
from parta_common.grpc.context import correlation_id

from school.domain import events as de
from school.domain.classes import SchoolClass
from school.domain.invites import Invite
from school.domain.join_requests import JoinRequest
from school.domain.memberships import Membership
from school.domain.schools import School

SCHOOL_TOPIC = "school.school.v1"
CLASS_TOPIC = "school.class.v1"
MEMBERSHIP_TOPIC = "school.membership.v1"
INVITE_TOPIC = "school.invite.v1"
PRODUCER = "school"


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
        school_role=int(m.school_role),  # type: ignore[arg-type]
        class_id=m.class_id,
        class_role=int(m.class_role),  # type: ignore[arg-type]
        child_user_id=m.child_user_id,
        subject=m.subject,
        verified=m.verified,
    )


def ts(when: datetime | None) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    if when is not None:
        stamp.FromDatetime(when)
    return stamp


def invite_pb(i: Invite) -> ev.InviteSnapshot:
    return ev.InviteSnapshot(
        invite_id=i.id,
        school_id=i.school_id,
        class_id=i.class_id,
        role=int(i.role),  # type: ignore[arg-type]
        child_user_id=i.child_user_id,
        expires_at=ts(i.expires_at),
        max_uses=i.max_uses,
        requires_approval=i.requires_approval,
        revoked=i.revoked,
        created_by_user_id=i.created_by,
    )


def _join_requested(r: JoinRequest) -> ev.JoinRequested:
    return ev.JoinRequested(
        join_request_id=r.id,
        school_id=r.school_id,
        class_id=r.class_id,
        user_id=r.user_id,
        class_role=int(r.class_role),  # type: ignore[arg-type]
        requested_at=ts(r.created_at),
        school_role=int(r.role),  # type: ignore[arg-type]
        child_user_id=r.child_user_id,
    )


def _decided(r: JoinRequest) -> ev.JoinRequestDecided:
    return ev.JoinRequestDecided(
        join_request_id=r.id,
        school_id=r.school_id,
        class_id=r.class_id,
        user_id=r.user_id,
        state=int(r.state),  # type: ignore[arg-type]
        decided_by_user_id=r.decided_by,
    )


def to_message(event: de.DomainEvent) -> tuple[str, str, Message]:
    """(topic, school id, payload) of one domain event."""
    match event:
        case de.SchoolCreated(school=s):
            return SCHOOL_TOPIC, s.id, ev.SchoolCreated(school=school_pb(s))
        case de.SchoolUpdated(school=s):
            return SCHOOL_TOPIC, s.id, ev.SchoolUpdated(school=school_pb(s))
        case de.AdminSeatVacated(school=s, reason=reason):
            vacated = ev.AdminSeatVacated(school=school_pb(s), vacated_at=ts(s.admin_vacant_since), reason=reason)
            return SCHOOL_TOPIC, s.id, vacated
        case de.AdminSeatFilled(school=s, admin_user_id=uid, appointed_by=by):
            filled = ev.AdminSeatFilled(school=school_pb(s), admin_user_id=uid, appointed_by_user_id=by)
            return SCHOOL_TOPIC, s.id, filled
        case de.ClassCreated(school_class=c):
            return CLASS_TOPIC, c.school_id, ev.ClassCreated(**{"class": class_pb(c)})
        case de.ClassUpdated(school_class=c):
            return CLASS_TOPIC, c.school_id, ev.ClassUpdated(**{"class": class_pb(c)})
        case de.ClassArchived(school_class=c, reason=reason):
            return CLASS_TOPIC, c.school_id, ev.ClassArchived(**{"class": class_pb(c)}, reason=reason)
        case de.AcademicYearStarted(school=s, previous_academic_year=previous):
            started = ev.AcademicYearStarted(
                school=school_pb(s),
                previous_academic_year=previous,
                academic_year=s.academic_year,
                promoted_class_ids=list(event.promoted_class_ids),
                graduated_class_ids=list(event.graduated_class_ids),
            )
            return SCHOOL_TOPIC, s.id, started
        case de.MemberJoined(membership=m):
            return MEMBERSHIP_TOPIC, m.school_id, ev.MemberJoined(membership=membership_pb(m))
        case de.MemberRoleChanged(membership=m):
            return MEMBERSHIP_TOPIC, m.school_id, ev.MemberRoleChanged(membership=membership_pb(m))
        case de.MemberLeft(membership=m, reason=reason):
            return MEMBERSHIP_TOPIC, m.school_id, ev.MemberLeft(membership=membership_pb(m), reason=reason)
        case de.StaffVerified(school_id=sid, user_id=uid, verified_by=by):
            return MEMBERSHIP_TOPIC, sid, ev.StaffVerified(school_id=sid, user_id=uid, verified_by_user_id=by)
        case de.JoinRequested(request=r):
            return MEMBERSHIP_TOPIC, r.school_id, _join_requested(r)
        case de.JoinRequestDecided(request=r):
            return MEMBERSHIP_TOPIC, r.school_id, _decided(r)
        case de.InviteCreated(invite=i):
            return INVITE_TOPIC, i.school_id, ev.InviteCreated(invite=invite_pb(i))
        case de.InviteRevoked(invite=i):
            return INVITE_TOPIC, i.school_id, ev.InviteRevoked(invite=invite_pb(i))
    raise TypeError(f"unmapped event {type(event).__name__}")


class EventMapper:
    def __init__(self, topic: Callable[[str], str], now: Callable[[], datetime]):
        self._topic = topic
        self._now = now

    def records(
        self, aggregate_type: str, aggregate_id: str, version: int, events: Sequence[de.DomainEvent]
    ) -> list[OutboxRecord]:
        out = []
        for event in events:
            topic, school_id, payload = to_message(event)
            envelope = make_envelope(
                payload,
                aggregate_type=aggregate_type,
                aggregate_id=aggregate_id,
                aggregate_version=version,
                producer=PRODUCER,
                occurred_at=self._now(),
                correlation_id=correlation_id(),
            )
            # Keyed by school, not by aggregate: one school's events keep their order per topic.
            out.append(OutboxRecord(envelope.event_id, self._topic(topic), school_id, envelope.SerializeToString()))
        return out
