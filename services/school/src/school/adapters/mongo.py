"""MongoDB repositories of school: one document per school, class, membership, invite and join request.
Every write is one update of one document carrying its new state and its outbox events."""

from __future__ import annotations

import builtins  # `list` is also a repository method name below
import contextlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from parta_common.errors import AlreadyExists
from parta_common.events.outbox import merge_updates, outbox_fields, outbox_index, outbox_push
from parta_common.mongo import apply_versioned, insert_claiming_keys
from parta_common.safety import SchoolPolicy
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from school.adapters.events import EventMapper
from school.domain.classes import SchoolClass
from school.domain.events import DomainEvent
from school.domain.invites import Invite
from school.domain.join_requests import JoinRequest, JoinState
from school.domain.memberships import ClassRole, Membership, SchoolRole
from school.domain.profiles import ProfileFacts, ProfileState
from school.domain.schools import School

Doc = dict[str, Any]
E = TypeVar("E")

SCHOOLS = "schools"
CLASSES = "classes"
MEMBERSHIPS = "memberships"
INVITES = "invites"
JOIN_REQUESTS = "join_requests"
GUARDIANS = "guardians"
PROFILES = "profiles"
SERVICE_KEYS = "service_keys"
OUTBOX_COLLECTIONS = (SCHOOLS, CLASSES, MEMBERSHIPS, INVITES, JOIN_REQUESTS)


def index_specs() -> dict[str, list[IndexModel]]:
    return {
        SCHOOLS: [
            outbox_index(),
            IndexModel([("pending_admin_phone_hash", ASCENDING)], name="pending_admin", sparse=True),
            IndexModel([("admin_claimed_by", ASCENDING)], name="claimed_by", sparse=True),
            IndexModel([("admin_vacant_since", ASCENDING)], name="admin_vacant", sparse=True),
        ],
        CLASSES: [
            outbox_index(),
            IndexModel([("school_id", ASCENDING), ("_id", ASCENDING)], name="school_classes"),
            # Grade + letter per school and year among live classes; archived ones drop the key.
            IndexModel([("unique_key", ASCENDING)], name="class_unique", unique=True, sparse=True),
        ],
        MEMBERSHIPS: [
            outbox_index(),
            IndexModel([("user_id", ASCENDING), ("school_id", ASCENDING)], name="user_school"),
            IndexModel([("school_id", ASCENDING), ("class_id", ASCENDING), ("_id", ASCENDING)], name="school_class"),
            IndexModel([("class_id", ASCENDING)], name="class"),
        ],
        INVITES: [
            outbox_index(),
            IndexModel([("token_hash", ASCENDING)], name="token", unique=True),
            IndexModel([("school_id", ASCENDING), ("_id", ASCENDING)], name="school_invites"),
        ],
        JOIN_REQUESTS: [
            outbox_index(),
            IndexModel([("school_id", ASCENDING), ("class_id", ASCENDING), ("_id", ASCENDING)], name="school_class"),
            IndexModel([("user_id", ASCENDING)], name="user"),
        ],
        GUARDIANS: [IndexModel([("guardian_id", ASCENDING), ("child_id", ASCENDING)], name="pair")],
    }


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- codecs: dataclass <-> document ----------------------------------------------------------


def _doc(entity: Any) -> Doc:
    data = asdict(entity)
    data["_id"] = data.pop("id")
    for key, value in list(data.items()):
        if isinstance(value, tuple):
            data[key] = list(value)
        elif isinstance(value, int) and type(value) is not int and not isinstance(value, bool):
            data[key] = int(value)  # IntEnum → plain int
    return data


def _decoder(cls: type[E], enums: dict[str, Callable[[Any], Any]]) -> Callable[[Doc], E]:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]

    def decode(doc: Doc) -> E:
        data = {k: v for k, v in doc.items() if k in names}
        data["id"] = doc["_id"]
        for key, value in list(data.items()):
            if isinstance(value, list):
                data[key] = tuple(value)
            elif isinstance(value, datetime):
                data[key] = _utc(value)
        for key, convert in enums.items():
            if key in data:
                data[key] = convert(data[key])
        return cls(**data)

    return decode


