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
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from parta.chat.v1 import events_pb2 as chat_pb2
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity_pb2
from parta.media_signal.v1 import events_pb2 as media_pb2
from parta.school.v1 import events_pb2 as school_pb2
from parta_common.events import topics
from parta_common.events.envelope import unpack

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
)

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
ROOM_KINDS = {
    media_pb2.ROOM_KIND_CALL: "call",
    media_pb2.ROOM_KIND_LESSON: "lesson",
    media_pb2.ROOM_KIND_BROADCAST: "broadcast",
}

Record_ = Callable[[Record], Awaitable[object]]


def _time(ts: Timestamp) -> datetime | None:
    if not ts.seconds and not ts.nanos:
        return None
    return ts.ToDatetime(tzinfo=UTC)


def _ids(*values: str) -> tuple[str, ...]:
    """Non-empty ids, first occurrence kept, in order."""
    return tuple(dict.fromkeys(v for v in values if v))


class Recorder:
    """The one event handler of the audit service."""

    def __init__(self, directory: Directory, record: Record_):
        self._dir = directory
        self._record = record

    async def __call__(self, envelope: envelope_pb2.EventEnvelope) -> None:
        package, _, name = envelope.event_type.rpartition(".")
        handler = {
            "parta.identity.v1": self._identity,
            "parta.school.v1": self._school,
            "parta.chat.v1": self._chat,
            "parta.media_signal.v1": self._media,
        }.get(package)
        if handler is not None:
            await handler(envelope, name)

    async def _emit(
        self,
        envelope: envelope_pb2.EventEnvelope,
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

    async def _identity(self, envelope: envelope_pb2.EventEnvelope, name: str) -> None:
        msg: Any
        if name in ("ProfileCreated", "ProfileUpdated"):
            msg = unpack(envelope, getattr(identity_pb2, name))
            p = msg.profile
            minor = p.age_band != identity_pb2.AGE_BAND_ADULT if p.age_band else p.is_minor
            await self._dir.apply_minor(p.user_id, envelope.aggregate_version, minor)
            return
        if name == "ProfileAgeBandChanged":
            msg = unpack(envelope, identity_pb2.ProfileAgeBandChanged)
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
        elif name == "ConsentChanged":
            msg = unpack(envelope, identity_pb2.ConsentChanged)
            await self._emit(
                envelope,
                await self._schools(msg.user_id),
                "identity.consent_changed",
                msg.guardian_user_id,
                [msg.user_id],
                {"consent_state": CONSENT.get(msg.consent_state, "")},
            )
        elif name == "GuardianLinked":
            msg = unpack(envelope, identity_pb2.GuardianLinked)
            await self._emit(
                envelope,
                await self._schools(msg.child_user_id, msg.guardian_user_id),
                "identity.guardian_linked",
                msg.guardian_user_id,
                [msg.child_user_id],
                {"confirmed": "true" if msg.confirmed else "false"},
            )
        elif name == "GuardianUnlinked":
            msg = unpack(envelope, identity_pb2.GuardianUnlinked)
            await self._emit(
                envelope,
                await self._schools(msg.child_user_id, msg.guardian_user_id),
                "identity.guardian_unlinked",
                "",
                [msg.guardian_user_id, msg.child_user_id],
                {},
            )
        elif name == "BirthDateChangeRequested":
            msg = unpack(envelope, identity_pb2.BirthDateChangeRequested)
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
        elif name == "BirthDateChangeConfirmed":
            msg = unpack(envelope, identity_pb2.BirthDateChangeConfirmed)
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
        elif name == "BirthDateChangeDeclined":
            msg = unpack(envelope, identity_pb2.BirthDateChangeDeclined)
            await self._emit(
                envelope,
                await self._schools(msg.user_id),
                "identity.birth_date_change_declined",
                msg.declined_by_user_id,
                [msg.user_id],
                {"declined_as": msg.declined_as},
            )
        elif name == "AccountDeleted":
            msg = unpack(envelope, identity_pb2.AccountDeleted)
            # School ends the memberships on this same event: the schools the person was ever in.
            await self._emit(
                envelope,
                await self._schools(msg.user_id, including_left=True),
                "identity.account_deleted",
                msg.user_id,
                [msg.user_id],
                {},
                occurred_at=_time(msg.deleted_at),
            )
        # UserRegistered, SessionRevoked: not about a school (sign-in and sessions are identity's own log).

    # ---- school ----------------------------------------------------------------------------------

    async def _school(self, envelope: envelope_pb2.EventEnvelope, name: str) -> None:
        msg: Any
        if name in ("MemberJoined", "MemberRoleChanged", "MemberLeft"):
            msg = unpack(envelope, getattr(school_pb2, name))
            m = msg.membership
            await self._dir.apply_membership(
                m.membership_id,
                envelope.aggregate_version,
                {
                    "school_id": m.school_id,
                    "user_id": m.user_id,
                    "school_role": SCHOOL_ROLES.get(m.school_role, ""),
                    "active": name != "MemberLeft",
                },
            )
            kind = {
                "MemberJoined": "school.member_joined",
                "MemberRoleChanged": "school.role_changed",
                "MemberLeft": "school.member_left",
            }[name]
            await self._emit(
                envelope,
                [m.school_id],
                kind,
                "",
                [m.user_id, m.child_user_id],
                {
                    "membership_id": m.membership_id,
                    "school_role": SCHOOL_ROLES.get(m.school_role, ""),
                    "class_id": m.class_id,
                    "class_role": CLASS_ROLES.get(m.class_role, ""),
                    "child_user_id": m.child_user_id,
                    "subject": m.subject,
                    "verified": "true" if m.verified else "false",
                    "reason": msg.reason if name == "MemberLeft" else "",
                },
            )
        elif name == "StaffVerified":
            msg = unpack(envelope, school_pb2.StaffVerified)
            await self._emit(
                envelope, [msg.school_id], "school.staff_verified", msg.verified_by_user_id, [msg.user_id], {}
            )
        elif name == "JoinRequested":
            msg = unpack(envelope, school_pb2.JoinRequested)
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
        elif name == "JoinRequestDecided":
            msg = unpack(envelope, school_pb2.JoinRequestDecided)
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
        elif name in ("InviteCreated", "InviteRevoked"):
            msg = unpack(envelope, getattr(school_pb2, name))
            i = msg.invite
            expires = _time(i.expires_at)
            await self._emit(
                envelope,
                [i.school_id],
                "school.invite_created" if name == "InviteCreated" else "school.invite_revoked",
                # Who revoked is not in the event (docs/audit.md, gaps): the creator is named as such.
                i.created_by_user_id if name == "InviteCreated" else "",
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
        elif name == "AdminSeatVacated":
            msg = unpack(envelope, school_pb2.AdminSeatVacated)
            await self._emit(
                envelope, [msg.school.school_id], "school.admin_seat_vacated", "", [], {"reason": msg.reason}
            )
        elif name == "AdminSeatFilled":
            msg = unpack(envelope, school_pb2.AdminSeatFilled)
            await self._emit(
                envelope,
                [msg.school.school_id],
                "school.admin_appointed",
                msg.appointed_by_user_id,
                [msg.admin_user_id],
                {},
            )
        elif name == "SchoolUpdated":
            msg = unpack(envelope, school_pb2.SchoolUpdated)
            policy = msg.school.communication_policy
            switches = {f.name: "true" if value else "false" for f, value in policy.ListFields()}
            await self._emit(
                envelope,
                [msg.school.school_id],
                "school.settings_updated",
                "",
                [],
                {"policy." + k: v for k, v in switches.items()},
            )
        # SchoolCreated, classes, academic years: not about a person's safety or data.

    # ---- chat: direct messages (metadata only) and deletions -------------------------------------

    async def _chat(self, envelope: envelope_pb2.EventEnvelope, name: str) -> None:
        msg: Any
        if name == "ChatCreated":
            msg = unpack(envelope, chat_pb2.ChatCreated)
            c = msg.chat
            if c.kind != chat_pb2.CHAT_KIND_DIRECT:
                return
            # A direct chat names its two people in created_by ("low,high"); MemberAdded confirms them.
            members = [u for u in c.created_by_user_id.split(",") if u]
            await self._dir.save_direct_chat(c.chat_id, c.school_id, members)
        elif name == "MemberAdded":
            msg = unpack(envelope, chat_pb2.MemberAdded)
            chat = await self._dir.direct_chat(msg.chat_id) if msg.chat_id.startswith("dm-") else None
            if chat is not None and msg.user_id not in chat.get("members", []):
                await self._dir.save_direct_chat(msg.chat_id, chat["school_id"], [msg.user_id])
        elif name in ("MessagePosted", "MessageEdited"):
            msg = unpack(envelope, getattr(chat_pb2, name))
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
            await self._emit(
                envelope,
                [school_id],
                "chat.direct_message" if name == "MessagePosted" else "chat.direct_message_edited",
                m.sender_user_id,
                peers,
                {
                    "chat_id": m.chat_id,
                    "message_id": m.message_id,
                    "seq": str(m.seq),
                    "pair": pair,
                    "files": str(len(m.file_ids)) if m.file_ids else "",
                },
                occurred_at=_time(m.edited_at) if name == "MessageEdited" else _time(m.sent_at),
            )
        elif name == "MessageDeleted":
            msg = unpack(envelope, chat_pb2.MessageDeleted)
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
                    # The event carries the message after deletion: text and files already cleared.
                    "content": "not_carried_by_event",
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

    async def _media(self, envelope: envelope_pb2.EventEnvelope, name: str) -> None:
        msg: Any
        if name in ("RoomScheduled", "RoomStarted", "RoomEnded"):
            msg = unpack(envelope, getattr(media_pb2, name))
            r = msg.room
            kind = ROOM_KINDS.get(r.kind, "")
            await self._dir.save_room(
                r.room_id, {"school_id": r.school_id, "kind": kind, "host": r.host_user_id, "class_id": r.class_id}
            )
            if kind != "call" or name == "RoomScheduled":
                return
            if name == "RoomStarted":
                await self._emit(
                    envelope,
                    [r.school_id],
                    "media.call_started",
                    r.host_user_id,
                    [],
                    {"room_id": r.room_id, "class_id": r.class_id},
                    occurred_at=_time(msg.started_at),
                )
            else:
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
        elif name in ("ParticipantJoined", "ParticipantLeft"):
            msg = unpack(envelope, getattr(media_pb2, name))
            room = await self._dir.room(msg.room_id) or {}
            if room.get("kind", "call") != "call":
                return  # lessons and broadcasts are a class's, recorded by media-signal's attendance
            host = room.get("host", "")
            await self._emit(
                envelope,
                [msg.school_id or room.get("school_id", "")],
                "media.call_joined" if name == "ParticipantJoined" else "media.call_left",
                msg.user_id,
                [host] if host and host != msg.user_id else [],
                {"room_id": msg.room_id, "reason": msg.reason if name == "ParticipantLeft" else ""},
                occurred_at=_time(msg.joined_at if name == "ParticipantJoined" else msg.left_at),
            )
