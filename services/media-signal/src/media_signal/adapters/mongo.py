"""MongoDB adapters: rooms (with their outbox and owner lease) and the membership projection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from parta.media_signal.v1 import events_pb2
from parta_common.errors import ConcurrentChange
from parta_common.events.envelope import OutboxRecord
from parta_common.events.outbox import merge_updates, outbox_fields, outbox_index, outbox_push
from parta_common.events.writer import Aggregate, OutboxWriter
from parta_common.mongo import Document, apply_versioned
from parta_common.safety import PolicyRow, SchoolPolicy
from parta_common.timestamps import ts
from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from media_signal.app.ports import Owner
from media_signal.domain import events
from media_signal.domain.rooms import Access, AttendanceEntry, Membership, Room, RoomKind, RoomState, ScreenShare

ROOMS = "rooms"
MEMBERSHIPS = "memberships"
CLASSES = "classes"
# Consent state per person, projected from identity (IdentityEventProjector).
PROFILES = "profiles"
# Each school's communication policy, projected from school.school.v1 (SchoolEventProjector).
SCHOOLS = "schools"
PRODUCER = "media-signal"

_KIND_PB = {
    RoomKind.CALL: events_pb2.ROOM_KIND_CALL,
    RoomKind.LESSON: events_pb2.ROOM_KIND_LESSON,
    RoomKind.BROADCAST: events_pb2.ROOM_KIND_BROADCAST,
}


def indexes() -> dict[str, list[IndexModel]]:
    return {
        ROOMS: [outbox_index(), IndexModel([("school_id", 1), ("state", 1)], name="school_state")],
        MEMBERSHIPS: [IndexModel([("school_id", 1), ("user_id", 1), ("active", 1)], name="school_user")],
        CLASSES: [],
        # PolicySync reads the schools whose projection changed since its last pass.
        SCHOOLS: [IndexModel([("policy_at", 1)], name="by_policy_at")],
    }


def room_snapshot(room: Room) -> events_pb2.RoomSnapshot:
    snap = events_pb2.RoomSnapshot(
        room_id=room.room_id,
        school_id=room.school_id,
        class_id=room.class_id,
        kind=_KIND_PB[room.kind],
        title=room.title,
        host_user_id=room.host_user_id,
        timetable_slot_id=room.timetable_slot_id,
        duration_minutes=room.duration_minutes,
    )
    if room.scheduled_for is not None:
        snap.scheduled_for.CopyFrom(ts(room.scheduled_for))
    return snap


def event_message(event: object) -> Message:
    if isinstance(event, events.RoomScheduled):
        return events_pb2.RoomScheduled(room=room_snapshot(event.room))
    if isinstance(event, events.RoomStarted):
        return events_pb2.RoomStarted(room=room_snapshot(event.room), started_at=ts(event.started_at))
    if isinstance(event, events.RoomEnded):
        return events_pb2.RoomEnded(
            room=room_snapshot(event.room),
            ended_at=ts(event.ended_at),
            attendance=[
                events_pb2.AttendanceRecord(
                    user_id=user_id,
                    first_joined_at=ts(entry.first_joined_at),
                    last_left_at=ts(entry.last_left_at),
                    total_seconds=round(entry.total_seconds),
                )
                for user_id, entry in sorted(event.attendance.items())
            ],
        )
    if isinstance(event, events.RoomCancelled):
        return events_pb2.RoomCancelled(room=room_snapshot(event.room), cancelled_at=ts(event.cancelled_at))
    if isinstance(event, events.RoomRescheduled):
        return events_pb2.RoomRescheduled(room=room_snapshot(event.room), previous=room_snapshot(event.previous))
    if isinstance(event, events.ParticipantJoined):
        return events_pb2.ParticipantJoined(
            room_id=event.room_id, school_id=event.school_id, user_id=event.user_id, joined_at=ts(event.joined_at)
        )
    if isinstance(event, events.ParticipantLeft):
        return events_pb2.ParticipantLeft(
            room_id=event.room_id,
            school_id=event.school_id,
            user_id=event.user_id,
            left_at=ts(event.left_at),
            reason=event.reason,
        )
    raise TypeError(f"not a room event: {type(event).__name__}")


def _attendance_doc(entry: AttendanceEntry) -> Document:
    return {
        "first_joined_at": entry.first_joined_at,
        "last_left_at": entry.last_left_at,
        "total_seconds": entry.total_seconds,
        "open_streams": entry.open_streams,
        "open_since": entry.open_since,
        "intervals": [{"joined_at": j, "left_at": left} for j, left in entry.intervals],
    }


def room_to_doc(room: Room) -> Document:
    return {
        "_id": room.room_id,
        "school_id": room.school_id,
        "class_id": room.class_id,
        "kind": room.kind.value,
        "title": room.title,
        "host_user_id": room.host_user_id,
        "created_at": room.created_at,
        "scheduled_for": room.scheduled_for,
        "state": room.state.value,
        "max_participants": room.max_participants,
        "waiting_room": room.waiting_room,
        "invited_user_ids": list(room.invited_user_ids),
        "presenter_user_ids": list(room.presenter_user_ids),
        "started_at": room.started_at,
        "ended_at": room.ended_at,
        "version": room.version,
        # User ids may contain dots; attendance is a list keyed inside, never by field name.
        "attendance": [{"user_id": u, **_attendance_doc(e)} for u, e in room.attendance.items()],
        # Which SFU room (and SFU) serves the room now; None when it has none.
        "sfu": {"room": room.sfu_room, "instance": room.sfu_instance} if room.sfu_room else None,
        "timetable_slot_id": room.timetable_slot_id,
        "duration_minutes": room.duration_minutes,
        "group_call": room.group_call,
        "screen_share": room.screen_share.value,
        "locked": room.locked,
    }


def room_from_doc(doc: Document) -> Room:
    return Room(
        room_id=doc["_id"],
        school_id=doc["school_id"],
        class_id=doc.get("class_id", ""),
        kind=RoomKind(doc["kind"]),
        title=doc["title"],
        host_user_id=doc["host_user_id"],
        created_at=doc["created_at"],
        scheduled_for=doc.get("scheduled_for"),
        state=RoomState(doc["state"]),
        max_participants=doc["max_participants"],
        waiting_room=doc.get("waiting_room", False),
        invited_user_ids=tuple(doc.get("invited_user_ids", [])),
        presenter_user_ids=tuple(doc.get("presenter_user_ids", [])),
        started_at=doc.get("started_at"),
        ended_at=doc.get("ended_at"),
        version=doc["version"],
        attendance={
            a["user_id"]: AttendanceEntry(
                first_joined_at=a["first_joined_at"],
                last_left_at=a.get("last_left_at"),
                total_seconds=a.get("total_seconds", 0.0),
                open_streams=a.get("open_streams", 0),
                open_since=a.get("open_since"),
                intervals=tuple((i["joined_at"], i.get("left_at")) for i in a.get("intervals", [])),
            )
            for a in doc.get("attendance", [])
        },
        sfu_room=int((doc.get("sfu") or {}).get("room", 0)),
        sfu_instance=str((doc.get("sfu") or {}).get("instance", "")),
        timetable_slot_id=doc.get("timetable_slot_id", ""),
        duration_minutes=doc.get("duration_minutes", 0),
        # Rooms stored before group calls and screen sharing: peer-to-peer calls, anyone shares.
        group_call=bool(doc.get("group_call", False)),
        screen_share=ScreenShare(doc.get("screen_share", ScreenShare.ANYONE.value)),
        locked=bool(doc.get("locked", False)),
    )


class MongoRoomRepository:
    def __init__(self, database: AsyncDatabase[Document], topic: str, *, on_write: Any = None):
        """`topic`: the room topic with the deployment's prefix (settings.topic(topics.MEDIA_SIGNAL_ROOM))."""
        self._rooms = database[ROOMS]
        self._topic = topic
        self._writer = OutboxWriter(PRODUCER)
        self._on_write = on_write  # the outbox relay's notify()

    def _records(self, room: Room, evts: list[object], base_version: int, now: datetime) -> list[OutboxRecord]:
        return [
            self._writer.record(
                event_message(event),
                topic=self._topic,
                aggregate=Aggregate("room", room.room_id, base_version + offset),
                occurred_at=now,
            )
            for offset, event in enumerate(evts)
        ]

    def _wrote(self) -> None:
        if self._on_write is not None:
            self._on_write()

    async def create(self, room: Room, evts: list[object]) -> Room:
        doc = room_to_doc(room) | outbox_fields(self._records(room, evts, room.version, room.created_at))
        try:
            await self._rooms.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.get(room.room_id)
            assert existing is not None
            return existing
        self._wrote()
        return room

    async def get(self, room_id: str) -> Room | None:
        doc = await self._rooms.find_one({"_id": room_id}, {"_outbox": 0})
        return room_from_doc(doc) if doc else None

    async def save(self, room: Room, evts: list[object], *, expected_version: int) -> None:
        fields = room_to_doc(room)
        fields.pop("_id")
        now = datetime.now(tz=room.created_at.tzinfo)
        update = merge_updates({"$set": fields}, outbox_push(self._records(room, evts, expected_version + 1, now)))
        result = await self._rooms.update_one({"_id": room.room_id, "version": expected_version}, update)
        if result.matched_count == 0:
            raise ConcurrentChange("the room changed concurrently; retry")
        self._wrote()

    async def claim(self, room_id: str, replica: str, address: str, lease_until: datetime, now: datetime) -> Owner:
        await self._rooms.update_one(
            {
                "_id": room_id,
                "$or": [{"owner.replica": replica}, {"owner": None}, {"owner.lease_until": {"$lt": now}}],
            },
            {"$set": {"owner": {"replica": replica, "address": address, "lease_until": lease_until}}},
        )
        doc = await self._rooms.find_one({"_id": room_id}, {"owner": 1})
        owner = (doc or {}).get("owner") or {}
        return Owner(owner.get("replica", ""), owner.get("address", ""))

    async def owner(self, room_id: str, now: datetime) -> Owner | None:
        doc = await self._rooms.find_one({"_id": room_id}, {"owner": 1})
        owner = (doc or {}).get("owner")
        if not owner or owner.get("lease_until") is None or owner["lease_until"] < now:
            return None
        return Owner(owner.get("replica", ""), owner.get("address", ""))

    async def release(self, room_id: str, replica: str) -> None:
        await self._rooms.update_one({"_id": room_id, "owner.replica": replica}, {"$set": {"owner": None}})