# The policy is stored as its switches; a school stored before it existed has the defaults.
decode_school = _decoder(School, {"policy": SchoolPolicy.from_settings})
decode_class = _decoder(SchoolClass, {})
decode_membership = _decoder(Membership, {"school_role": SchoolRole, "class_role": ClassRole})
decode_invite = _decoder(Invite, {"role": SchoolRole})
decode_join_request = _decoder(JoinRequest, {"role": SchoolRole, "state": JoinState})


class _Repo(Generic[E]):
    """Optimistic concurrency on `version`: insert-if-absent, and save-if-version-matches."""

    aggregate = ""
    # Uniquely indexed fields a later save may change or remove: written by update at insert so
    # the old value is freed on every engine (insert_claiming_keys).
    unique_keys: tuple[str, ...] = ()

    def __init__(
        self,
        database: AsyncDatabase[Doc],
        name: str,
        mapper: EventMapper,
        decode: Callable[[Doc], E],
        on_events: Callable[[], None],
        on_change: Callable[[Any], None] | None = None,
    ):
        self._c = database[name]
        self._mapper = mapper
        self._decode = decode
        self._notify = on_events
        # Told of every stored new state (the access view forgets what it held of it).
        self._changed = on_change or (lambda entity: None)

    def _extra(self, entity: E) -> Doc:
        return {}

    def _unset(self, entity: E) -> Doc:
        return {}

    def _duplicate(self, error: DuplicateKeyError) -> bool:
        """True when the duplicate is a business key (not the id); raise the domain error there."""
        return False

    async def get(self, entity_id: str) -> E | None:
        # `version` set: not an insert_claiming_keys placeholder (an insert half written).
        doc = await self._c.find_one({"_id": entity_id, "version": {"$exists": True}}, {"_outbox": 0})
        return self._decode(doc) if doc else None

    async def insert(self, entity: E, events: Sequence[DomainEvent]) -> bool:
        return await self._insert(entity, events, {})

    async def _insert(self, entity: E, events: Sequence[DomainEvent], extra: Doc) -> bool:
        doc = {**_doc(entity), **self._extra(entity), **extra}
        for key in self._unset(entity):
            doc.pop(key, None)
        records = self._mapper.records(self.aggregate, doc["_id"], doc["version"], events)
        try:
            stored = {**doc, **(outbox_fields(records) if records else {})}
            await insert_claiming_keys(self._c, stored, self.unique_keys)
        except DuplicateKeyError as error:
            self._duplicate(error)
            return False
        self._changed(entity)
        if records:
            self._notify()
        return True

    async def save(self, entity: E, expected_version: int, events: Sequence[DomainEvent]) -> bool:
        doc = {**_doc(entity), **self._extra(entity)}
        entity_id = doc.pop("_id")
        unset = self._unset(entity)
        for key in unset:
            doc.pop(key, None)
        records = self._mapper.records(self.aggregate, entity_id, doc["version"], events)
        update = merge_updates({"$set": doc}, {"$unset": unset} if unset else {}, outbox_push(records))
        try:
            result = await self._c.update_one({"_id": entity_id, "version": expected_version}, update)
        except DuplicateKeyError as error:
            self._duplicate(error)
            raise
        if result.matched_count:
            self._changed(entity)
        if result.modified_count and records:
            self._notify()
        return result.matched_count == 1

    async def _find(self, query: Doc, *, after: str = "", limit: int = 0, sort: str = "_id") -> list[E]:
        if after:
            query = {**query, "_id": {"$gt": after}}
        cursor = self._c.find(query, {"_outbox": 0}).sort(sort, ASCENDING)
        if limit:
            cursor = cursor.limit(limit)
        return [self._decode(d) async for d in cursor]


