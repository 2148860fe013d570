"""MongoDB repositories: users (with their outbox), challenges, sessions, rate limits, memberships.

Every aggregate document carries `version`; a save matches the version it read, so concurrent
writers never overwrite each other (the loser gets ConcurrentChange, reason CONCURRENT_CHANGE, and retries).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from parta_common.errors import Aborted, ConcurrentChange
from parta_common.events.outbox import merge_updates, outbox_fields, outbox_index, outbox_push
from parta_common.ids import new_id
from parta_common.mongo import apply_versioned, insert_claiming_keys
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from identity.adapters.events import UserEventMapper
from identity.app.ports import MembershipFact, PhoneCodeSlot
from identity.domain.challenges import Challenge, ChallengeState
from identity.domain.erasure import ServiceReport
from identity.domain.events import AgeBand, ConsentState
from identity.domain.guardians import GuardianLink, LinkConfirmation, LinkState
from identity.domain.profiles import Profile
from identity.domain.sessions import RevokeReason, Session
from identity.domain.users import User

Doc = dict[str, Any]

USERS = "users"
CHALLENGES = "challenges"
SESSIONS = "sessions"
RATE_LIMITS = "rate_limits"
MEMBERSHIPS = "memberships"
SECRETS = "secrets"

# Short-lived records expire through TTL indexes (the local store honours them, see
# tests/store/test_store_conformance.py::test_ttl_index_removes_expired_documents_and_keeps_the_rest).
# A challenge outlives its code by a day so a late VerifyCode still hears CHALLENGE_EXPIRED, not
# NOT_FOUND. An ended session (revoked, or idle past expires_at) stays 30 days: the device and
# times answer "who was signed in when" after a stolen-token report. Changing either value needs
# `collMod` on the index (create_indexes refuses a changed option under the same name).
CHALLENGE_RETENTION_SECONDS = 86_400
ENDED_SESSION_RETENTION_SECONDS = 30 * 86_400


def index_specs() -> dict[str, list[IndexModel]]:
    return {
        USERS: [
            # Sparse: deleted accounts drop their phone, and the number may sign up again.
            IndexModel([("phone", ASCENDING)], name="phone_unique", unique=True, sparse=True),
            IndexModel([("guardians.guardian_id", ASCENDING)], name="guardian_children"),
            IndexModel([("link_code_hash", ASCENDING)], name="link_code", sparse=True),
            # The daily age-band check: people whose band changes on or before today.
            IndexModel([("age_band_changes_on", ASCENDING)], name="age_band_due", sparse=True),
            IndexModel([("age_band_rule", ASCENDING)], name="age_band_rule"),
            outbox_index(),
        ],
        CHALLENGES: [
            IndexModel([("phone", ASCENDING), ("state", ASCENDING)], name="phone_state"),
            IndexModel([("expires_at", ASCENDING)], name="ttl_expired", expireAfterSeconds=CHALLENGE_RETENTION_SECONDS),
        ],
        SESSIONS: [
            IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)], name="user_sessions"),
            outbox_index(),  # SessionRevoked is written with the revocation
            # Two TTL indexes: whichever end comes first starts the retention window. An active
            # session has revoked_at null, which never expires.
            IndexModel(
                [("expires_at", ASCENDING)], name="ttl_idle", expireAfterSeconds=ENDED_SESSION_RETENTION_SECONDS
            ),
            IndexModel(
                [("revoked_at", ASCENDING)], name="ttl_revoked", expireAfterSeconds=ENDED_SESSION_RETENTION_SECONDS
            ),
        ],
        RATE_LIMITS: [
            # Window counters carry their window's end; resend cooldown slots their `until`.
            IndexModel([("expires_at", ASCENDING)], name="ttl_window_end", expireAfterSeconds=0),
            IndexModel([("until", ASCENDING)], name="ttl_cooldown_end", expireAfterSeconds=0),
        ],
        MEMBERSHIPS: [
            IndexModel([("user_id", ASCENDING), ("active", ASCENDING)], name="user_schools"),
            IndexModel([("school_id", ASCENDING), ("user_id", ASCENDING)], name="school_users"),
        ],
    }


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _conflict() -> ConcurrentChange:
    return ConcurrentChange()


# --- users -------------------------------------------------------------------------------------


def user_to_doc(user: User) -> Doc:
    profile = None
    if user.profile is not None:
        p = user.profile
        profile = {
            "first_name": p.first_name,
            "last_name": p.last_name,
            "patronymic": p.patronymic,
            "birth_date": p.birth_date.isoformat(),
        }
    return {
        "phone": user.phone,
        "registered_at": user.registered_at,
        "profile": profile,
        "profile_request_id": user.profile_request_id,
        "guardians": [
            {
                "guardian_id": g.guardian_id,
                "state": g.state.value,
                "consent_granted": g.consent_granted,
                "confirmed_by": g.confirmed_by.value,
                "created_at": g.created_at,
                "expires_at": g.expires_at,
            }
            for g in user.guardians
        ],
        "consent_state": user.consent_state.value,
        "link_code_hash": user.link_code_hash,
        "link_code_expires_at": user.link_code_expires_at,
        "deleted_at": user.deleted_at,
        "deleted_by": user.deleted_by,
        "age_band": user.age_band.value,
        # ISO text, like birth_date: compares by day without a time zone.
        "age_band_changes_on": user.age_band_changes_on.isoformat() if user.age_band_changes_on else None,
        "age_band_rule": user.age_band_rule,
        "pending_birth_date": user.pending_birth_date.isoformat() if user.pending_birth_date else None,
        "pending_birth_date_since": user.pending_birth_date_since,
    }


def user_from_doc(doc: Doc) -> User:
    p = doc.get("profile")
    profile = (
        Profile(p["first_name"], p["last_name"], p.get("patronymic", ""), date.fromisoformat(p["birth_date"]))
        if p
        else None
    )
    return User(
        id=doc["_id"],
        phone=doc.get("phone"),
        registered_at=_utc(doc["registered_at"]) or datetime.now(UTC),
        profile=profile,
        profile_request_id=doc.get("profile_request_id", ""),
        guardians=[
            GuardianLink(
                guardian_id=g["guardian_id"],
                state=LinkState(g["state"]),
                consent_granted=bool(g["consent_granted"]),
                confirmed_by=LinkConfirmation(g.get("confirmed_by", "")),
                created_at=_utc(g["created_at"]) or datetime.now(UTC),
                expires_at=_utc(g.get("expires_at")),
            )
            for g in doc.get("guardians", [])
        ],
        consent_state=ConsentState(doc.get("consent_state", ConsentState.UNSPECIFIED.value)),
        link_code_hash=doc.get("link_code_hash"),
        link_code_expires_at=_utc(doc.get("link_code_expires_at")),
        deleted_at=_utc(doc.get("deleted_at")),
        deleted_by=doc.get("deleted_by", ""),
        age_band=AgeBand(doc.get("age_band", AgeBand.UNSPECIFIED.value)),
        age_band_changes_on=date.fromisoformat(changes_on) if (changes_on := doc.get("age_band_changes_on")) else None,
        age_band_rule=doc.get("age_band_rule", ""),
        pending_birth_date=date.fromisoformat(pending) if (pending := doc.get("pending_birth_date")) else None,
        pending_birth_date_since=_utc(doc.get("pending_birth_date_since")),
        version=int(doc.get("version", 0)),
    )


class MongoUserRepository:
    def __init__(self, database: AsyncDatabase[Doc], mapper: UserEventMapper, on_events: Any = None):
        self._c = database[USERS]
        self._mapper = mapper
        self._on_events = on_events  # wakes the outbox relay after a write with events

    async def get(self, user_id: str) -> User | None:
        # `version` set: not an insert_claiming_keys placeholder (a sign-up half written).
        doc = await self._c.find_one({"_id": user_id, "version": {"$exists": True}})
        return user_from_doc(doc) if doc else None

    async def by_phone(self, phone: str) -> User | None:
        doc = await self._c.find_one({"phone": phone})
        return user_from_doc(doc) if doc else None

    async def by_link_code(self, code_hash: str) -> User | None:
        doc = await self._c.find_one({"link_code_hash": code_hash})
        return user_from_doc(doc) if doc else None

    async def many(self, user_ids: Iterable[str]) -> list[User]:
        ids = list(user_ids)
        if not ids:
            return []
        return [user_from_doc(d) async for d in self._c.find({"_id": {"$in": ids}})]

    async def children_of(self, guardian_id: str) -> list[User]:
        return [user_from_doc(d) async for d in self._c.find({"guardians.guardian_id": guardian_id})]

    async def age_band_due(self, today: date, rule: str, limit: int) -> list[User]:
        # Two indexed queries rather than one $or: the band's change day has come, or the band was
        # computed under other thresholds (or before bands existed: no rule stored at all).
        fields = {"outbox": 0}
        by_day = self._c.find({"age_band_changes_on": {"$lte": today.isoformat()}}, fields).limit(limit)
        found = {d["_id"]: d async for d in by_day}
        if len(found) < limit:
            stale = self._c.find(
                {"age_band_rule": {"$ne": rule}, "profile": {"$ne": None}, "deleted_at": None}, fields
            ).limit(limit - len(found))
            found.update({d["_id"]: d async for d in stale})
        return [user_from_doc(d) for d in found.values()]

    def _versions(self, user: User) -> tuple[int, int]:
        count = max(len(user.events), 1)
        return user.version + 1, user.version + count

    async def add(self, user: User) -> bool:
        first, last = self._versions(user)
        records = self._mapper.records(user.id, first, user.events)
        doc = {"_id": user.id, **user_to_doc(user), "version": last, **outbox_fields(records)}
        if user.phone is None:
            doc.pop("phone")  # sparse unique index: absent, not null
        if user.age_band_changes_on is None:
            doc.pop("age_band_changes_on")
        try:
            # The phone goes in by update so that deleting the account frees it (insert_claiming_keys).
            await insert_claiming_keys(self._c, doc, ("phone",))
        except DuplicateKeyError:
            return False
        user.version = last
        user.events.clear()
        self._notify(records)
        return True

    async def save(self, user: User) -> None:
        first, last = self._versions(user)
        records = self._mapper.records(user.id, first, user.events)
        fields = user_to_doc(user)
        unset = {}
        for key in ("phone", "link_code_hash", "age_band_changes_on"):
            if fields[key] is None:
                fields.pop(key)
                unset[key] = ""
        update = merge_updates({"$set": {**fields, "version": last}}, outbox_push(records))
        if unset:
            update["$unset"] = unset
        result = await self._c.update_one({"_id": user.id, "version": user.version}, update)
        if result.matched_count == 0:
            raise _conflict()
        user.version = last
        user.events.clear()
        self._notify(records)

    def _notify(self, records: list[Any]) -> None:
        if records and self._on_events is not None:
            self._on_events()


# --- challenges --------------------------------------------------------------------------------


def _challenge_doc(c: Challenge) -> Doc:
    return {
        "phone": c.phone,
        "code_hash": c.code_hash,
        "created_at": c.created_at,
        "expires_at": c.expires_at,
        "attempts": c.attempts,
        "state": c.state.value,
    }


class MongoChallengeRepository:
    def __init__(self, database: AsyncDatabase[Doc]):
        self._c = database[CHALLENGES]

    async def get(self, challenge_id: str) -> Challenge | None:
        d = await self._c.find_one({"_id": challenge_id})
        if d is None:
            return None
        return Challenge(
            id=d["_id"],
            phone=d["phone"],
            code_hash=d["code_hash"],
            created_at=_utc(d["created_at"]) or datetime.now(UTC),
            expires_at=_utc(d["expires_at"]) or datetime.now(UTC),
            attempts=int(d["attempts"]),
            state=ChallengeState(d["state"]),
            version=int(d.get("version", 0)),
        )

    async def add(self, challenge: Challenge) -> bool:
        try:
            await self._c.insert_one({"_id": challenge.id, **_challenge_doc(challenge), "version": 0})
        except DuplicateKeyError:
            # The driver's retry of a write that had landed collides with itself: the fresh code's
            # hash tells our own document from a reused request id.
            doc = await self._c.find_one({"_id": challenge.id}, {"code_hash": 1})
            return doc is not None and doc.get("code_hash") == challenge.code_hash
        return True

    async def save(self, challenge: Challenge) -> None:
        result = await self._c.update_one(
            {"_id": challenge.id, "version": challenge.version},
            {"$set": {**_challenge_doc(challenge), "version": challenge.version + 1}},
        )
        if result.matched_count == 0:
            raise _conflict()
        challenge.version += 1

    async def supersede_pending(self, phone: str, except_id: str) -> None:
        await self._c.update_many(
            {"phone": phone, "state": ChallengeState.PENDING.value, "_id": {"$ne": except_id}},
            {"$set": {"state": ChallengeState.SUPERSEDED.value}, "$inc": {"version": 1}},
        )


# --- sessions ----------------------------------------------------------------------------------


def _session_doc(s: Session) -> Doc:
    return {
        "user_id": s.user_id,
        "device_name": s.device_name,
        "created_at": s.created_at,
        "last_used_at": s.last_used_at,
        "refresh_hash": s.refresh_hash,
        "previous_hashes": s.previous_hashes,
        "expires_at": s.expires_at,
        "revoked_at": s.revoked_at,
        "revoke_reason": s.revoke_reason,
    }


def _session_from(d: Doc) -> Session:
    return Session(
        id=d["_id"],
        user_id=d["user_id"],
        device_name=d["device_name"],
        created_at=_utc(d["created_at"]) or datetime.now(UTC),
        last_used_at=_utc(d["last_used_at"]) or datetime.now(UTC),
        refresh_hash=d["refresh_hash"],
        expires_at=_utc(d["expires_at"]) or datetime.now(UTC),
        previous_hashes=list(d.get("previous_hashes", [])),
        revoked_at=_utc(d.get("revoked_at")),
        revoke_reason=d.get("revoke_reason", ""),
        version=int(d.get("version", 0)),
    )


class MongoSessionRepository:
    """Sessions; a revocation and its SessionRevoked event are one update of the session document."""

    def __init__(self, database: AsyncDatabase[Doc], mapper: UserEventMapper, on_events: Any = None):
        self._c = database[SESSIONS]
        self._mapper = mapper
        self._on_events = on_events

    async def get(self, session_id: str) -> Session | None:
        d = await self._c.find_one({"_id": session_id})
        return _session_from(d) if d else None

    async def add(self, session: Session) -> None:
        try:
            await self._c.insert_one({"_id": session.id, **_session_doc(session), "version": 0})
        except DuplicateKeyError:
            # A fresh random id collides only with itself: the driver retried a write that landed.
            pass

    async def save(self, session: Session) -> None:
        records = self._mapper.records(session.id, session.version + 1, session.events, aggregate_type="session")
        update = merge_updates(
            {"$set": {**_session_doc(session), "version": session.version + 1}}, outbox_push(records)
        )
        result = await self._c.update_one({"_id": session.id, "version": session.version}, update)
        if result.matched_count == 0:
            raise _conflict()
        session.version += 1
        session.events.clear()
        if records and self._on_events is not None:
            self._on_events()

    async def list_active(self, user_id: str) -> list[Session]:
        cursor = self._c.find({"user_id": user_id, "revoked_at": None}).sort("created_at", DESCENDING)
        return [_session_from(d) async for d in cursor]

    async def revoke_all(self, user_id: str, reason: RevokeReason, now: datetime, keep: str = "") -> int:
        # One write per session rather than one update_many: each session's SessionRevoked goes
        # into its own outbox with it. A user has a handful of sessions.
        revoked = 0
        for session in await self.list_active(user_id):
            if session.id == keep:
                continue
            for _ in range(5):
                if not session.revoke(reason, now):
                    break
                try:
                    await self.save(session)
                    revoked += 1
                    break
                except Aborted:
                    fresh = await self.get(session.id)  # refreshed meanwhile: revoke the new state
                    if fresh is None:
                        break
                    session = fresh
        return revoked

    async def is_active(self, session_id: str, user_id: str) -> bool:
        doc = await self._c.find_one({"_id": session_id}, {"user_id": 1, "revoked_at": 1})
        return doc is not None and doc["user_id"] == user_id and doc.get("revoked_at") is None


# --- rate limits -------------------------------------------------------------------------------


class MongoRateLimiter:
    """Fixed-window counters and cooldown slots, each one document updated atomically."""

    def __init__(self, database: AsyncDatabase[Doc]):
        self._c = database[RATE_LIMITS]

    async def hit(self, key: str, limit: int, window_seconds: int, now: datetime) -> float | None:
        epoch = int(now.timestamp())
        start = epoch - epoch % window_seconds
        window_end = datetime.fromtimestamp(start + window_seconds, UTC)
        doc = await self._c.find_one_and_update(
            {"_id": f"{key}@{start}"},
            {"$inc": {"count": 1}, "$setOnInsert": {"expires_at": window_end}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if doc is not None and int(doc["count"]) > limit:
            return max((window_end - now).total_seconds(), 1.0)
        return None

    async def cooldown(self, key: str, seconds: int, now: datetime) -> float | None:
        until = now + timedelta(seconds=seconds)
        try:
            # Matches only a free slot; a taken one makes the upsert collide on _id.
            await self._c.update_one(
                {"_id": f"cooldown:{key}", "until": {"$lte": now}}, {"$set": {"until": until}}, upsert=True
            )
            return None
        except DuplicateKeyError:
            doc = await self._c.find_one({"_id": f"cooldown:{key}"})
            taken_until = _utc(doc["until"]) if doc else now
            assert taken_until is not None
            return max((taken_until - now).total_seconds(), 1.0)

    async def phone_code(
        self, key: str, cooldown_seconds: int, daily_cap: int, hold_seconds: int, now: datetime
    ) -> PhoneCodeSlot:
        # One document per phone holds both limits, so a code request costs one command for them
        # (it was a cooldown slot plus a day counter). The field is `resend_after`, not `until`:
        # the cooldown TTL index would drop the day's count with the slot. Counts are per UTC day
        # (`n<day start>`); yesterday's is dropped on the way.
        epoch = int(now.timestamp())
        start = epoch - epoch % 86_400
        day_end = datetime.fromtimestamp(start + 86_400, UTC)
        resend_after = now + timedelta(seconds=cooldown_seconds)
        keep_until = max(day_end, resend_after, now + timedelta(seconds=hold_seconds))
        slot_id = f"phone:{key}"
        mark = new_id()  # tells our own landed write from someone else's when the driver retries it
        try:
            # Matches only a free cooldown; a taken one makes the upsert collide on _id.
            before = await self._c.find_one_and_update(
                {"_id": slot_id, "resend_after": {"$lte": now}},
                {
                    "$inc": {f"n{start}": 1},
                    "$set": {"resend_after": resend_after, "mark": mark},
                    "$max": {"expires_at": keep_until},
                    "$unset": {f"n{start - 86_400}": ""},
                },
                upsert=True,
                return_document=ReturnDocument.BEFORE,
            )
        except DuplicateKeyError:
            doc = await self._c.find_one({"_id": slot_id})
            if doc is not None and doc.get("mark") == mark:
                # Our write landed and its retry collided: the code is counted; not knowing the
                # state before it, supersede (harmless when there is nothing to supersede).
                count = int(doc.get(f"n{start}", 1))
                return PhoneCodeSlot(cap_wait=max((day_end - now).total_seconds(), 1.0) if count > daily_cap else None)
            taken = _utc(doc["resend_after"]) if doc else now
            assert taken is not None
            return PhoneCodeSlot(resend_wait=max((taken - now).total_seconds(), 1.0))
        count = int(before.get(f"n{start}", 0)) + 1 if before else 1
        cap_wait = max((day_end - now).total_seconds(), 1.0) if count > daily_cap else None
        # No document: no code of this phone within the hold, so none can still be pending.
        return PhoneCodeSlot(cap_wait=cap_wait, first=before is None)


# --- school memberships (projection of school.membership.v1) -----------------------------------


class MongoMembershipDirectory:
    def __init__(self, database: AsyncDatabase[Doc]):
        self._c = database[MEMBERSHIPS]

    async def apply(self, fact: MembershipFact, version: int) -> bool:
        """Idempotent upsert by membership id that ignores versions older than the stored one."""
        fields = {
            "school_id": fact.school_id,
            "user_id": fact.user_id,
            "active": fact.active,
            "is_parent": fact.is_parent,
            "is_admin": fact.is_admin,
            "child_user_id": fact.child_user_id,
        }
        return await apply_versioned(self._c, fact.membership_id, version, {"$set": fields})

    async def forget_user(self, user_id: str) -> None:
        await self._c.update_many({"user_id": user_id}, {"$set": {"active": False}})

    async def _schools(self, user_id: str) -> set[str]:
        return {d["school_id"] async for d in self._c.find({"user_id": user_id, "active": True}, {"school_id": 1})}

    async def sharing_school(self, user_id: str, others: Iterable[str]) -> set[str]:
        wanted = list(others)
        if not wanted:
            return set()
        schools = await self._schools(user_id)
        if not schools:
            return set()
        cursor = self._c.find(
            {"school_id": {"$in": sorted(schools)}, "user_id": {"$in": wanted}, "active": True}, {"user_id": 1}
        )
        return {d["user_id"] async for d in cursor}

    async def is_parent_of(self, guardian_id: str, child_id: str) -> bool:
        doc = await self._c.find_one(
            {"user_id": guardian_id, "child_user_id": child_id, "is_parent": True, "active": True}
        )
        return doc is not None

    async def is_admin_over(self, admin_id: str, user_id: str) -> bool:
        cursor = self._c.find({"user_id": admin_id, "is_admin": True, "active": True}, {"school_id": 1})
        schools = sorted({d["school_id"] async for d in cursor})
        if not schools:
            return False
        doc = await self._c.find_one({"school_id": {"$in": schools}, "user_id": user_id, "active": True})
        return doc is not None


class MongoErasureReports:
    """`erasure_reports`: one document per erased account, one field per reporting service."""

    def __init__(self, db: AsyncDatabase[Doc]):
        self._c = db["erasure_reports"]

    async def record(self, report: ServiceReport) -> None:
        entry = {"counts": report.counts, "requested_by": report.requested_by, "erased_at": report.erased_at}
        await self._c.update_one({"_id": report.user_id}, {"$set": {f"services.{report.service}": entry}}, upsert=True)

    async def of(self, user_id: str) -> list[ServiceReport]:
        doc = await self._c.find_one({"_id": user_id})
        services: dict[str, Any] = (doc or {}).get("services") or {}
        return [
            ServiceReport(
                user_id,
                name,
                {str(k): int(v) for k, v in e.get("counts", {}).items()},
                e.get("requested_by", ""),
                _utc(e["erased_at"]) or e["erased_at"],
            )
            for name, e in services.items()
        ]