class MongoSchoolPolicies:
    """Reads the school policy projection for PolicySync (the hot paths ask the in-memory book)."""

    def __init__(self, database: AsyncDatabase[Document]):
        self._schools = database[SCHOOLS]

    async def policies_since(self, since: datetime | None) -> list[PolicyRow]:
        """Every school's policy (since=None) or those of rows changed at or after `since`."""
        query: Document = {} if since is None else {"policy_at": {"$gte": since}}
        docs = await self._schools.find(query, {"policy": 1, "version": 1}).to_list()
        # A school projected without a policy has the defaults.
        return [(d["_id"], SchoolPolicy.from_settings(d.get("policy") or {}), int(d.get("version", 0))) for d in docs]


class MongoDirectoryProjection:
    """The projections of school's and identity's events (app.ports.DirectoryProjection), each
    write versioned by the event's aggregate version (parta_common.mongo.apply_versioned)."""

    def __init__(self, database: AsyncDatabase[Document]):
        self._memberships = database[MEMBERSHIPS]
        self._classes = database[CLASSES]
        self._schools = database[SCHOOLS]
        self._profiles = database[PROFILES]

    async def school_policy(self, school_id: str, policy: SchoolPolicy, version: int) -> None:
        # policy_at: when this row last changed, for PolicySync on the other replicas.
        fields = {"policy": asdict(policy), "policy_at": datetime.now(UTC)}
        await apply_versioned(self._schools, school_id, version, {"$set": fields})

    async def school_class(self, class_id: str, school_id: str, title: str, archived: bool, version: int) -> None:
        fields = {"school_id": school_id, "title": title, "archived": archived}
        await apply_versioned(self._classes, class_id, version, {"$set": fields})

    async def membership(self, membership_id: str, membership: Membership, active: bool, version: int) -> None:
        fields = {
            "school_id": membership.school_id,
            "user_id": membership.user_id,
            "school_role": membership.school_role,
            "class_id": membership.class_id,
            "class_role": membership.class_role,
            "child_user_id": membership.child_user_id,
            "verified": membership.verified,
            "active": active,
        }
        await apply_versioned(self._memberships, membership_id, version, {"$set": fields})

    async def person(self, user_id: str, *, awaiting_guardian: bool, has_profile: bool, version: int) -> None:
        fields = {"awaiting_guardian": awaiting_guardian, "has_profile": has_profile}
        await apply_versioned(self._profiles, user_id, version, {"$set": fields})


