"""MongoDB school cards (app.ports.SchoolInfoRepository): one document per school in `school_info`, keyed
by the school id, the logo's bytes in it and left out of every read but the logo's own."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from bson import Binary
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from school.domain.info import SchoolInfo, SchoolLogo

SCHOOL_INFO = "school_info"
_TEXT = ("full_name", "short_name", "address", "director_name", "phone", "email", "website", "description")

Doc = dict[str, Any]


def _decode(doc: Doc) -> SchoolInfo:
    logo = doc.get("logo")
    updated_at = doc.get("updated_at")
    return SchoolInfo(
        school_id=doc["_id"],
        **{key: str(doc.get(key, "")) for key in _TEXT},
        logo=SchoolLogo(logo["content_type"], int(logo["size_bytes"]), logo["sha256_hex"]) if logo else None,
        version=int(doc["version"]),
        updated_at=updated_at.replace(tzinfo=UTC) if updated_at and updated_at.tzinfo is None else updated_at,
        updated_by=str(doc.get("updated_by", "")),
    )


class MongoSchoolInfoRepository:
    def __init__(self, database: AsyncDatabase[Doc]):
        self._c = database[SCHOOL_INFO]

    async def get(self, school_id: str) -> SchoolInfo | None:
        doc = await self._c.find_one({"_id": school_id}, {"logo_data": 0})
        return _decode(doc) if doc else None

    async def logo(self, school_id: str) -> tuple[SchoolLogo, bytes] | None:
        doc = await self._c.find_one({"_id": school_id}, {"logo": 1, "logo_data": 1})
        if not doc or not doc.get("logo") or not doc.get("logo_data"):
            return None
        logo = doc["logo"]
        return SchoolLogo(logo["content_type"], int(logo["size_bytes"]), logo["sha256_hex"]), bytes(doc["logo_data"])

    async def save(self, info: SchoolInfo, logo_data: bytes | None, expected_version: int) -> bool:
        fields: Doc = {key: getattr(info, key) for key in _TEXT}
        fields.update(version=info.version, updated_at=info.updated_at, updated_by=info.updated_by)
        fields["logo"] = (
            {
                "content_type": info.logo.content_type,
                "size_bytes": info.logo.size_bytes,
                "sha256_hex": info.logo.sha256_hex,
            }
            if info.logo
            else None
        )
        if logo_data is not None:
            fields["logo_data"] = Binary(logo_data) if logo_data else None
        if expected_version == 0:
            try:
                await self._c.insert_one({"_id": info.school_id, **fields})
                return True
            except DuplicateKeyError:
                return False
        result = await self._c.update_one({"_id": info.school_id, "version": expected_version}, {"$set": fields})
        return result.matched_count == 1
