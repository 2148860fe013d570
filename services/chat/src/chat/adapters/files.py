"""Files in MongoDB (app.ports.FileRepository): contents in GridFS (bucket `blobs`), metadata and quota in `files`.

Invariant for cleanup: the `files` document is written before the first chunk and removed only
after the chunks, so every chunk of an unfinished upload can be found from an incomplete document.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from parta_common.errors import ConcurrentChange
from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chat.adapters.mongo import FILE_QUOTAS, FILES
from chat.adapters.mongo.codecs import decode_file
from chat.domain.files import FileKind, StoredFile, kind_of

BUCKET = "blobs"
GRIDFS_CHUNK = 255 * 1024
LIVE = {"deleted": {"$ne": True}}


class GridFsSink:
    """Writes a file in GridFS's layout chunk by chunk.

    PyMongo's own upload stream keeps up to 32 MB in memory before the first insert; writing each
    255 KiB chunk as it fills bounds memory per upload to one chunk, and keeps the stored layout
    readable by any GridFS reader (the `files` entry is written last, on close).
    """

    def __init__(self, db: AsyncDatabase[dict[str, Any]], file: StoredFile, start: int = 0):
        self._db = db
        self._file = file
        self._buffer = bytearray()
        # A resume starts after the stored chunks; only the last chunk of a file is ever short.
        self._n = -(-start // GRIDFS_CHUNK)
        self._length = start
        self._pending: asyncio.Future[Any] | None = None

    async def _flush(self, data: bytes) -> None:
        # Its own task: a cancelled stream can wait for it (suspend) and know what is stored.
        self._pending = asyncio.ensure_future(
            self._db[f"{BUCKET}.chunks"].insert_one({"files_id": self._file.file_id, "n": self._n, "data": data})
        )
        try:
            await asyncio.shield(self._pending)
        except DuplicateKeyError:
            # A broken stream's last write landed after its resume began: ask again where to go on.
            raise ConcurrentChange("another stream of this upload stored this part; resume again") from None
        self._n += 1

    async def write(self, data: bytes) -> None:
        self._buffer += data
        self._length += len(data)
        while len(self._buffer) >= GRIDFS_CHUNK:
            chunk = bytes(self._buffer[:GRIDFS_CHUNK])
            del self._buffer[:GRIDFS_CHUNK]
            await self._flush(chunk)

    async def close(self) -> None:
        if self._buffer:
            await self._flush(bytes(self._buffer))
            self._buffer.clear()
        # Replaced, not inserted: a resume after a crash between this write and `complete` redoes it.
        await self._db[f"{BUCKET}.files"].replace_one(
            {"_id": self._file.file_id},
            {
                "length": self._length,
                "chunkSize": GRIDFS_CHUNK,
                "uploadDate": self._file.uploaded_at,
                "filename": self._file.filename,
                "metadata": {"owner": self._file.owner_user_id},
            },
            upsert=True,
        )

    async def abort(self) -> None:
        await self.suspend()
        await self._db[f"{BUCKET}.chunks"].delete_many({"files_id": self._file.file_id})

    async def suspend(self) -> None:
        if self._pending is not None:
            await asyncio.gather(self._pending, return_exceptions=True)


class GridFsStorage:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]):
        self._db = db
        self._files = db[FILES]
        self._bucket = AsyncGridFSBucket(db, bucket_name=BUCKET, chunk_size_bytes=GRIDFS_CHUNK)

    async def find(self, file_id: str) -> tuple[StoredFile, bool] | None:
        doc = await self._files.find_one({"_id": file_id, **LIVE})
        if doc is None:
            return None
        return decode_file({"sha256": "", **doc}), bool(doc.get("complete"))

    async def used_bytes(self, owner: str) -> int:
        total = 0
        async for doc in self._files.find({"owner": owner, **LIVE}, {"size": 1}):
            total += int(doc["size"])
        return total

    async def reserve(self, file: StoredFile, resumable: bool = False) -> bool:
        try:
            await self._files.insert_one(
                {
                    "_id": file.file_id,
                    "owner": file.owner_user_id,
                    "filename": file.filename,
                    "content_type": file.content_type,
                    "size": file.size_bytes,
                    "sha256": "",
                    "uploaded_at": file.uploaded_at,
                    "complete": False,
                    "chats": [],
                    "kind": int(kind_of(file.content_type)),
                    "resumable": resumable,
                }
            )
            return True
        except DuplicateKeyError:
            return False

    def sink(self, file: StoredFile, start: int = 0) -> GridFsSink:
        return GridFsSink(self._db, file, start)

    async def resumable_upload(self, file_id: str) -> StoredFile | None:
        doc = await self._files.find_one({"_id": file_id, "complete": False, "resumable": True, **LIVE})
        return decode_file(doc) if doc is not None else None

    async def received_bytes(self, file_id: str) -> int:
        last = await self._db[f"{BUCKET}.chunks"].find_one({"files_id": file_id}, sort=[("n", DESCENDING)])
        return 0 if last is None else int(last["n"]) * GRIDFS_CHUNK + len(last["data"])

    async def complete(self, file_id: str, sha256_hex: str) -> None:
        await self._files.update_one({"_id": file_id}, {"$set": {"complete": True, "sha256": sha256_hex}})

    async def discard(self, file_id: str) -> None:
        await self._db[f"{BUCKET}.chunks"].delete_many({"files_id": file_id})
        await self._db[f"{BUCKET}.files"].delete_many({"_id": file_id})
        await self._files.delete_one({"_id": file_id, "complete": {"$ne": True}})

    async def read(self, file_id: str, offset: int, chunk: int) -> AsyncIterator[bytes]:
        try:
            stream = await self._bucket.open_download_stream(file_id)
        except NoFile:
            return
        try:
            if offset:
                await stream.seek(offset)
            while True:
                data = await stream.read(chunk)
                if not data:
                    break
                yield data
        finally:
            await stream.close()

    async def list_owned(self, owner: str, skip: int, limit: int) -> list[StoredFile]:
        docs = (
            await self._files.find({"owner": owner, "complete": True, **LIVE})
            .sort([("uploaded_at", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
            .to_list()
        )
        return [decode_file(d) for d in docs]

    async def stale_uploads(self, before: datetime, resumable_before: datetime) -> list[str]:
        plain = {"complete": False, "resumable": {"$ne": True}, "uploaded_at": {"$lt": before}}
        resumable = {"complete": False, "resumable": True, "uploaded_at": {"$lt": resumable_before}}
        return [d["_id"] for query in (plain, resumable) async for d in self._files.find(query, {"_id": 1})]

    async def attach(self, file_ids: Sequence[str], chat_id: str, seq: int = 0) -> None:
        added: dict[str, Any] = {"chats": chat_id}
        if seq:
            added["refs"] = {"c": chat_id, "s": seq}
        await self._files.update_many({"_id": {"$in": list(file_ids)}}, {"$addToSet": added})

    async def mark_deleted(self, file_id: str, owner: str, at: datetime) -> StoredFile | None:
        # The first deletion stamps the time (cleanup resumes from it); a repeat keeps it.
        doc = await self._files.find_one_and_update(
            {"_id": file_id, "owner": owner, "complete": True, "deleted": {"$ne": True}},
            {"$set": {"deleted": True, "deleted_at": at}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            doc = await self._files.find_one({"_id": file_id, "owner": owner, "deleted": True})
        return decode_file(doc) if doc is not None else None

    async def purge(self, file_id: str) -> None:
        await self._db[f"{BUCKET}.chunks"].delete_many({"files_id": file_id})
        await self._db[f"{BUCKET}.files"].delete_many({"_id": file_id})
        await self._files.update_one({"_id": file_id, "deleted": True}, {"$set": {"purged": True, "chats": []}})

    async def unfinished_deletions(self, before: datetime) -> list[StoredFile]:
        query = {"deleted": True, "purged": {"$ne": True}, "deleted_at": {"$lt": before}}
        return [decode_file(d) async for d in self._files.find(query).limit(100)]

    async def detach(self, file_id: str, chat_id: str) -> None:
        await self._files.update_one({"_id": file_id}, {"$pull": {"chats": chat_id}})

    async def list_in_chat(self, chat_id: str, kind: FileKind, skip: int, limit: int) -> list[StoredFile]:
        query: dict[str, Any] = {"chats": chat_id, "complete": True, **LIVE}
        if kind is FileKind.MEDIA:
            query["kind"] = int(FileKind.MEDIA)
        elif kind is FileKind.DOCUMENT:
            query["kind"] = {"$ne": int(FileKind.MEDIA)}  # files stored before kinds count as documents
        docs = (
            await self._files.find(query)
            .sort([("uploaded_at", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
            .to_list()
        )
        return [decode_file(d) for d in docs]

    async def chunk_count(self, file_id: str) -> int:
        return await self._db[f"{BUCKET}.chunks"].count_documents({"files_id": file_id})


class MongoFileQuotas:
    """app.ports.FileQuotaRepository: one document per school that set a quota (`file_quotas`)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]):
        self._c = db[FILE_QUOTAS]

    async def get(self, school_id: str) -> int | None:
        doc = await self._c.find_one({"_id": school_id})
        return int(doc["quota_bytes"]) if doc else None

    async def put(self, school_id: str, quota_bytes: int, by: str, at: datetime) -> None:
        if quota_bytes == 0:
            await self._c.delete_one({"_id": school_id})
            return
        await self._c.update_one(
            {"_id": school_id}, {"$set": {"quota_bytes": quota_bytes, "set_by": by, "set_at": at}}, upsert=True
        )

    async def of_schools(self, school_ids: Sequence[str]) -> list[int]:
        return [int(d["quota_bytes"]) async for d in self._c.find({"_id": {"$in": list(school_ids)}})]
