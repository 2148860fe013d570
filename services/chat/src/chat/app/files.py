"""Personal file storage: streamed uploads with limits, quota and SHA-256; access-checked downloads."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from parta_common import validation
from parta_common.clock import Clock
from parta_common.errors import InvalidArgument, NotFound, ResourceExhausted, Violations

from chat.app.ports import FileRepository, MemberRepository, UploadSink
from chat.domain import rules
from chat.domain.files import StoredFile

_NS = uuid.UUID("5d7c2b1a-6e0f-4d3c-8b9a-1f2e3d4c5b6a")
MAX_FILENAME_CHARS = 255
MAX_CONTENT_TYPE_CHARS = 127


@dataclass(frozen=True)
class FileLimits:
    max_file_bytes: int
    quota_bytes: int
    max_chunk_bytes: int
    download_chunk_bytes: int = 256 * 1024


@dataclass
class Files:
    storage: FileRepository
    members: MemberRepository
    clock: Clock
    limits: FileLimits

    def file_id_for(self, owner: str, request_id: str) -> str:
        return str(uuid.uuid5(_NS, f"upload\x1f{owner}\x1f{request_id}"))

    async def upload(
        self,
        owner: str,
        request_id: str,
        filename: str,
        content_type: str,
        size: int,
        chunks: AsyncIterator[tuple[int, bytes]],
        accepted: Callable[[], Awaitable[None]] | None = None,
    ) -> StoredFile:
        """`chunks` yields (offset, data) after the metadata. `accepted` is awaited once the
        metadata has passed every check and the id is reserved, before any data is read. Any
        failure, including a cancelled stream, aborts the upload and removes what was written."""
        v = Violations()
        rules.check_id(v, "metadata.request_id", request_id)
        if (
            not filename.strip()
            or len(filename) > MAX_FILENAME_CHARS
            or validation.has_control_chars(filename, prose=True)
        ):
            v.add("metadata.filename", f"1..{MAX_FILENAME_CHARS} characters without control characters")
        elif "/" in filename or "\\" in filename:
            v.add("metadata.filename", "a file name, not a path")
        if len(content_type) > MAX_CONTENT_TYPE_CHARS or (content_type and content_type.count("/") != 1):
            v.add("metadata.content_type", "a media type like image/png")
        if size <= 0:
            v.add("metadata.size_bytes", "must be positive")
        v.raise_if_any()
        if size > self.limits.max_file_bytes:
            raise ResourceExhausted(f"files are limited to {self.limits.max_file_bytes} bytes", reason="FILE_TOO_LARGE")
        file_id = self.file_id_for(owner, request_id)
        found = await self.storage.find(file_id)
        if found is not None and found[1]:
            return found[0]  # a retry of a finished upload
        if found is not None:
            raise InvalidArgument.field("metadata.request_id", "an upload with this request id is in progress")
        used = await self.storage.used_bytes(owner)
        if used + size > self.limits.quota_bytes:
            raise ResourceExhausted("your storage quota is full", reason="QUOTA_EXCEEDED")
        file = StoredFile(
            file_id, owner, filename, content_type or "application/octet-stream", size, "", self.clock.now()
        )
        # The reservation runs as its own task: a stream cancelled while the insert is in flight
        # must still learn whether it landed, or the reservation would block this id for good.
        reservation = asyncio.ensure_future(self.storage.reserve(file))
        try:
            reserved = await asyncio.shield(reservation)
        except BaseException:
            await asyncio.shield(self._release(reservation, file))
            raise
        if not reserved:
            raise InvalidArgument.field("metadata.request_id", "an upload with this request id is in progress")
        if accepted is not None:
            await accepted()
        sink = self.storage.sink(file)
        digest = hashlib.sha256()
        received = 0
        try:
            async for offset, data in chunks:
                if offset != received:
                    raise InvalidArgument.field("chunk.offset", f"expected offset {received}, got {offset}")
                if not data or len(data) > self.limits.max_chunk_bytes:
                    raise InvalidArgument.field("chunk.data", f"1..{self.limits.max_chunk_bytes} bytes per chunk")
                if received + len(data) > size:
                    raise InvalidArgument.field("chunk.data", "more data than metadata.size_bytes")
                await sink.write(data)
                digest.update(data)
                received += len(data)
            if received != size:
                raise InvalidArgument.field("metadata.size_bytes", f"declared {size} bytes, received {received}")
            await sink.close()
            await self.storage.complete(file_id, digest.hexdigest())
        except BaseException:
            # Shielded: a cancelled stream cancels this task, and the cleanup must still finish.
            await asyncio.shield(self._abandon(sink, file_id))
            raise
        return StoredFile(file_id, owner, file.filename, file.content_type, size, digest.hexdigest(), file.uploaded_at)

    async def _abandon(self, sink: UploadSink, file_id: str) -> None:
        await sink.abort()
        await self.storage.discard(file_id)

    async def _release(self, reservation: asyncio.Future[bool], file: StoredFile) -> None:
        """Undoes a reservation whose caller went away while it was being made."""
        try:
            reserved = await reservation
        except Exception:
            return  # it failed; nothing was reserved
        if reserved:
            await self._abandon(self.storage.sink(file), file.file_id)

    async def open(self, user_id: str, file_id: str, offset: int) -> tuple[StoredFile, AsyncIterator[bytes]]:
        v = Violations()
        rules.check_id(v, "file_id", file_id)
        if offset < 0:
            v.add("offset", "must not be negative")
        v.raise_if_any()
        found = await self.storage.find(file_id)
        if found is None or not found[1]:
            raise NotFound("no such file", reason="FILE_NOT_FOUND")
        file = found[0]
        if file.owner_user_id != user_id and not await self._member_of_any(user_id, file.chat_ids):
            # Same answer as a missing file: ids of other people's files reveal nothing.
            raise NotFound("no such file", reason="FILE_NOT_FOUND")
        if offset > file.size_bytes:
            raise InvalidArgument.field("offset", f"beyond the end of the file ({file.size_bytes} bytes)")
        return file, self.storage.read(file_id, offset, self.limits.download_chunk_bytes)

    async def _member_of_any(self, user_id: str, chat_ids: tuple[str, ...]) -> bool:
        for chat_id in chat_ids:
            if await self.members.get(chat_id, user_id) is not None:
                return True
        return False

    async def list_files(self, owner: str, skip: int, limit: int) -> tuple[list[StoredFile], int]:
        return await self.storage.list_owned(owner, skip, limit), await self.storage.used_bytes(owner)

    async def cleanup(self, older_than: timedelta) -> int:
        """Removes uploads that never finished (a crashed replica), chunks included."""
        stale = await self.storage.stale_uploads(self.clock.now() - older_than)
        for file_id in stale:
            await self.storage.discard(file_id)
        return len(stale)
