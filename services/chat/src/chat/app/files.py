"""Personal file storage: streamed uploads with limits, quota and SHA-256; access-checked downloads;
deleting a file (everywhere it was sent), removing an attachment from a message, a chat's file list,
and the per-school quota."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from parta_common import validation
from parta_common.clock import Clock
from parta_common.errors import (
    ConcurrentChange,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Violations,
)

from chat.app.access import Access
from chat.app.chats import check_chat_id
from chat.app.ports import (
    FileQuotaRepository,
    FileRepository,
    MemberRepository,
    MessageRepository,
    Notifier,
    UploadSink,
)
from chat.domain import events as ev
from chat.domain import rules
from chat.domain.files import (
    FileKind,
    QuotaBounds,
    StoredFile,
    effective_quota,
    ensure_can_remove_attachment,
    quota_problem,
    without_attachment,
)
from chat.domain.messages import Message

_NS = uuid.UUID("5d7c2b1a-6e0f-4d3c-8b9a-1f2e3d4c5b6a")
MAX_FILENAME_CHARS = 255
MAX_CONTENT_TYPE_CHARS = 127


@dataclass(frozen=True)
class FileLimits:
    max_file_bytes: int
    quota_bytes: int  # the operator's default per-person quota
    max_chunk_bytes: int
    download_chunk_bytes: int = 256 * 1024
    # The operator's bounds for a school's per-person quota (SetFileQuota).
    min_quota_bytes: int = 100 * 1024 * 1024
    max_quota_bytes: int = 10 * 1024 * 1024 * 1024
    # How long a resumable upload keeps its stored blocks and reservation, from its start.
    resumable_window: timedelta = timedelta(hours=24)

    @property
    def bounds(self) -> QuotaBounds:
        return QuotaBounds(self.quota_bytes, self.min_quota_bytes, self.max_quota_bytes, self.max_file_bytes)


def _check_same(interrupted: StoredFile, file: StoredFile) -> None:
    """A resume names the same file as the upload it continues."""
    v = Violations()
    if interrupted.filename != file.filename:
        v.add("metadata.filename", "differs from the interrupted upload's")
    if interrupted.content_type != file.content_type:
        v.add("metadata.content_type", "differs from the interrupted upload's")
    if interrupted.size_bytes != file.size_bytes:
        v.add("metadata.size_bytes", "differs from the interrupted upload's")
    v.raise_if_any()


@dataclass(frozen=True)
class SchoolQuota:
    school_id: str
    quota_bytes: int
    set_by_school: bool


# A deletion that did not finish (a crashed replica) is taken up again by cleanup after this long.
DELETION_RESUME_AFTER = timedelta(minutes=1)


@dataclass
class Files:
    storage: FileRepository
    members: MemberRepository
    clock: Clock
    limits: FileLimits
    messages: MessageRepository
    quotas: FileQuotaRepository
    access: Access
    notify: Notifier = field(default=lambda: None)
    # Other grants to read a file (school materials: app/materials.py's may_read_file), set at wiring.
    also_readable: Callable[[str, str], Awaitable[bool]] | None = None

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
        *,
        resumable: bool = False,
    ) -> StoredFile:
        """`chunks` yields (offset, data) after the metadata. `accepted` is awaited once the
        metadata has passed every check and the id is reserved, before any data is read. Any
        failure, including a cancelled stream, aborts a plain upload and removes what was written;
        a resumable one keeps its stored blocks and reservation (`upload_status`, then the same
        call again from the stored offset)."""
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
        file = StoredFile(
            file_id, owner, filename, content_type or "application/octet-stream", size, "", self.clock.now()
        )
        found = await self.storage.find(file_id)
        if found is not None and found[1]:
            return found[0]  # a retry of a finished upload
        start = 0
        if found is not None:
            interrupted = await self.storage.resumable_upload(file_id) if resumable else None
            if interrupted is None:
                raise InvalidArgument.field("metadata.request_id", "an upload with this request id is in progress")
            _check_same(interrupted, file)
            file = interrupted
            start = await self.storage.received_bytes(file_id)
        else:
            used = await self.storage.used_bytes(owner)
            if used + size > await self.quota_for(owner):
                raise ResourceExhausted("your storage quota is full", reason="QUOTA_EXCEEDED")
            # The reservation runs as its own task: a stream cancelled while the insert is in flight
            # must still learn whether it landed, or the reservation would block this id for good.
            reservation = asyncio.ensure_future(self.storage.reserve(file, resumable))
            try:
                reserved = await asyncio.shield(reservation)
            except BaseException:
                if not resumable:
                    await asyncio.shield(self._release(reservation, file))
                raise
            if not reserved:
                raise InvalidArgument.field("metadata.request_id", "an upload with this request id is in progress")
        sink = self.storage.sink(file, start)
        digest = hashlib.sha256()
        received = start
        try:
            # Inside the cleanup: a stream cancelled while "accepted" is being sent (the client went
            # away right after its metadata) must free the reservation too, or a retry with the same
            # request id is "in progress" for good (stress run, stop 25).
            if accepted is not None:
                await accepted()
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
            sha256_hex = digest.hexdigest() if start == 0 else await self._stored_sha256(file)
            await self.storage.complete(file_id, sha256_hex)
        except BaseException:
            # Shielded: a cancelled stream cancels this task, and the cleanup must still finish.
            await asyncio.shield(sink.suspend() if resumable else self._abandon(sink, file_id))
            raise
        return replace(file, sha256_hex=sha256_hex)

    async def _stored_sha256(self, file: StoredFile) -> str:
        """The hash of a resumed upload, from what is stored: the earlier streams' bytes were never
        seen by this one, and the stored bytes are what downloads serve."""
        digest = hashlib.sha256()
        length = 0
        async for block in self.storage.read(file.file_id, 0, self.limits.download_chunk_bytes):
            digest.update(block)
            length += len(block)
        if length != file.size_bytes:
            # Only two streams of one upload writing at once get here; start again from nothing.
            await self._abandon(self.storage.sink(file), file.file_id)
            raise ConcurrentChange("the upload was written by two streams at once; upload it again")
        return digest.hexdigest()

    async def upload_status(self, owner: str, request_id: str) -> tuple[int, int, bool]:
        """(received bytes, size, complete) of the caller's resumable upload `request_id`."""
        v = Violations()
        rules.check_id(v, "request_id", request_id)
        v.raise_if_any()
        file_id = self.file_id_for(owner, request_id)
        found = await self.storage.find(file_id)
        if found is not None and found[1]:
            return found[0].size_bytes, found[0].size_bytes, True
        interrupted = await self.storage.resumable_upload(file_id)
        if found is None or interrupted is None:
            raise NotFound("no resumable upload with this request id", reason="UPLOAD_NOT_FOUND")
        return await self.storage.received_bytes(file_id), interrupted.size_bytes, False

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
        if file.owner_user_id != user_id and not await self._may_read(user_id, file):
            # Same answer as a missing file: ids of other people's files reveal nothing.
            raise NotFound("no such file", reason="FILE_NOT_FOUND")
        if offset > file.size_bytes:
            raise InvalidArgument.field("offset", f"beyond the end of the file ({file.size_bytes} bytes)")
        return file, self.storage.read(file_id, offset, self.limits.download_chunk_bytes)

    async def _may_read(self, user_id: str, file: StoredFile) -> bool:
        if await self._member_of_any(user_id, file.chat_ids):
            return True
        return self.also_readable is not None and await self.also_readable(user_id, file.file_id)

    async def _member_of_any(self, user_id: str, chat_ids: tuple[str, ...]) -> bool:
        for chat_id in chat_ids:
            if await self.members.get(chat_id, user_id) is not None:
                return True
        return False

    async def list_files(self, owner: str, skip: int, limit: int) -> tuple[list[StoredFile], int]:
        return await self.storage.list_owned(owner, skip, limit), await self.storage.used_bytes(owner)

    async def cleanup(self, older_than: timedelta) -> int:
        """Removes uploads that never finished (a crashed replica) and resumable uploads not finished
        within `limits.resumable_window` of their start, chunks included, and finishes deletions a
        crashed replica left half done."""
        now = self.clock.now()
        stale = await self.storage.stale_uploads(now - older_than, now - self.limits.resumable_window)
        for file_id in stale:
            await self.storage.discard(file_id)
        unfinished = await self.storage.unfinished_deletions(self.clock.now() - DELETION_RESUME_AFTER)
        for file in unfinished:
            await self._finish_deletion(file)
        return len(stale) + len(unfinished)

    # ---- quota ------------------------------------------------------------------------------------

    async def quota_for(self, user_id: str) -> int:
        """The person's quota: the most generous one among their schools (docs/chat.md "Files")."""
        schools = sorted({m.school_id for m in await self.members.of_user(user_id) if m.school_id})
        return effective_quota(await self.quotas.of_schools(schools) if schools else [], self.limits.bounds)

    async def _as_school_admin(self, user_id: str, school_id: str) -> None:
        v = Violations()
        rules.check_id(v, "school_id", school_id)
        v.raise_if_any()
        person = await self.access.person(school_id, user_id, with_profile=False)
        if not person.active:
            raise NotFound("no such school", reason="SCHOOL_NOT_FOUND")
        if not person.is_admin:
            raise PermissionDenied("only the school's admins set its storage quota", reason="NOT_AN_ADMIN")

    async def get_quota(self, user_id: str, school_id: str) -> SchoolQuota:
        await self._as_school_admin(user_id, school_id)
        stored = await self.quotas.get(school_id)
        return SchoolQuota(school_id, stored or self.limits.quota_bytes, stored is not None)

    async def set_quota(self, user_id: str, school_id: str, quota_bytes: int) -> SchoolQuota:
        v = Violations()
        if problem := quota_problem(quota_bytes, self.limits.bounds):
            v.add("quota_bytes", problem)
        v.raise_if_any()
        await self._as_school_admin(user_id, school_id)
        await self.quotas.put(school_id, quota_bytes, user_id, self.clock.now())
        return SchoolQuota(school_id, quota_bytes or self.limits.quota_bytes, quota_bytes != 0)

    # ---- deleting files and removing attachments ----------------------------------------------------

    async def delete_file(self, user_id: str, file_id: str) -> int:
        """The uploader deletes a file everywhere; returns their used bytes afterwards. The file stops
        counting and downloading at once (one write marks it deleted); then every message it was sent
        with drops it, and its bytes go. A repeat (or cleanup after a crash) finishes what is left."""
        v = Violations()
        rules.check_id(v, "file_id", file_id)
        v.raise_if_any()
        file = await self.storage.mark_deleted(file_id, user_id, self.clock.now())
        if file is None:
            raise NotFound("no such file", reason="FILE_NOT_FOUND")
        await self._finish_deletion(file)
        return await self.storage.used_bytes(user_id)

    async def _finish_deletion(self, file: StoredFile) -> None:
        for chat_id, seq in file.refs:
            await self._strip(chat_id, seq, file.file_id)
        await self.storage.purge(file.file_id)

    async def _strip(self, chat_id: str, seq: int, file_id: str) -> Message | None:
        """Moves the file to the message's removed attachments (a new update_seq: live to every
        member); the message as it is now, None when there is no such message."""
        for _ in range(8):
            message = await self.messages.get_by_seq(chat_id, seq)
            if message is None:
                return None
            changed = without_attachment(message, file_id)
            if changed is None:
                return message
            changed = replace(changed, update_seq=await self.messages.next_seq(chat_id))
            if await self.messages.save(changed, message.update_seq, [ev.MessageChanged(changed)]):
                self.notify()
                return changed
            await self.messages.burn_seq(chat_id, changed.update_seq)
        raise ConcurrentChange("the message changed meanwhile; retry")

    async def remove_attachment(self, user_id: str, chat_id: str, seq: int, file_id: str) -> Message:
        v = Violations()
        check_chat_id(chat_id, v)
        rules.check_seq(v, "seq", seq)
        rules.check_id(v, "file_id", file_id)
        v.raise_if_any()
        _chat, member = await self.access.check(chat_id, user_id)
        message = rules.ensure_found(await self.messages.get_by_seq(chat_id, seq))
        if message.held_from(user_id, self.clock.now()):
            raise NotFound("no such message", reason="MESSAGE_NOT_FOUND")
        if file_id not in message.file_ids:
            if file_id in message.removed_file_ids:
                return message  # removed already: a repeat
            raise NotFound("the message has no such attachment", reason="ATTACHMENT_NOT_FOUND")
        ensure_can_remove_attachment(message, member)
        stripped = await self._strip(chat_id, seq, file_id)
        assert stripped is not None
        found = await self.storage.find(file_id)
        if found is not None and not await self._still_in_chat(found[0], chat_id):
            await self.storage.detach(file_id, chat_id)
        return stripped

    async def _still_in_chat(self, file: StoredFile, chat_id: str) -> bool:
        for ref_chat, ref_seq in file.refs:
            if ref_chat != chat_id:
                continue
            message = await self.messages.get_by_seq(ref_chat, ref_seq)
            if message is not None and file.file_id in message.file_ids:
                return True
        return False

    async def list_chat_files(
        self, user_id: str, chat_id: str, kind: FileKind, skip: int, limit: int
    ) -> list[StoredFile]:
        v = Violations()
        check_chat_id(chat_id, v)
        v.raise_if_any()
        await self.access.check(chat_id, user_id, moderation=False)
        return await self.storage.list_in_chat(chat_id, kind, skip, limit)
