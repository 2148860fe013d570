"""Event consumers: school, identity and media-signal events → provisioning use cases, routed by
their message class (the kit's EventRouter)."""

from __future__ import annotations

from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity
from parta.media_signal.v1 import events_pb2 as media
from parta.school.v1 import events_pb2 as school
from parta_common.events import topics
from parta_common.events.router import EventRouter
from parta_common.safety import SchoolPolicy
from parta_common.timestamps import from_ts

from chat.api.erasure import ErasureHandler
from chat.app.provisioning import ClassInfo, Provisioning
from chat.domain.provisioning import ClassRole, Membership, Profile, SchoolInfo, SchoolRole
from chat.domain.system_notes import lesson_ended, lesson_started, locale_of

# What chat consumes: who is in which school and class (and its policy), profiles, lessons.
TOPICS = (*topics.SCHOOL_DIRECTORY, topics.IDENTITY_USER, topics.MEDIA_SIGNAL_ROOM)
AWAITING_GUARDIAN = identity.CONSENT_STATE_AWAITING_GUARDIAN
Envelope = envelope_pb2.EventEnvelope


def _membership(s: school.MembershipSnapshot, *, active: bool) -> Membership | None:
    try:
        role = SchoolRole(s.school_role)
        class_role = ClassRole(s.class_role)
    except ValueError:
        return None  # a role this version does not know: nothing to provision
    return Membership(
        membership_id=s.membership_id,
        school_id=s.school_id,
        user_id=s.user_id,
        school_role=role,
        class_id=s.class_id,
        class_role=class_role,
        child_user_id=s.child_user_id,
        active=active,
        verified=s.verified,
    )


def school_policy(p: school.CommunicationPolicy) -> SchoolPolicy:
    """The switches school set; an unset one (an older snapshot) keeps the default."""
    return SchoolPolicy.from_settings({f.name: bool(value) for f, value in p.ListFields()})


def _display_name(p: identity.ProfileSnapshot) -> str:
    return " ".join(part for part in (p.first_name, p.last_name) if part)


class ProvisioningHandler:
    """The provisioning consumer's handler: `handle` is the router the EventConsumer calls."""

    def __init__(self, provisioning: Provisioning, erasure: ErasureHandler | None = None):
        """`erasure`: the account erasure (api/erasure.py) takes AccountDeleted; without it (unit
        tests of the projections) a deletion only ends the memberships and the name."""
        self._p = provisioning
        router = EventRouter()
        router.register(school.SchoolCreated, self._school)
        router.register(school.SchoolUpdated, self._school)
        router.register(school.ClassCreated, self._class)
        router.register(school.ClassUpdated, self._class)
        router.register(school.ClassArchived, self._class)
        router.register(school.MemberJoined, self._member_changed)
        router.register(school.MemberRoleChanged, self._member_changed)
        router.register(school.MemberLeft, self._member_left)
        router.register(identity.ProfileCreated, self._profile)
        router.register(identity.ProfileUpdated, self._profile)
        router.register(identity.ConsentChanged, self._consent)
        router.register(identity.AccountDeleted, erasure.on_account_deleted if erasure else self._account_deleted)
        router.register(media.RoomStarted, self._room_started)
        router.register(media.RoomEnded, self._room_ended)
        router.register(media.RoomScheduled, self._lesson_planned)
        router.register(media.RoomRescheduled, self._lesson_planned)
        router.register(media.RoomCancelled, self._lesson_planned)
        # StaffVerified needs no handling: school re-publishes the staff seats as MemberRoleChanged
        # with verified=true, which regrants the staff channel.
        # Other event types (invites, join requests, guardians …) do not concern chat. That includes
        # ProfileAgeBandChanged: chat has no age rule (its minors' rules follow school roles), and a
        # band change that moves consent comes after its ConsentChanged and before a fresh snapshot.
        self.handle = router

    async def _school(self, msg: school.SchoolCreated | school.SchoolUpdated, envelope: Envelope) -> None:
        s = msg.school
        info = SchoolInfo(
            s.school_id,
            s.name,
            s.timezone,
            s.workday_start_minute,
            s.workday_end_minute,
            school_policy(s.communication_policy),
            locale_of(s.locale),
        )
        await self._p.school_changed(info, envelope.aggregate_version)

    async def _class(
        self, msg: school.ClassCreated | school.ClassUpdated | school.ClassArchived, envelope: Envelope
    ) -> None:
        c = getattr(msg, "class")  # `class` is a Python keyword
        archived = c.archived or isinstance(msg, school.ClassArchived)
        info = ClassInfo(c.class_id, c.school_id, c.title, c.is_staff_room, archived)
        await self._p.class_changed(info, envelope.aggregate_version)

    async def _member_changed(self, msg: school.MemberJoined | school.MemberRoleChanged, envelope: Envelope) -> None:
        membership = _membership(msg.membership, active=True)
        if membership is not None:
            await self._p.membership_changed(membership, envelope.aggregate_version)

    async def _member_left(self, msg: school.MemberLeft, envelope: Envelope) -> None:
        membership = _membership(msg.membership, active=False)
        if membership is not None:
            archived = msg.reason == "class_archived"
            await self._p.membership_changed(membership, envelope.aggregate_version, keep_chats=archived)

    async def _profile(self, msg: identity.ProfileCreated | identity.ProfileUpdated, envelope: Envelope) -> None:
        prof = msg.profile
        awaiting = prof.consent_state == AWAITING_GUARDIAN
        await self._p.profile_changed(Profile(prof.user_id, _display_name(prof), awaiting), envelope.aggregate_version)

    async def _consent(self, msg: identity.ConsentChanged, envelope: Envelope) -> None:
        awaiting = msg.consent_state == AWAITING_GUARDIAN
        await self._p.consent_changed(msg.user_id, awaiting, envelope.aggregate_version)

    async def _account_deleted(self, msg: identity.AccountDeleted, envelope: Envelope) -> None:
        await self._p.account_deleted(msg.user_id, envelope.aggregate_version)

    async def _room_started(self, msg: media.RoomStarted, envelope: Envelope) -> None:
        room = msg.room
        if room.kind == media.ROOM_KIND_LESSON and room.class_id:
            note = lesson_started(room.title)
            await self._p.lesson_event(room.room_id, room.school_id, room.class_id, note, "started")

    async def _room_ended(self, msg: media.RoomEnded, envelope: Envelope) -> None:
        room = msg.room
        if room.kind == media.ROOM_KIND_LESSON and room.class_id:
            attended = len({a.user_id for a in msg.attendance if a.user_id != room.host_user_id})
            await self._p.lesson_event(room.room_id, room.school_id, room.class_id, lesson_ended(attended), "ended")

    async def _lesson_planned(
        self, msg: media.RoomScheduled | media.RoomRescheduled | media.RoomCancelled, envelope: Envelope
    ) -> None:
        """Lessons of the timetable (only those: a lesson scheduled by hand is not announced), once per
        event: a redelivered event finds its message."""
        room = msg.room
        if room.kind != media.ROOM_KIND_LESSON or not room.class_id or not room.timetable_slot_id:
            return
        if not room.HasField("scheduled_for"):
            return
        change = (
            "cancelled"
            if isinstance(msg, media.RoomCancelled)
            else "changed"
            if isinstance(msg, media.RoomRescheduled)
            else "scheduled"
        )
        starts = from_ts(room.scheduled_for)
        assert starts is not None
        await self._p.lesson_planned(
            room.room_id, room.school_id, room.class_id, change, room.title, starts, envelope.event_id
        )
