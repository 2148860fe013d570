"""Event consumers: school, identity and media-signal events → provisioning use cases."""

from __future__ import annotations

from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity
from parta.media_signal.v1 import events_pb2 as media
from parta.school.v1 import events_pb2 as school
from parta_common.events.envelope import unpack
from parta_common.safety import SchoolPolicy

from chat.app.provisioning import ClassInfo, Provisioning
from chat.domain.model import ClassRole, Membership, Profile, SchoolInfo, SchoolRole

SCHOOL_TOPICS = ("school.school.v1", "school.class.v1", "school.membership.v1")
IDENTITY_TOPIC = "identity.user.v1"
MEDIA_TOPIC = "media_signal.room.v1"
AWAITING_GUARDIAN = identity.CONSENT_STATE_AWAITING_GUARDIAN


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
    def __init__(self, provisioning: Provisioning):
        self._p = provisioning

    async def handle(self, envelope: envelope_pb2.EventEnvelope) -> None:
        name = envelope.event_type
        version = envelope.aggregate_version
        p = self._p
        if name in ("parta.school.v1.SchoolCreated", "parta.school.v1.SchoolUpdated"):
            msg = unpack(envelope, getattr(school, name.rsplit(".", 1)[1]))
            s = msg.school  # type: ignore[attr-defined]
            info = SchoolInfo(
                s.school_id,
                s.name,
                s.timezone,
                s.workday_start_minute,
                s.workday_end_minute,
                school_policy(s.communication_policy),
            )
            await p.school_changed(info, version)
        elif name in ("parta.school.v1.ClassCreated", "parta.school.v1.ClassUpdated", "parta.school.v1.ClassArchived"):
            msg = unpack(envelope, getattr(school, name.rsplit(".", 1)[1]))
            c = getattr(msg, "class")
            archived = c.archived or name.endswith("ClassArchived")
            await p.class_changed(ClassInfo(c.class_id, c.school_id, c.title, c.is_staff_room, archived), version)
        elif name in (
            "parta.school.v1.MemberJoined",
            "parta.school.v1.MemberRoleChanged",
            "parta.school.v1.MemberLeft",
        ):
            msg = unpack(envelope, getattr(school, name.rsplit(".", 1)[1]))
            left = name.endswith("MemberLeft")
            membership = _membership(msg.membership, active=not left)  # type: ignore[attr-defined]
            archived = left and msg.reason == "class_archived"  # type: ignore[attr-defined]
            if membership is not None:
                await p.membership_changed(membership, version, keep_chats=archived)
        elif name in ("parta.identity.v1.ProfileCreated", "parta.identity.v1.ProfileUpdated"):
            msg = unpack(envelope, getattr(identity, name.rsplit(".", 1)[1]))
            prof = msg.profile  # type: ignore[attr-defined]
            awaiting = prof.consent_state == AWAITING_GUARDIAN
            await p.profile_changed(Profile(prof.user_id, _display_name(prof), awaiting), version)
        elif name == "parta.identity.v1.ConsentChanged":
            # Consent comes with its own version of the user aggregate; keep the name we have.
            consent = unpack(envelope, identity.ConsentChanged)
            current = await p.store.profile(consent.user_id)  # type: ignore[attr-defined]
            display = current.display_name if current else ""
            awaiting = consent.consent_state == AWAITING_GUARDIAN  # type: ignore[attr-defined]
            await p.profile_changed(Profile(consent.user_id, display, awaiting), version)  # type: ignore[attr-defined]
        elif name == "parta.identity.v1.AccountDeleted":
            deleted = unpack(envelope, identity.AccountDeleted)
            await p.account_deleted(deleted.user_id, version)  # type: ignore[attr-defined]
        elif name == "parta.media_signal.v1.RoomStarted":
            started = unpack(envelope, media.RoomStarted)
            room = started.room  # type: ignore[attr-defined]
            if room.kind == media.ROOM_KIND_LESSON and room.class_id:
                title = f"Lesson started: {room.title}" if room.title else "Lesson started"
                await p.lesson_event(room.room_id, room.school_id, room.class_id, title, "started")
        elif name == "parta.media_signal.v1.RoomEnded":
            ended = unpack(envelope, media.RoomEnded)
            room = ended.room  # type: ignore[attr-defined]
            if room.kind == media.ROOM_KIND_LESSON and room.class_id:
                attended = len({a.user_id for a in ended.attendance if a.user_id != room.host_user_id})  # type: ignore[attr-defined]
                await p.lesson_event(
                    room.room_id, room.school_id, room.class_id, f"Lesson ended, {attended} attended", "ended"
                )
        # StaffVerified needs no handling: school re-publishes the staff seats as MemberRoleChanged
        # with verified=true, which regrants the staff channel.
        # Other event types (invites, join requests, guardians …) do not concern chat. That includes
        # ProfileAgeBandChanged: chat has no age rule (its minors' rules follow school roles), and a
        # band change that moves consent comes after its ConsentChanged and before a fresh snapshot.
