"""Domain events → parta.school.v1 envelopes in a document's outbox.

Topics are keyed by school id (one school's events stay in order per topic); the envelope's aggregate
is the changed document (school, class, membership, join request, invite) with that document's version,
so consumers upsert by id and ignore stale versions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from google.protobuf.message import Message
from parta.school.v1 import events_pb2 as ev
from parta.school.v1 import timetable_pb2 as tt
from parta_common.events.envelope import OutboxRecord
from parta_common.events.topics import SCHOOL_CLASS as CLASS_TOPIC
from parta_common.events.topics import SCHOOL_INVITE as INVITE_TOPIC
from parta_common.events.topics import SCHOOL_MEMBERSHIP as MEMBERSHIP_TOPIC
from parta_common.events.topics import SCHOOL_SCHOOL as SCHOOL_TOPIC
from parta_common.events.topics import SCHOOL_TIMETABLE as TIMETABLE_TOPIC
from parta_common.events.writer import Aggregate, OutboxWriter
from parta_common.timestamps import ts

from school.codecs import class_pb, invite_pb, membership_pb, school_pb, timetable_snapshot_pb
from school.domain import events as de
from school.domain.join_requests import JoinRequest

PRODUCER = "school"


def _join_requested(r: JoinRequest) -> ev.JoinRequested:
    return ev.JoinRequested(
        join_request_id=r.id,
        school_id=r.school_id,
        class_id=r.class_id,
        user_id=r.user_id,
        class_role=ev.ClassRole.ValueType(r.class_role),
        requested_at=ts(r.created_at),
        school_role=ev.SchoolRole.ValueType(r.role),
        child_user_id=r.child_user_id,
    )


def _decided(r: JoinRequest) -> ev.JoinRequestDecided:
    return ev.JoinRequestDecided(
        join_request_id=r.id,
        school_id=r.school_id,
        class_id=r.class_id,
        user_id=r.user_id,
        state=ev.JoinRequestState.ValueType(r.state),
        decided_by_user_id=r.decided_by,
    )


def to_message(event: de.DomainEvent) -> tuple[str, str, Message]:
    """(topic, school id, payload) of one domain event."""
    match event:
        case de.SchoolCreated(school=s):
            return SCHOOL_TOPIC, s.id, ev.SchoolCreated(school=school_pb(s))
        case de.SchoolUpdated(school=s, actor=actor):
            return SCHOOL_TOPIC, s.id, ev.SchoolUpdated(school=school_pb(s), actor_user_id=actor)
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
        case de.MemberRoleChanged(membership=m, actor=actor):
            changed = ev.MemberRoleChanged(membership=membership_pb(m), actor_user_id=actor)
            return MEMBERSHIP_TOPIC, m.school_id, changed
        case de.MemberLeft(membership=m, reason=reason, actor=actor):
            left = ev.MemberLeft(membership=membership_pb(m), reason=reason, actor_user_id=actor)
            return MEMBERSHIP_TOPIC, m.school_id, left
        case de.StaffVerified(school_id=sid, user_id=uid, verified_by=by):
            return MEMBERSHIP_TOPIC, sid, ev.StaffVerified(school_id=sid, user_id=uid, verified_by_user_id=by)
        case de.JoinRequested(request=r):
            return MEMBERSHIP_TOPIC, r.school_id, _join_requested(r)
        case de.JoinRequestDecided(request=r):
            return MEMBERSHIP_TOPIC, r.school_id, _decided(r)
        case de.InviteCreated(invite=i):
            return INVITE_TOPIC, i.school_id, ev.InviteCreated(invite=invite_pb(i))
        case de.InviteRevoked(invite=i, actor=actor):
            return INVITE_TOPIC, i.school_id, ev.InviteRevoked(invite=invite_pb(i), actor_user_id=actor)
        case de.InviteAccepted(invite=i, user_id=uid, at=at):
            accepted = ev.InviteAccepted(
                invite_id=i.id,
                school_id=i.school_id,
                user_id=uid,
                class_id=i.class_id,
                role=ev.SchoolRole.ValueType(i.role),
                child_user_id=i.child_user_id,
                requires_approval=i.requires_approval,
                accepted_at=ts(at),
                created_by_user_id=i.created_by,
            )
            return INVITE_TOPIC, i.school_id, accepted
        case de.TimetableChanged(timetable=t):
            return TIMETABLE_TOPIC, t.school_id, tt.TimetableChanged(timetable=timetable_snapshot_pb(event))
    raise TypeError(f"unmapped event {type(event).__name__}")


class EventMapper:
    def __init__(self, topic: Callable[[str], str], now: Callable[[], datetime]):
        self._writer = OutboxWriter(PRODUCER, topic, now)

    def records(
        self, aggregate_type: str, aggregate_id: str, version: int, events: Sequence[de.DomainEvent]
    ) -> list[OutboxRecord]:
        out = []
        for event in events:
            topic, school_id, payload = to_message(event)
            # Keyed by school, not by aggregate: one school's events keep their order per topic.
            aggregate = Aggregate(aggregate_type, aggregate_id, version)
            out.append(self._writer.record(payload, topic=topic, aggregate=aggregate, key=school_id))
        return out