class MongoMembershipDirectory:
    """Reads the projections of school memberships (SchoolEventProjector) and of identity's
    consent state (IdentityEventProjector)."""

    def __init__(self, database: AsyncDatabase[Document]):
        self._memberships = database[MEMBERSHIPS]
        self._classes = database[CLASSES]
        self._profiles = database[PROFILES]

    async def access(self, school_id: str, user_id: str) -> Access:
        return (await self.accesses(school_id, [user_id]))[0]

    async def accesses(self, school_id: str, user_ids: Sequence[str]) -> list[Access]:
        """Everyone's seats in one find and their consent state in one more (none when nobody has
        a seat), whatever the number of people: a call's invitees are read together."""
        wanted = list(dict.fromkeys(user_ids))
        query: Document = {"school_id": school_id, "user_id": {"$in": wanted}, "active": True}
        rows = await self._memberships.find(query).to_list() if wanted else []
        seated = list(dict.fromkeys(row["user_id"] for row in rows))
        projection = {"awaiting_guardian": 1, "has_profile": 1}
        found = await self._profiles.find({"_id": {"$in": seated}}, projection).to_list() if seated else []
        profiles = {doc["_id"]: doc for doc in found}
        return [self._access(school_id, u, [r for r in rows if r["user_id"] == u], profiles.get(u)) for u in user_ids]

    @staticmethod
    def _access(school_id: str, user_id: str, rows: list[Document], profile: Document | None) -> Access:
        return Access(
            user_id=user_id,
            school_id=school_id,
            awaiting_guardian=bool(profile and profile.get("awaiting_guardian")),
            # Rows projected before the flag existed came from ProfileCreated/ConsentChanged: a profile.
            has_profile=bool(profile and profile.get("has_profile", True)),
            memberships=tuple(
                Membership(
                    user_id=user_id,
                    school_id=school_id,
                    school_role=row.get("school_role", ""),
                    class_id=row.get("class_id", ""),
                    class_role=row.get("class_role", ""),
                    child_user_id=row.get("child_user_id", ""),
                    # Rows projected before this field existed read as unverified: the safe side.
                    verified=bool(row.get("verified", False)),
                )
                for row in rows
            ),
        )

    async def class_exists(self, school_id: str, class_id: str) -> bool:
        doc = await self._classes.find_one({"_id": class_id, "school_id": school_id})
        if doc is not None:
            return not doc.get("archived", False)
        # Events of different topics arrive in any order: a membership may precede its ClassCreated.
        return (
            await self._memberships.find_one({"school_id": school_id, "class_id": class_id, "active": True}) is not None
        )
