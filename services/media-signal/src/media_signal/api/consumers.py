"""Projections that decide who may join which room: school classes and memberships from school's
events, and each person's consent state from identity's."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity_pb2
from parta.school.v1 import events_pb2 as school_pb2
from parta_common.events.envelope import unpack
from parta_common.mongo import Document, apply_versioned
from parta_common.safety import PolicyBook, SchoolPolicy
from pymongo.asynchronous.database import AsyncDatabase

from media_signal.adapters.mongo import CLASSES, MEMBERSHIPS, PROFILES, SCHOOLS

SCHOOL_ROLES = {
    school_pb2.SCHOOL_ROLE_ADMIN: "admin",
    school_pb2.SCHOOL_ROLE_TEACHER: "teacher",
    school_pb2.SCHOOL_ROLE_STUDENT: "student",
    school_pb2.SCHOOL_ROLE_PARENT: "parent",
}
CLASS_ROLES = {
    school_pb2.CLASS_ROLE_CLASS_HEAD: "class_head",
    school_pb2.CLASS_ROLE_SUBJECT_TEACHER: "subject_teacher",
    school_pb2.CLASS_ROLE_STUDENT: "student",
    school_pb2.CLASS_ROLE_PARENT: "parent",
    school_pb2.CLASS_ROLE_STAFF: "staff",
}
TOPICS = ("school.school.v1", "school.class.v1", "school.membership.v1", "identity.user.v1")
# Every event of school.school.v1 carries the whole SchoolSnapshot (its communication policy too).
SCHOOL_SNAPSHOT_EVENTS = (
    "SchoolCreated",
    "SchoolUpdated",
    "AdminSeatVacated",
    "AdminSeatFilled",
    "AcademicYearStarted",
)
AWAITING = identity_pb2.CONSENT_STATE_AWAITING_GUARDIAN


def school_policy(p: school_pb2.CommunicationPolicy) -> SchoolPolicy:
    """The switches school set; an unset one (an older snapshot) keeps the default."""
    return SchoolPolicy.from_settings({f.name: bool(value) for f, value in p.ListFields()})


class SchoolEventProjector:
    """Idempotent: every write is versioned by the envelope's aggregate version, so replays are no-ops.
    A school's policy also goes to this replica's in-memory book at once (`policies`)."""

    def __init__(self, database: AsyncDatabase[Document], policies: PolicyBook | None = None):
        self._memberships = database[MEMBERSHIPS]
        self._classes = database[CLASSES]
        self._schools = database[SCHOOLS]
        self._policies = policies

    async def __call__(self, envelope: envelope_pb2.EventEnvelope) -> None:
        name = envelope.event_type.rsplit(".", 1)[-1]
        version = envelope.aggregate_version
        if name in SCHOOL_SNAPSHOT_EVENTS:
            carrier: Any = unpack(envelope, getattr(school_pb2, name))
            school_id, policy = carrier.school.school_id, school_policy(carrier.school.communication_policy)
            # policy_at: when this row last changed, for PolicySync on the other replicas.
            fields = {"policy": asdict(policy), "policy_at": datetime.now(UTC)}
            await apply_versioned(self._schools, school_id, version, {"$set": fields})
            if self._policies is not None:
                self._policies.apply(school_id, policy, version)
        elif name in ("ClassCreated", "ClassUpdated", "ClassArchived"):
            msg: Any = unpack(envelope, getattr(school_pb2, name))
            c = msg.__getattribute__("class")
            await apply_versioned(
                self._classes,
                c.class_id,
                version,
                {
                    "$set": {
                        "school_id": c.school_id,
                        "title": c.title,
                        "archived": c.archived or name == "ClassArchived",
                    }
                },
            )
        elif name in ("MemberJoined", "MemberRoleChanged", "MemberLeft"):
            msg = unpack(envelope, getattr(school_pb2, name))
            m = msg.membership
            await apply_versioned(
                self._memberships,
                m.membership_id,
                version,
                {
                    "$set": {
                        "school_id": m.school_id,
                        "user_id": m.user_id,
                        "school_role": SCHOOL_ROLES.get(m.school_role, ""),
                        "class_id": m.class_id,
                        "class_role": CLASS_ROLES.get(m.class_role, ""),
                        # Calls follow the communication policy (guardians reach their child) and
                        # only verified staff hold lessons: both come with the snapshot.
                        "child_user_id": m.child_user_id,
                        "verified": m.verified,
                        "active": name != "MemberLeft",
                    }
                },
            )
        # Other school events do not change who joins a room. Staff verification arrives as
        # MemberRoleChanged snapshots with verified=true (school re-publishes every staff seat),
        # so StaffVerified itself needs no handling here.


class IdentityEventProjector:
    """Keeps two flags per person: has an educational profile (no school participation without
    one) and awaiting a guardian's consent (identity's contract: such a child "may read, may not
    write or call"). Versioned by the person's aggregate version, so replays
    and late duplicates never bring back an older state. Nothing else of the profile is kept."""

    def __init__(self, database: AsyncDatabase[Document]):
        self._profiles = database[PROFILES]

    async def __call__(self, envelope: envelope_pb2.EventEnvelope) -> None:
        name = envelope.event_type.rsplit(".", 1)[-1]
        if name in ("ProfileCreated", "ProfileUpdated"):
            msg: Any = unpack(envelope, getattr(identity_pb2, name))
            user_id, awaiting = msg.profile.user_id, msg.profile.consent_state == AWAITING
            has_profile = True
        elif name == "ConsentChanged":
            msg = unpack(envelope, identity_pb2.ConsentChanged)
            # Consent changes only for a person with a profile (the birth date decides it).
            user_id, awaiting, has_profile = msg.user_id, msg.consent_state == AWAITING, True
        elif name == "AccountDeleted":
            msg = unpack(envelope, identity_pb2.AccountDeleted)
            user_id, awaiting, has_profile = msg.user_id, False, False  # school ends the memberships too
        else:
            return
        await apply_versioned(
            self._profiles,
            user_id,
            envelope.aggregate_version,
            {"$set": {"awaiting_guardian": awaiting, "has_profile": has_profile}},
        )


class Projections:
    """The one consumer of media-signal: each event goes to the projection of its producer."""

    def __init__(self, database: AsyncDatabase[Document], policies: PolicyBook | None = None):
        self._school = SchoolEventProjector(database, policies)
        self._identity = IdentityEventProjector(database)

    async def __call__(self, envelope: envelope_pb2.EventEnvelope) -> None:
        if envelope.event_type.startswith("parta.identity."):
            await self._identity(envelope)
        else:
            await self._school(envelope)
