"""What chat keeps of school's and identity's aggregates (SchoolFacts to read, ProjectionStore to
write), applied only when the event's aggregate version is newer."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Literal

from parta_common.mongo import apply_versioned
from parta_common.safety import PolicyRow
from pymongo.asynchronous.database import AsyncDatabase

from chat.adapters.mongo import MEMBERSHIPS, PROFILES, SCHOOLS
from chat.adapters.mongo.codecs import Doc, decode_membership, decode_policy, decode_profile, decode_school
from chat.domain.provisioning import Membership, Profile, SchoolInfo


class MongoProjections:
    def __init__(self, db: AsyncDatabase[Doc]):
        self._schools = db[SCHOOLS]
        self._memberships = db[MEMBERSHIPS]
        self._profiles = db[PROFILES]

    # ---- SchoolFacts --------------------------------------------------------------------------

    async def memberships_of(self, school_id: str, user_id: str) -> list[Membership]:
        docs = self._memberships.find({"school_id": school_id, "user_id": user_id, "active": True})
        return [decode_membership(d) async for d in docs]

    async def school(self, school_id: str) -> SchoolInfo | None:
        d = await self._schools.find_one({"_id": school_id})
        return decode_school(d) if d is not None else None

    async def profile(self, user_id: str) -> Profile | None:
        d = await self._profiles.find_one({"_id": user_id})
        return decode_profile(d) if d is not None else None

    # ---- ProjectionStore ----------------------------------------------------------------------

    async def put_school(self, school: SchoolInfo, version: int) -> bool:
        fields = {
            "name": school.name,
            "timezone": school.timezone,
            "start": school.workday_start_minute,
            "end": school.workday_end_minute,
            "policy": asdict(school.policy),
            "locale": school.locale,
            # When this row last changed (PolicySync reads what changed since its last pass).
            "policy_at": datetime.now(UTC),
        }
        return await apply_versioned(self._schools, school.school_id, version, {"$set": fields})

    async def policies_since(self, since: datetime | None) -> list[PolicyRow]:
        """Every school's policy (since=None) or those of rows changed at or after `since`."""
        query: Doc = {} if since is None else {"policy_at": {"$gte": since}}
        docs = self._schools.find(query, {"policy": 1, "version": 1})
        return [(d["_id"], decode_policy(d), int(d.get("version", 0))) async for d in docs]

    async def put_membership(self, membership: Membership, version: int) -> Membership | Literal[False] | None:
        # The seat as it was before: provisioning takes back what it granted.
        m = membership
        fields = {
            "school_id": m.school_id,
            "user_id": m.user_id,
            "school_role": int(m.school_role),
            "class_id": m.class_id,
            "class_role": int(m.class_role),
            "child_user_id": m.child_user_id,
            "active": m.active,
            "verified": m.verified,
        }
        before = await apply_versioned(self._memberships, m.membership_id, version, {"$set": fields}, pre_image=True)
        if before is False:
            return False  # exists with a version >= ours
        return decode_membership(before) if before is not None else None

    async def put_profile(self, profile: Profile, version: int) -> bool:
        fields = {"name": profile.display_name, "awaiting": profile.awaiting_guardian, "deleted": profile.deleted}
        return await apply_versioned(self._profiles, profile.user_id, version, {"$set": fields})