class MongoSchoolRepository(_Repo[School]):
    aggregate = "school"

    def _unset(self, entity: School) -> Doc:
        # Sparse indexes: absent, not empty, when nothing is pending.
        out: Doc = {}
        if not entity.pending_admin_phone_hash:
            out["pending_admin_phone_hash"] = ""
        if not entity.admin_claimed_by:
            out["admin_claimed_by"] = ""
        if entity.admin_vacant_since is None:
            out["admin_vacant_since"] = ""
        return out

    async def vacant(self, *, after: str, limit: int) -> list[School]:
        return await self._find({"admin_vacant_since": {"$exists": True}}, after=after, limit=limit)

    async def pending_for_phone(self, phone_hash: str) -> list[School]:
        return await self._find({"pending_admin_phone_hash": phone_hash})

    async def claimed_by(self, user_id: str) -> list[School]:
        return await self._find({"admin_claimed_by": user_id})

    async def get_many(self, school_ids: Sequence[str]) -> list[School]:
        if not school_ids:
            return []
        return await self._find({"_id": {"$in": list(school_ids)}})


class MongoClassRepository(_Repo[SchoolClass]):
    aggregate = "class"
    unique_keys = ("unique_key",)  # renamed and archived classes free their grade and letter

    def _extra(self, entity: SchoolClass) -> Doc:
        key = entity.unique_key()
        return {"unique_key": key} if key else {}

    def _unset(self, entity: SchoolClass) -> Doc:
        return {} if entity.unique_key() else {"unique_key": ""}

    def _duplicate(self, error: DuplicateKeyError) -> bool:
        if "unique_key" in str(error) or "class_unique" in str(error):
            raise AlreadyExists("a class with this grade and letter exists this year", reason="CLASS_EXISTS")
        return False

    async def list(self, school_id: str, *, include_archived: bool, after: str, limit: int) -> list[SchoolClass]:
        query: Doc = {"school_id": school_id}
        if not include_archived:
            query["archived"] = False
        return await self._find(query, after=after, limit=limit)


class MongoMembershipRepository(_Repo[Membership]):
    aggregate = "membership"

    async def insert_all(self, items: Sequence[tuple[Membership, Sequence[DomainEvent]]]) -> int:
        docs = []
        for membership, events in items:
            doc = _doc(membership)
            records = self._mapper.records(self.aggregate, doc["_id"], doc["version"], events)
            docs.append({**doc, **(outbox_fields(records) if records else {})})
        if not docs:
            return 0
        try:
            await self._c.insert_many(docs, ordered=True)
            inserted = len(docs)
        except BulkWriteError as error:
            # Ordered: the first n went in, the (n+1)th exists already and nothing after it was tried.
            inserted = int(error.details.get("nInserted", 0))
            if any(e.get("code") != 11000 for e in error.details.get("writeErrors", [])):
                raise
        for membership, _events in items[:inserted]:
            self._changed(membership)
        if inserted:
            self._notify()
        return inserted

    async def of_user(self, user_id: str, school_id: str = "", *, active_only: bool = True) -> list[Membership]:
        query: Doc = {"user_id": user_id}
        if school_id:
            query["school_id"] = school_id
        if active_only:
            query["active"] = True
        return await self._find(query)

    async def of_class(self, class_id: str) -> list[Membership]:
        return await self._find({"class_id": class_id, "active": True})

    async def list(self, school_id: str, class_id: str, *, after: str, limit: int) -> list[Membership]:
        return await self._find(
            {"school_id": school_id, "class_id": class_id, "active": True}, after=after, limit=limit
        )


class MongoInviteRepository(_Repo[Invite]):
    aggregate = "invite"

    async def insert(self, invite: Invite, token_hash: str, events: Sequence[DomainEvent]) -> bool:  # type: ignore[override]
        # Only the hash of the token is stored; the token itself is derived under the service key.
        return await self._insert(invite, events, {"token_hash": token_hash})

    async def count_use(self, invite_id: str, user_id: str, now: datetime, events: Sequence[DomainEvent] = ()) -> bool:
        # Mirrors Invite.check_usable; Invite.accept is the same rule for a single writer. The events
        # (InviteAccepted) ride in the same update; their aggregate version is 0 (the document's own
        # version is only known after the increment, and no consumer orders uses by it).
        records = self._mapper.records(self.aggregate, invite_id, 0, events)
        result = await self._c.update_one(
            {
                "_id": invite_id,
                "revoked": False,
                "expires_at": {"$gt": now},
                "accepted_by": {"$ne": user_id},
                "$expr": {"$lt": ["$uses", "$max_uses"]},
            },
            merge_updates({"$inc": {"uses": 1, "version": 1}, "$push": {"accepted_by": user_id}}, outbox_push(records)),
        )
        if result.modified_count == 1 and records:
            self._notify()
        return result.modified_count == 1

    async def by_token_hash(self, token_hash: str) -> Invite | None:
        doc = await self._c.find_one({"token_hash": token_hash}, {"_outbox": 0})
        return self._decode(doc) if doc else None

    async def list(self, school_id: str, class_id: str, *, after: str, limit: int) -> list[Invite]:
        query: Doc = {"school_id": school_id}
        if class_id:
            query["class_id"] = class_id
        return await self._find(query, after=after, limit=limit)


