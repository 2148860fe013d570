"""School materials in MongoDB: one document per material (_id the material id, derived from the
publisher's request id, so a retried publish stores nothing twice)."""

from __future__ import annotations

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from chat.adapters.mongo import MATERIALS
from chat.adapters.mongo.codecs import Doc
from chat.domain.materials import Material, MaterialKind


def decode_material(d: Doc) -> Material:
    return Material(
        material_id=d["_id"],
        school_id=d["school_id"],
        class_id=d.get("class_id", ""),
        title=d["title"],
        description=d.get("description", ""),
        kind=MaterialKind(int(d["kind"])),
        published_by=d["by"],
        published_at=d["at"],
        file_id=d.get("file_id") or "",
        filename=d.get("filename", ""),
        content_type=d.get("content_type", ""),
        size_bytes=int(d.get("size", 0)),
        url=d.get("url", ""),
    )


class MongoMaterialRepository:
    def __init__(self, db: AsyncDatabase[Doc]):
        self._c = db[MATERIALS]

    async def add(self, material: Material) -> Material:
        m = material
        fields: Doc = {
            "school_id": m.school_id,
            "class_id": m.class_id,
            "title": m.title,
            "description": m.description,
            "kind": int(m.kind),
            "by": m.published_by,
            "at": m.published_at,
            "url": m.url,
        }
        if m.file_id:
            fields |= {
                "file_id": m.file_id,
                "filename": m.filename,
                "content_type": m.content_type,
                "size": m.size_bytes,
            }
        await self._c.update_one({"_id": m.material_id}, {"$setOnInsert": fields}, upsert=True)
        d = await self._c.find_one({"_id": m.material_id})
        return decode_material(d) if d else m

    async def get(self, material_id: str) -> Material | None:
        d = await self._c.find_one({"_id": material_id})
        return decode_material(d) if d else None

    async def page(self, school_id: str, class_id: str, skip: int, limit: int) -> list[Material]:
        cursor = (
            self._c.find({"school_id": school_id, "class_id": class_id})
            .sort([("at", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return [decode_material(d) async for d in cursor]

    async def with_file(self, file_id: str) -> list[Material]:
        return [decode_material(d) async for d in self._c.find({"file_id": file_id})]

    async def remove(self, material_id: str) -> None:
        await self._c.delete_one({"_id": material_id})
