"""Projections that decide who may join which room: school classes and memberships from school's
events, and each person's consent state from identity's. The handlers map events to the
`DirectoryProjection` port (versioned writes: replays are no-ops)."""

from __future__ import annotations

from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity_pb2
from parta.school.v1 import events_pb2 as school_pb2
from parta_common.events import topics
from parta_common.events.roles import CLASS_ROLES, SCHOOL_ROLES
from parta_common.events.router import EventRouter
from parta_common.safety import PolicyBook, SchoolPolicy

from media_signal.api.erasure import ErasureHandler
from media_signal.app.ports import DirectoryProjection
from media_signal.domain.rooms import Membership

TOPICS = (*topics.SCHOOL_DIRECTORY, topics.IDENTITY_USER)
AWAITING = identity_pb2.CONSENT_STATE_AWAITING_GUARDIAN

Envelope = envelope_pb2.EventEnvelope
# Every event of school.school.v1 carries the whole SchoolSnapshot (its communication policy too).
SchoolSnapshotEvent = (
    school_pb2.SchoolCreated
    | school_pb2.SchoolUpdated
    | school_pb2.AdminSeatVacated
    | school_pb2.AdminSeatFilled
    | school_pb2.AcademicYearStarted
)
ClassEvent = school_pb2.ClassCreated | school_pb2.ClassUpdated | school_pb2.ClassArchived
MembershipEvent = school_pb2.MemberJoined | school_pb2.MemberRoleChanged | school_pb2.MemberLeft
ProfileEvent = identity_pb2.ProfileCreated | identity_pb2.ProfileUpdated


def school_policy(p: school_pb2.CommunicationPolicy) -> SchoolPolicy:
    """The switches school set; an unset one (an older snapshot) keeps the default."""
    return SchoolPolicy.from_settings({f.name: bool(value) for f, value in p.ListFields()})


class SchoolEventProjector:
    """A school's policy also goes to this replica's in-memory book at once (`policies`)."""

    def __init__(self, projection: DirectoryProjection, policies: PolicyBook | None = None):
        self._projection = projection
        self._policies = policies

    def router(self) -> EventRouter:
        router = EventRouter()
        router.register(school_pb2.SchoolCreated, self.on_school)
        router.register(school_pb2.SchoolUpdated, self.on_school)
        router.register(school_pb2.AdminSeatVacated, self.on_school)
        router.register(school_pb2.AdminSeatFilled, self.on_school)
        router.register(school_pb2.AcademicYearStarted, self.on_school)
        router.register(school_pb2.ClassCreated, self.on_class)
        router.register(school_pb2.ClassUpdated, self.on_class)
        router.register(school_pb2.ClassArchived, self.on_class)
        router.register(school_pb2.MemberJoined, self.on_membership)
        router.register(school_pb2.MemberRoleChanged, self.on_membership)
        router.register(school_pb2.MemberLeft, self.on_membership)
        # Other school events do not change who joins a room. Staff verification arrives as
        # MemberRoleChanged snapshots with verified=true (school re-publishes every staff seat),
        # so StaffVerified itself needs no handling here.
        return router

    async def on_school(self, event: SchoolSnapshotEvent, envelope: Envelope) -> None:
        school_id, policy = event.school.school_id, school_policy(event.school.communication_policy)
        await self._projection.school_policy(school_id, policy, envelope.aggregate_version)
        if self._policies is not None:
            self._policies.apply(school_id, policy, envelope.aggregate_version)

    async def on_class(self, event: ClassEvent, envelope: Envelope) -> None:
        c = getattr(event, "class")  # a Python keyword as a field name
        archived = c.archived or isinstance(event, school_pb2.ClassArchived)
        await self._projection.school_class(c.class_id, c.school_id, c.title, archived, envelope.aggregate_version)

    async def on_membership(self, event: MembershipEvent, envelope: Envelope) -> None:
        m = event.membership
        membership = Membership(
            user_id=m.user_id,
            school_id=m.school_id,
            school_role=SCHOOL_ROLES.get(m.school_role, ""),
            class_id=m.class_id,
            class_role=CLASS_ROLES.get(m.class_role, ""),
            # Calls follow the communication policy (guardians reach their child) and only
            # verified staff hold lessons: both come with the snapshot.
            child_user_id=m.child_user_id,
            verified=m.verified,
        )
        active = not isinstance(event, school_pb2.MemberLeft)
        await self._projection.membership(m.membership_id, membership, active, envelope.aggregate_version)


class IdentityEventProjector:
    """Keeps two flags per person: has an educational profile (no school participation without
    one) and awaiting a guardian's consent (identity's contract: such a child "may read, may not
    write or call"). Versioned by the person's aggregate version, so replays
    and late duplicates never bring back an older state. Nothing else of the profile is kept."""

    def __init__(self, projection: DirectoryProjection, erasure: ErasureHandler | None = None):
        self._projection = projection
        self._erasure = erasure  # api/erasure.py: anonymises the deleted account's attendance

    def router(self) -> EventRouter:
        router = EventRouter()
        router.register(identity_pb2.ProfileCreated, self.on_profile)
        router.register(identity_pb2.ProfileUpdated, self.on_profile)
        router.register(identity_pb2.ConsentChanged, self.on_consent)
        router.register(identity_pb2.AccountDeleted, self.on_account_deleted)
        return router

    async def on_profile(self, event: ProfileEvent, envelope: Envelope) -> None:
        awaiting = event.profile.consent_state == AWAITING
        await self._person(event.profile.user_id, awaiting, True, envelope)

    async def on_consent(self, event: identity_pb2.ConsentChanged, envelope: Envelope) -> None:
        # Consent changes only for a person with a profile (the birth date decides it).
        await self._person(event.user_id, event.consent_state == AWAITING, True, envelope)

    async def on_account_deleted(self, event: identity_pb2.AccountDeleted, envelope: Envelope) -> None:
        await self._person(event.user_id, False, False, envelope)  # school ends the memberships too
        if self._erasure is not None:
            await self._erasure.on_account_deleted(event, envelope)

    async def _person(self, user_id: str, awaiting: bool, has_profile: bool, envelope: Envelope) -> None:
        await self._projection.person(
            user_id, awaiting_guardian=awaiting, has_profile=has_profile, version=envelope.aggregate_version
        )


class Projections:
    """The one consumer of media-signal: each event goes to the projection of its message type."""

    def __init__(
        self,
        projection: DirectoryProjection,
        policies: PolicyBook | None = None,
        erasure: ErasureHandler | None = None,
    ):
        self._router = EventRouter()
        self._router.include(SchoolEventProjector(projection, policies).router())
        self._router.include(IdentityEventProjector(projection, erasure).router())

    async def __call__(self, envelope: Envelope) -> None:
        await self._router(envelope)
