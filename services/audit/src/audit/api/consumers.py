"""The recorder: every domain event that matters for safety or data becomes an audit entry in the
chain of each school it concerns (docs/audit.md has the table). Also keeps the few projections that
decide which schools an event concerns and whether a direct contact is recorded.

Idempotent: projections are versioned or set-like, and an entry is unique per (school, event id),
so a redelivered event changes nothing. Never reads or copies message text, and no event on the bus
carries phone numbers or birth dates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from parta.chat.v1 import events_pb2 as chat_pb2
from parta.common.v1 import envelope_pb2, erasure_pb2
from parta.identity.v1 import events_pb2 as identity_pb2
from parta.media_signal.v1 import events_pb2 as media_pb2
from parta.school.v1 import events_pb2 as school_pb2
from parta_common.events import topics
from parta_common.events.roles import CLASS_ROLES, SCHOOL_ROLES
from parta_common.events.router import EventRouter

from audit.api.exports import ExportEntries
from audit.app.ports import Directory
from audit.domain.chain import Record
from audit.domain.pairs import contact_pair

TOPICS = (
    topics.IDENTITY_USER,
    topics.SCHOOL_SCHOOL,
    topics.SCHOOL_MEMBERSHIP,
    topics.SCHOOL_INVITE,
    topics.CHAT_MESSAGE,
    topics.MEDIA_SIGNAL_ROOM,
    topics.ERASURE_REPORT,
)

CONSENT = {
    identity_pb2.CONSENT_STATE_NOT_REQUIRED: "not_required",
    identity_pb2.CONSENT_STATE_AWAITING_GUARDIAN: "awaiting_guardian",
    identity_pb2.CONSENT_STATE_GRANTED: "granted",
}
AGE_BANDS = {
    identity_pb2.AGE_BAND_BELOW_CONSENT_AGE: "below_consent_age",
    identity_pb2.AGE_BAND_MINOR: "minor",
    identity_pb2.AGE_BAND_ADULT: "adult",
}
JOIN_STATES = {
    school_pb2.JOIN_REQUEST_STATE_PENDING: "pending",
    school_pb2.JOIN_REQUEST_STATE_APPROVED: "approved",
    school_pb2.JOIN_REQUEST_STATE_REJECTED: "rejected",
}
CHAT_KINDS = {
    chat_pb2.CHAT_KIND_SCHOOL_CHANNEL: "school_channel",
    chat_pb2.CHAT_KIND_STAFF_CHANNEL: "staff_channel",
    chat_pb2.CHAT_KIND_CLASS: "class",
    chat_pb2.CHAT_KIND_CLASS_PARENTS: "class_parents",
    chat_pb2.CHAT_KIND_GROUP: "group",
}
POSTING_POLICIES = {
    chat_pb2.POSTING_POLICY_EVERYONE: "everyone",
    chat_pb2.POSTING_POLICY_ADMINS_ONLY: "admins_only",
}
ROOM_KINDS = {
    media_pb2.ROOM_KIND_CALL: "call",
    media_pb2.ROOM_KIND_LESSON: "lesson",
    media_pb2.ROOM_KIND_BROADCAST: "broadcast",
}

Record_ = Callable[[Record], Awaitable[object]]
Envelope = envelope_pb2.EventEnvelope

ProfileEvent = identity_pb2.ProfileCreated | identity_pb2.ProfileUpdated
MembershipEvent = school_pb2.MemberJoined | school_pb2.MemberRoleChanged | school_pb2.MemberLeft
InviteEvent = school_pb2.InviteCreated | school_pb2.InviteRevoked
MessageEvent = chat_pb2.MessagePosted | chat_pb2.MessageEdited
RoomEvent = media_pb2.RoomScheduled | media_pb2.RoomStarted | media_pb2.RoomEnded
ParticipantEvent = media_pb2.ParticipantJoined | media_pb2.ParticipantLeft

MEMBERSHIP_KINDS: dict[type[MembershipEvent], str] = {
    school_pb2.MemberJoined: "school.member_joined",
    school_pb2.MemberRoleChanged: "school.role_changed",
    school_pb2.MemberLeft: "school.member_left",
}


def _time(ts: Timestamp) -> datetime | None:
    if not ts.seconds and not ts.nanos:
        return None
    return ts.ToDatetime(tzinfo=UTC)


def _iso(at: datetime | None) -> str:
    return at.isoformat() if at else ""


def _ids(*values: str) -> tuple[str, ...]:
    """Non-empty ids, first occurrence kept, in order."""
    return tuple(dict.fromkeys(v for v in values if v))


class Recorder(ExportEntries):
    """The one event handler of the audit service: each event goes, by its message class (the
    kit's EventRouter), to the method that records it. Types not registered are not audited."""

    def __init__(self, directory: Directory, record: Record_):
        self._dir = directory
        self._record = record
        self._router = self.router()

    def router(self) -> EventRouter:
        router = EventRouter()
        # identity (UserRegistered, SessionRevoked: not about a school; sign-in and sessions are
        # identity's own log)
        router.register(identity_pb2.ProfileCreated, self.on_profile)
        router.register(identity_pb2.ProfileUpdated, self.on_profile)
        router.register(identity_pb2.ProfileAgeBandChanged, self.on_age_band_changed)
        router.register(identity_pb2.ConsentChanged, self.on_consent_changed)
        router.register(identity_pb2.GuardianLinked, self.on_guardian_linked)
        router.register(identity_pb2.GuardianUnlinked, self.on_guardian_unlinked)
        router.register(identity_pb2.BirthDateChangeRequested, self.on_birth_date_change_requested)
        router.register(identity_pb2.BirthDateChangeConfirmed, self.on_birth_date_change_confirmed)
        router.register(identity_pb2.BirthDateChangeDeclined, self.on_birth_date_change_declined)
        router.register(identity_pb2.AccountDeleted, self.on_account_deleted)
        router.register(identity_pb2.BirthDateCorrected, self.on_birth_date_corrected)
        # every service's erasure report (issue 17)
        router.register(erasure_pb2.ErasureReported, self.on_erasure_report)
        # school (SchoolCreated, classes, academic years: not about a person's safety or data)
        router.register(school_pb2.MemberJoined, self.on_membership)
        router.register(school_pb2.MemberRoleChanged, self.on_membership)
        router.register(school_pb2.MemberLeft, self.on_membership)
        router.register(school_pb2.StaffVerified, self.on_staff_verified)
        router.register(school_pb2.JoinRequested, self.on_join_requested)
        router.register(school_pb2.JoinRequestDecided, self.on_join_request_decided)
        router.register(school_pb2.InviteCreated, self.on_invite)
        router.register(school_pb2.InviteRevoked, self.on_invite)
        router.register(school_pb2.AdminSeatVacated, self.on_admin_seat_vacated)
        router.register(school_pb2.AdminSeatFilled, self.on_admin_seat_filled)
        router.register(school_pb2.SchoolUpdated, self.on_school_updated)
        router.register(school_pb2.InviteAccepted, self.on_invite_accepted)
        # chat
        router.register(chat_pb2.ChatCreated, self.on_chat_created)
        router.register(chat_pb2.MemberAdded, self.on_chat_member_added)
        router.register(chat_pb2.MessagePosted, self.on_message)
        router.register(chat_pb2.MessageEdited, self.on_message)
        router.register(chat_pb2.MessageDeleted, self.on_message_deleted)
        router.register(chat_pb2.ReportDecided, self.on_report_decided)
        router.register(chat_pb2.ChatArchivedForRetention, self.on_retention_archived)
        router.register(chat_pb2.ChatPurged, self.on_retention_purged)
        router.register(chat_pb2.MessageReported, self.on_message_reported)
        router.register(chat_pb2.MemberMuted, self.on_member_muted)
        router.register(chat_pb2.MemberRemoved, self.on_chat_member_removed)
        router.register(chat_pb2.ChatUpdated, self.on_chat_updated)
        # media-signal
        router.register(media_pb2.RoomScheduled, self.on_room)
        router.register(media_pb2.RoomStarted, self.on_room)
        router.register(media_pb2.RoomEnded, self.on_room)
        router.register(media_pb2.ParticipantJoined, self.on_participant)
        router.register(media_pb2.ParticipantLeft, self.on_participant)
        # family export (api/exports.py)
        self.register_exports(router)
        return router

    async def __call__(self, envelope: Envelope) -> None:
        await self._router(envelope)

    async def _emit(
        self,
        envelope: Envelope,
        schools: Iterable[str],
        kind: str,
        actor: str,
        subjects: Iterable[str],
        attrs: dict[str, str],
        occurred_at: datetime | None = None,
    ) -> None:
        at = occurred_at or _time(envelope.occurred_at) or datetime.now(UTC)
        for school_id in sorted(set(schools)):
            if not school_id:
                continue
            await self._record(
                Record(
                    school_id=school_id,
                    kind=kind,
                    actor=actor,
                    subjects=_ids(*subjects),
                    occurred_at=at,
                    source=envelope.event_id,
                    source_type=envelope.event_type,
                    attrs={k: v for k, v in attrs.items() if v != ""},
                )
            )

    # ---- identity: about people, so recorded in every school the people are in ------------------

    async def _schools(self, *user_ids: str, including_left: bool = False) -> set[str]:
        found: set[str] = set()
        for user_id in _ids(*user_ids):
            found |= await self._dir.schools_of(user_id, including_left=including_left)
        return found

    async def on_profile(self, msg: ProfileEvent, envelope: Envelope) -> None:
        p = msg.profile
        minor = p.age_band != identity_pb2.AGE_BAND_ADULT if p.age_band else p.is_minor
        await self._dir.apply_minor(p.user_id, envelope.aggregate_version, minor)

    async def on_age_band_changed(self, msg: identity_pb2.ProfileAgeBandChanged, envelope: Envelope) -> None:
        minor = msg.age_band != identity_pb2.AGE_BAND_ADULT
        await self._dir.apply_minor(msg.user_id, envelope.aggregate_version, minor)
        await self._emit(
            envelope,
            await self._schools(msg.user_id),
            "identity.age_band_changed",
            "",
            [msg.user_id],
            {
                "age_band": AGE_BANDS.get(msg.age_band, ""),
                "previous_age_band": AGE_BANDS.get(msg.previous_age_band, ""),
                "consent_state": CONSENT.get(msg.consent_state, ""),
            },
        )

    async def on_consent_changed(self, msg: identity_pb2.ConsentChanged, envelope: Envelope) -> None:
        await self._emit(
            envelope,
            await self._schools(msg.user_id),
            "identity.consent_changed",
            msg.guardian_user_id,
            [msg.user_id],
            {"consent_state": CONSENT.get(msg.consent_state, "")},
        )

    async def on_guardian_linked(self, msg: identity_pb2.GuardianLinked, envelope: Envelope) -> None:
        await self._emit(
            envelope,
            await self._schools(msg.child_user_id, msg.guardian_user_id),
            "identity.guardian_linked",
            msg.guardian_user_id,
            [msg.child_user_id],
            {"confirmed": "true" if msg.confirmed else "false"},
        )

    async def on_guardian_unlinked(self, msg: identity_pb2.GuardianUnlinked, envelope: Envelope) -> None:
        await self._emit(
            envelope,
            await self._schools(msg.child_user_id, msg.guardian_user_id),
            "identity.guardian_unlinked",
            msg.unlinked_by_user_id,
            [msg.guardian_user_id, msg.child_user_id],
            {},
        )

    async def on_birth_date_change_requested(
        self, msg: identity_pb2.BirthDateChangeRequested, envelope: Envelope
    ) -> None:
        await self._emit(
            envelope,
            await self._schools(msg.user_id),
            "identity.birth_date_change_requested",
            msg.user_id,
            [msg.user_id],
            {
                "age_band": AGE_BANDS.get(msg.age_band, ""),
                "requested_age_band": AGE_BANDS.get(msg.requested_age_band, ""),
            },
        )

    async def on_birth_date_change_confirmed(
        self, msg: identity_pb2.BirthDateChangeConfirmed, envelope: Envelope
    ) -> None:
        await self._emit(
            envelope,
            await self._schools(msg.user_id),
            "identity.birth_date_change_confirmed",
            msg.confirmed_by_user_id,
            [msg.user_id],
            {
                "confirmed_as": msg.confirmed_as,
                "previous_age_band": AGE_BANDS.get(msg.previous_age_band, ""),
                "age_band": AGE_BANDS.get(msg.age_band, ""),
            },
        )

    async def on_birth_date_change_declined(
        self, msg: identity_pb2.BirthDateChangeDeclined, envelope: Envelope
    ) -> None:
        await self._emit(
            envelope,
            await self._schools(msg.user_id),
            "identity.birth_date_change_declined",
            msg.declined_by_user_id,
            [msg.user_id],
            {"declined_as": msg.declined_as},
        )

    async def on_birth_date_corrected(self, msg: identity_pb2.BirthDateCorrected, envelope: Envelope) -> None:
        """A correction within the same band: that it happened and by whom, never the date."""
        await self._emit(
            envelope,
            await self._schools(msg.user_id),
            "identity.birth_date_corrected",
            msg.corrected_by_user_id,
            [msg.user_id],
            {"age_band": AGE_BANDS.get(msg.age_band, "")},
        )

    async def on_account_deleted(self, msg: identity_pb2.AccountDeleted, envelope: Envelope) -> None:
        # School ends the memberships on this same event: the schools the person was ever in.
        await self._emit(
            envelope,
            await self._schools(msg.user_id, including_left=True),
            "identity.account_deleted",
            msg.deleted_by_user_id or msg.user_id,  # a guardian who deleted a young child's account
            [msg.user_id],
            {},
            occurred_at=_time(msg.deleted_at),
        )

    async def on_erasure_report(self, msg: erasure_pb2.ErasureReported, envelope: Envelope) -> None:
        """What one service removed for an erased account: counts only (never content), in every
        school the person was ever a member of, as the account deletion itself."""
        counts = {c.what: str(c.count) for c in msg.removed if c.what and c.what != "service"}
        await self._emit(
            envelope,
            await self._schools(msg.user_id, including_left=True),
            "erasure.report",
            msg.requested_by_user_id or msg.user_id,
            [msg.user_id],
            {"service": msg.service, **counts},
            occurred_at=_time(msg.erased_at),
        )

    # ---- school ----------------------------------------------------------------------------------

    async def on_membership(self, msg: MembershipEvent, envelope: Envelope) -> None:
        m = msg.membership
        left = isinstance(msg, school_pb2.MemberLeft)
        await self._dir.apply_membership(
            m.membership_id,
            envelope.aggregate_version,
            {
                "school_id": m.school_id,
                "user_id": m.user_id,
                "school_role": SCHOOL_ROLES.get(m.school_role, ""),
                "active": not left,
            },
        )
        await self._emit(
            envelope,
            [m.school_id],
            MEMBERSHIP_KINDS[type(msg)],
            # Who changed or ended the seat (empty when no person did, and for joins: the join's own
            # entry, school.invite_used / school.join_request_decided, names who).
            "" if isinstance(msg, school_pb2.MemberJoined) else msg.actor_user_id,
            [m.user_id, m.child_user_id],
            {
                "membership_id": m.membership_id,
                "school_role": SCHOOL_ROLES.get(m.school_role, ""),
                "class_id": m.class_id,
                "class_role": CLASS_ROLES.get(m.class_role, ""),
                "child_user_id": m.child_user_id,
                "subject": m.subject,
                "verified": "true" if m.verified else "false",
                "reason": msg.reason if isinstance(msg, school_pb2.MemberLeft) else "",
            },
        )

    async def on_staff_verified(self, msg: school_pb2.StaffVerified, envelope: Envelope) -> None:
        await self._emit(envelope, [msg.school_id], "school.staff_verified", msg.verified_by_user_id, [msg.user_id], {})

    async def on_join_requested(self, msg: school_pb2.JoinRequested, envelope: Envelope) -> None:
        await self._emit(
            envelope,
            [msg.school_id],
            "school.join_requested",
            msg.user_id,
            [msg.user_id, msg.child_user_id],
            {
                "join_request_id": msg.join_request_id,
                "class_id": msg.class_id,
                "school_role": SCHOOL_ROLES.get(msg.school_role, ""),
                "class_role": CLASS_ROLES.get(msg.class_role, ""),
                "child_user_id": msg.child_user_id,
            },
        )

    async def on_join_request_decided(self, msg: school_pb2.JoinRequestDecided, envelope: Envelope) -> None:
        await self._emit(
            envelope,
            [msg.school_id],
            "school.join_request_decided",
            msg.decided_by_user_id,
            [msg.user_id],
            {
                "join_request_id": msg.join_request_id,
                "class_id": msg.class_id,
                "state": JOIN_STATES.get(msg.state, ""),
            },
        )

    async def on_invite(self, msg: InviteEvent, envelope: Envelope) -> None:
        i = msg.invite
        created = isinstance(msg, school_pb2.InviteCreated)
        expires = _time(i.expires_at)
        await self._emit(
            envelope,
            [i.school_id],
            "school.invite_created" if created else "school.invite_revoked",
            i.created_by_user_id if isinstance(msg, school_pb2.InviteCreated) else msg.actor_user_id,
            [i.child_user_id],
            {
                "invite_id": i.invite_id,
                "school_role": SCHOOL_ROLES.get(i.role, ""),
                "class_id": i.class_id,
                "child_user_id": i.child_user_id,
                "max_uses": str(i.max_uses),
                "requires_approval": "true" if i.requires_approval else "false",
                "expires_at": expires.isoformat() if expires else "",
                "created_by_user_id": i.created_by_user_id,
            },
        )

    async def on_admin_seat_vacated(self, msg: school_pb2.AdminSeatVacated, envelope: Envelope) -> None:
        await self._emit(envelope, [msg.school.school_id], "school.admin_seat_vacated", "", [], {"reason": msg.reason})

    async def on_admin_seat_filled(self, msg: school_pb2.AdminSeatFilled, envelope: Envelope) -> None:
        await self._emit(
            envelope,
            [msg.school.school_id],
            "school.admin_appointed",
            msg.appointed_by_user_id,
            [msg.admin_user_id],
            {},
        )

    async def on_school_updated(self, msg: school_pb2.SchoolUpdated, envelope: Envelope) -> None:
        policy = msg.school.communication_policy
        switches = {f.name: "true" if value else "false" for f, value in policy.ListFields()}
        await self._emit(
            envelope,
            [msg.school.school_id],
            "school.settings_updated",
            msg.actor_user_id,
            [],
            {"policy." + k: v for k, v in switches.items()} | _retention_attrs(msg.school.retention),
        )

    async def on_invite_accepted(self, msg: school_pb2.InviteAccepted, envelope: Envelope) -> None:
        """Which invite a person used (the seats follow as MemberJoined, or a JoinRequested)."""
        await self._emit(
            envelope,
            [msg.school_id],
            "school.invite_used",
            msg.user_id,
            [msg.user_id, msg.child_user_id],
            {
                "invite_id": msg.invite_id,
                "school_role": SCHOOL_ROLES.get(msg.role, ""),
                "class_id": msg.class_id,
                "child_user_id": msg.child_user_id,
                "requires_approval": "true" if msg.requires_approval else "false",
                "created_by_user_id": msg.created_by_user_id,
            },
            occurred_at=_time(msg.accepted_at),
        )

    # ---- chat: direct messages (metadata only) and deletions -------------------------------------

    async def on_chat_created(self, msg: chat_pb2.ChatCreated, envelope: Envelope) -> None:
        c = msg.chat
        if c.kind != chat_pb2.CHAT_KIND_DIRECT:
            return
        # A direct chat names its two people in created_by ("low,high"); MemberAdded confirms them.
        members = [u for u in c.created_by_user_id.split(",") if u]
        await self._dir.save_direct_chat(c.chat_id, c.school_id, members)

    async def on_chat_member_added(self, msg: chat_pb2.MemberAdded, envelope: Envelope) -> None:
        chat = await self._dir.direct_chat(msg.chat_id) if msg.chat_id.startswith("dm-") else None
        if chat is not None and msg.user_id not in chat.get("members", []):
            await self._dir.save_direct_chat(msg.chat_id, chat["school_id"], [msg.user_id])

    async def on_message(self, msg: MessageEvent, envelope: Envelope) -> None:
        m = msg.message
        if m.system:
            return
        chat = await self._dir.direct_chat(m.chat_id)
        if chat is None:
            return  # not a direct chat: class and group chats are visible to their members
        school_id = m.school_id or chat.get("school_id", "")
        peers = [u for u in chat.get("members", []) if u != m.sender_user_id]
        pair = await self._pair(school_id, m.sender_user_id, peers)
        if pair is None:
            return
        edited = isinstance(msg, chat_pb2.MessageEdited)
        await self._emit(
            envelope,
            [school_id],
            "chat.direct_message_edited" if edited else "chat.direct_message",
            m.sender_user_id,
            peers,
            {
                "chat_id": m.chat_id,
                "message_id": m.message_id,
                "seq": str(m.seq),
                "pair": pair,
                "files": str(len(m.file_ids)) if m.file_ids else "",
            },
            occurred_at=_time(m.edited_at) if edited else _time(m.sent_at),
        )

    async def on_message_deleted(self, msg: chat_pb2.MessageDeleted, envelope: Envelope) -> None:
        m = msg.message
        chat = await self._dir.direct_chat(m.chat_id)
        school_id = m.school_id or (chat or {}).get("school_id", "")
        await self._emit(
            envelope,
            [school_id],
            "chat.message_deleted",
            msg.deleted_by_user_id,
            # In a direct chat the other person too: "what was deleted from my child's conversations".
            [m.sender_user_id, *(chat or {}).get("members", [])],
            {
                "chat_id": m.chat_id,
                "message_id": m.message_id,
                "seq": str(m.seq),
                "direct": "true" if chat is not None else "false",
                "by_moderator": "true" if msg.deleted_by_user_id != m.sender_user_id else "false",
                # The event carries the message after deletion (text and files cleared) and chat's
                # seal of what was deleted (docs/audit.md, "Sealed deletions"); no seal: chat runs
                # without a sealing key.
                "content": "sealed" if msg.content_seal else "not_sealed",
                "content_seal": msg.content_seal,
                "seal_key_id": msg.seal_key_id,
            },
        )

    async def _pair(self, school_id: str, sender: str, peers: list[str]) -> str | None:
        if not peers:
            return contact_pair(None, None)
        me, *others = await asyncio.gather(*(self._dir.person(school_id, u) for u in (sender, *peers)))
        for other in others:
            label = contact_pair(me, other)
            if label is not None:
                return label
        return None

    # ---- media-signal: calls (metadata only) ------------------------------------------------------

    async def on_room(self, msg: RoomEvent, envelope: Envelope) -> None:
        r = msg.room
        kind = ROOM_KINDS.get(r.kind, "")
        await self._dir.save_room(
            r.room_id, {"school_id": r.school_id, "kind": kind, "host": r.host_user_id, "class_id": r.class_id}
        )
        if kind != "call":
            return
        if isinstance(msg, media_pb2.RoomStarted):
            await self._emit(
                envelope,
                [r.school_id],
                "media.call_started",
                r.host_user_id,
                [],
                {"room_id": r.room_id, "class_id": r.class_id},
                occurred_at=_time(msg.started_at),
            )
        elif isinstance(msg, media_pb2.RoomEnded):
            attendance = [a for a in msg.attendance if a.user_id]
            await self._emit(
                envelope,
                [r.school_id],
                "media.call_ended",
                r.host_user_id,
                [a.user_id for a in attendance],
                {
                    "room_id": r.room_id,
                    "class_id": r.class_id,
                    "attendance": ",".join(f"{a.user_id}:{a.total_seconds}" for a in attendance),
                },
                occurred_at=_time(msg.ended_at),
            )
        # RoomScheduled: only the room projection above.

    async def on_participant(self, msg: ParticipantEvent, envelope: Envelope) -> None:
        room = await self._dir.room(msg.room_id) or {}
        if room.get("kind", "call") != "call":
            return  # lessons and broadcasts are a class's, recorded by media-signal's attendance
        host = room.get("host", "")
        if isinstance(msg, media_pb2.ParticipantJoined):
            kind, reason, at = "media.call_joined", "", _time(msg.joined_at)
        else:
            kind, reason, at = "media.call_left", msg.reason, _time(msg.left_at)
        await self._emit(
            envelope,
            [msg.school_id or room.get("school_id", "")],
            kind,
            msg.user_id,
            [host] if host and host != msg.user_id else [],
            {"room_id": msg.room_id, "reason": reason},
            occurred_at=at,
        )

    async def on_report_decided(self, msg: chat_pb2.ReportDecided, envelope: Envelope) -> None:
        """A moderator's decision on a report: who decided, about whose message, reported by whom.
        The moderator's note (the why) stays in chat's queue: no free text on the bus."""
        await self._emit(
            envelope,
            [msg.school_id],
            "chat.report_decided",
            msg.moderator_user_id,
            [msg.author_user_id, msg.reporter_user_id],
            {
                "report_id": msg.report_id,
                "chat_id": msg.chat_id,
                "message_id": msg.message_id,
                "seq": str(msg.seq),
                "actions": ",".join(msg.actions),
            },
            occurred_at=_time(msg.decided_at),
        )

    # ---- chat: retention of ended academic years (docs/chat.md "Retention") ----------------------

    async def on_retention_archived(self, msg: chat_pb2.ChatArchivedForRetention, envelope: Envelope) -> None:
        """Chat's retention job archived a chat of an ended year: done by the school's rule, no actor."""
        await self._emit(
            envelope,
            [msg.school_id],
            "retention.archived",
            "",
            [],
            _retention_chat_attrs(msg.chat_id, msg.class_id, msg.kind, msg.counts)
            | {
                "retained_from": _iso(_time(msg.retained_from)),
                "purge_after": _iso(_time(msg.purge_after)),
                "archive_file_id": msg.archive_file_id,
            },
            occurred_at=_time(msg.archived_at),
        )

    async def on_retention_purged(self, msg: chat_pb2.ChatPurged, envelope: Envelope) -> None:
        """A chat of an ended year purged: what went, in counts (no names, no text)."""
        await self._emit(
            envelope,
            [msg.school_id],
            "retention.purged",
            "",
            [],
            _retention_chat_attrs(msg.chat_id, msg.class_id, msg.kind, msg.counts)
            | {"retained_from": _iso(_time(msg.retained_from))},
            occurred_at=_time(msg.purged_at),
        )

    # ---- chat: moderation ------------------------------------------------------------------------

    async def on_message_reported(self, msg: chat_pb2.MessageReported, envelope: Envelope) -> None:
        """A member reported a message: who, whose, which. The reason stays in chat's queue."""
        await self._emit(
            envelope,
            [msg.school_id],
            "chat.message_reported",
            msg.reporter_user_id,
            [msg.author_user_id],
            {"report_id": msg.report_id, "chat_id": msg.chat_id, "message_id": msg.message_id, "seq": str(msg.seq)},
            occurred_at=_time(msg.reported_at),
        )

    async def on_member_muted(self, msg: chat_pb2.MemberMuted, envelope: Envelope) -> None:
        until = _time(msg.muted_until)
        await self._emit(
            envelope,
            [msg.school_id],
            "chat.member_muted" if until else "chat.member_unmuted",
            msg.muted_by_user_id,
            [msg.user_id],
            {"chat_id": msg.chat_id, "muted_until": _iso(until)},
            occurred_at=_time(msg.muted_at),
        )

    async def on_chat_member_removed(self, msg: chat_pb2.MemberRemoved, envelope: Envelope) -> None:
        """A person removed someone from a chat (or left it). Removals no person made here (school's
        memberships ended) are school's entries already."""
        if not msg.removed_by_user_id:
            return
        chat = await self._dir.direct_chat(msg.chat_id) if msg.chat_id.startswith("dm-") else None
        await self._emit(
            envelope,
            [msg.school_id or (chat or {}).get("school_id", "")],
            "chat.member_removed",
            msg.removed_by_user_id,
            [msg.user_id],
            {"chat_id": msg.chat_id, "left": "true" if msg.removed_by_user_id == msg.user_id else "false"},
        )

    async def on_chat_updated(self, msg: chat_pb2.ChatUpdated, envelope: Envelope) -> None:
        """A person changed a chat's settings or pins (UpdateChat, PinMessage): the settings as they
        are now. Changes no person made (provisioning from school's events) are not recorded here."""
        c = msg.chat
        if not msg.changed_by_user_id or c.kind == chat_pb2.CHAT_KIND_DIRECT:
            return
        await self._emit(
            envelope,
            [c.school_id],
            "chat.settings_changed",
            msg.changed_by_user_id,
            [],
            {
                "chat_id": c.chat_id,
                "chat_kind": CHAT_KINDS.get(c.kind, ""),
                "posting_policy": POSTING_POLICIES.get(c.posting_policy, ""),
                "slow_mode_seconds": str(c.slow_mode_seconds),
                "read_only": "true" if c.read_only else "false",
                "pinned": str(len(c.pinned_seqs)),
            },
        )


def _retention_chat_attrs(chat_id: str, class_id: str, kind: int, counts: chat_pb2.RetentionCounts) -> dict[str, str]:
    return {
        "chat_id": chat_id,
        "class_id": class_id,
        "chat_kind": chat_pb2.ChatKind.Name(kind).removeprefix("CHAT_KIND_").lower(),  # type: ignore[arg-type]
        "messages": str(counts.messages),
        "files_deleted": str(counts.files_deleted),
        "files_detached": str(counts.files_detached),
        "members": str(counts.members),
    }


def _retention_attrs(r: school_pb2.RetentionPolicy) -> dict[str, str]:
    """The school's retention as its snapshot carries it (absent from older producers: nothing)."""
    if not (r.keep_days or r.archive_grace_days):
        return {}
    return {"retention.keep_days": str(r.keep_days), "retention.archive_grace_days": str(r.archive_grace_days)}