class MongoJoinRequestRepository(_Repo[JoinRequest]):
    aggregate = "join_request"

    async def list(
        self, school_id: str, class_id: str, state: JoinState, *, after: str, limit: int
    ) -> list[JoinRequest]:
        query: Doc = {"school_id": school_id}
        if class_id:
            query["class_id"] = class_id
        if state:
            query["state"] = int(state)
        return await self._find(query, after=after, limit=limit)

    async def of_user(self, user_id: str) -> builtins.list[JoinRequest]:
        return await self._find({"user_id": user_id})


class MongoGuardianDirectory:
    """Projection of identity's guardian links, by (guardian, child), newest version wins."""

    def __init__(self, database: AsyncDatabase[Doc]):
        self._c = database[GUARDIANS]

    async def apply(self, guardian_id: str, child_id: str, *, linked: bool, confirmed: bool, version: int) -> None:
        fields = {"guardian_id": guardian_id, "child_id": child_id, "linked": linked, "confirmed": confirmed}
        await apply_versioned(self._c, f"{guardian_id}:{child_id}", version, {"$set": fields})

    async def is_guardian(self, guardian_id: str, child_id: str) -> bool:
        return await self._c.find_one({"_id": f"{guardian_id}:{child_id}", "linked": True}) is not None


class MongoProfileDirectory:
    """Projection of identity's profile facts, one document per person: {state, version}. Newest version
    wins; DELETED is final (an AccountDeleted may be replayed before an older ProfileUpdated)."""

    def __init__(self, database: AsyncDatabase[Doc]):
        self._c = database[PROFILES]

    async def state(self, user_id: str) -> ProfileState:
        return (await self.facts(user_id)).state

    async def facts(self, user_id: str) -> ProfileFacts:
        doc = await self._c.find_one({"_id": user_id})
        if doc is None:
            return ProfileFacts()
        return ProfileFacts(
            ProfileState(int(doc["state"])), bool(doc.get("awaiting_guardian", False)), int(doc.get("version", 0))
        )

    async def apply(self, user_id: str, state: ProfileState, version: int, *, awaiting_guardian: bool = False) -> None:
        if state == ProfileState.DELETED:
            # Final, whatever its version: not a versioned write.
            fields = {"state": int(state), "version": version, "awaiting_guardian": False}
            with contextlib.suppress(DuplicateKeyError):  # two upserts raced: the other one wrote it
                await self._c.update_one({"_id": user_id}, {"$set": fields}, upsert=True)
            return
        fields = {"state": int(state), "awaiting_guardian": awaiting_guardian}
        # Newer versions win, except over DELETED (a replayed older ProfileUpdated after AccountDeleted).
        final = {"state": {"$ne": int(ProfileState.DELETED)}}
        await apply_versioned(self._c, user_id, version, {"$set": fields}, only_if=final)


async def load_or_create_key(database: AsyncDatabase[Doc]) -> bytes:
    """Development only: the service key lives in the database (production sets SCHOOL_SECRET_KEY)."""
    candidate = secrets.token_bytes(32)
    try:
        await database[SERVICE_KEYS].insert_one({"_id": "secret_key", "key": candidate})
    except DuplicateKeyError:
        pass
    doc = await database[SERVICE_KEYS].find_one({"_id": "secret_key"})
    assert doc is not None
    return bytes(doc["key"])
