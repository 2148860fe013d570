"""Family-scoped export (issue 17): chat collects an export's parts and delivers one zip archive
into the requester's personal storage; the requester reads its progress, a child of 14 or older
sees that a guardian exported their data (docs/chat.md, "Data exports")."""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO

import structlog
from parta_common.clock import Clock
from parta_common.errors import NotFound
from parta_common.validation import require_id

from chat.app.ports import AuthoredMessages, ChatRepository, ExportRepository, FileRepository, Notifier, SchoolFacts
from chat.domain.exports import (
    ARCHIVE_CONTENT_TYPE,
    ATTENDANCE,
    CLAIM_SECONDS,
    EXTERNAL_PARTS,
    MAX_ARCHIVE_FILE_BYTES,
    MAX_MESSAGES,
    MEMBERSHIPS,
    PROFILE,
    README,
    DataExport,
    ExportState,
    Part,
    archive_file_id,
    archive_name,
    dumps,
    files_document,
    is_archive,
    manifest,
    messages_document,
    notice,
    plan_files,
)
from chat.domain.files import StoredFile

log = structlog.get_logger("chat.exports")

COPY_CHUNK = 1024 * 1024
SPOOL_IN_MEMORY = 8 * 1024 * 1024
LIST_LIMIT = 50
# The periodic pass takes up exports requested this long ago and still not delivered, a batch at a time.
RESUME_AFTER_SECONDS = 120
RESUME_BATCH = 20
_FILES_PAGE = 500


def export_not_found() -> NotFound:
    return NotFound("export not found", reason="EXPORT_NOT_FOUND")


@dataclass(frozen=True)
class AboutMe:
    export: DataExport
    requested_by_name: str
    notice: str


@dataclass
class Exports:
    exports: ExportRepository
    messages: AuthoredMessages
    files: FileRepository
    chats: ChatRepository
    facts: SchoolFacts
    clock: Clock
    notify: Notifier = field(default=lambda: None)
    file_budget: int = MAX_ARCHIVE_FILE_BYTES

    # --- from events -------------------------------------------------------------------------

    async def requested(
        self, export_id: str, requested_by: str, subject_user_id: str, requested_at: datetime, notify_subject: bool
    ) -> DataExport | None:
        """identity authorized the export (DataExportRequested)."""
        await self.exports.record_request(export_id, requested_by, subject_user_id, requested_at, notify_subject)
        return await self.assemble(export_id)

    async def part_received(self, export_id: str, name: str, part: Part) -> DataExport | None:
        if name not in EXTERNAL_PARTS:
            return None  # a part this version does not know
        await self.exports.add_part(export_id, name, part)
        return await self.assemble(export_id)

    async def assemble(self, export_id: str) -> DataExport | None:
        """Stores the archive once every part is in; a no-op before that, after delivery, and while
        another replica's assembly runs (a claim, taken over after CLAIM_SECONDS)."""
        export = await self.exports.get(export_id)
        if export is None or not export.ready:
            return export
        now = self.clock.now()
        if not await self.exports.claim(export_id, now, now + timedelta(seconds=CLAIM_SECONDS)):
            return export
        try:
            file_id, size = await self._store_archive(export)
            if await self.exports.delivered(export, file_id, size, self.clock.now()):
                self.notify()
        except BaseException:
            await self.exports.release(export_id)
            raise
        log.info("export_delivered", export_id=export_id, size_bytes=size)
        return await self.exports.get(export_id)

    async def resume(self) -> int:
        """The periodic pass (every minute): exports that should have been delivered by now and were
        not — an assembler's replica died holding the claim, or an assembly kept failing until its
        record was dead-lettered — are assembled again. Returns how many were delivered."""
        delivered = 0
        cutoff = self.clock.now() - timedelta(seconds=RESUME_AFTER_SECONDS)
        for export_id in await self.exports.undelivered(cutoff, RESUME_BATCH):
            try:
                done = await self.assemble(export_id)
            except Exception as error:  # one broken export does not hold up the others
                log.warning("export_resume_failed", export_id=export_id, error=type(error).__name__)
                continue
            delivered += done is not None and done.state is ExportState.DELIVERED
        return delivered

    # --- reads ---------------------------------------------------------------------------------

    async def get(self, caller: str, export_id: str) -> DataExport:
        export_id = require_id(export_id, "export_id")
        export = await self.exports.get(export_id)
        if export is None or export.requested_by != caller:
            raise export_not_found()  # the same for someone else's export and an unknown id
        return export

    async def listing(self, caller: str) -> tuple[list[DataExport], list[AboutMe]]:
        mine = await self.exports.requested_by(caller, LIST_LIMIT)
        about = []
        for export in await self.exports.about(caller, LIST_LIMIT):
            profile = await self.facts.profile(export.requested_by)
            name = profile.display_name if profile and not profile.deleted else ""
            about.append(AboutMe(export, name, notice(name, export.requested_at)))
        return mine, about

    # --- the archive ---------------------------------------------------------------------------

    async def _store_archive(self, export: DataExport) -> tuple[str, int]:
        file_id = archive_file_id(export.export_id)
        found = await self.files.find(file_id)
        if found is not None and found[1]:
            return file_id, found[0].size_bytes  # stored before a crash left it undelivered
        if found is not None:
            await self.files.discard(file_id)  # an archive half written by a replica that died
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            await self._write_zip(export, spool)
            size = spool.tell()
            archive = StoredFile(
                file_id=file_id,
                owner_user_id=export.requested_by,
                filename=archive_name(export),
                content_type=ARCHIVE_CONTENT_TYPE,
                size_bytes=size,
                sha256_hex="",
                uploaded_at=self.clock.now(),
            )
            # The person asked for their data: the archive is delivered whatever their quota (it
            # counts against it afterwards, like any file they keep).
            if not await self.files.reserve(archive):
                raise RuntimeError("the archive's file id is taken by an upload in progress")
            sink = self.files.sink(archive)
            digest = hashlib.sha256()
            try:
                spool.seek(0)
                while chunk := spool.read(COPY_CHUNK):
                    digest.update(chunk)
                    await sink.write(chunk)
                await sink.close()
            except BaseException:
                await sink.abort()
                await self.files.discard(file_id)
                raise
            await self.files.complete(file_id, digest.hexdigest())
        return file_id, size

    async def _write_zip(self, export: DataExport, out: IO[bytes]) -> None:
        subject = export.subject_user_id
        messages = [m for m in await self.messages.written_by(subject, MAX_MESSAGES) if not m.system]
        chats = {c.chat_id: c for c in await self.chats.get_many(sorted({m.chat_id for m in messages}))}
        files = await self._owned_files(subject)
        entries = plan_files(files, self.file_budget)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            zf.writestr("README.txt", README)
            zf.writestr("export.json", dumps(manifest(export, self.clock.now())))
            for part, name in (
                (PROFILE, "profile.json"),
                (MEMBERSHIPS, "memberships.json"),
                (ATTENDANCE, "attendance.json"),
            ):
                zf.writestr(name, export.parts[part].text())
            zf.writestr("messages.json", dumps(messages_document(subject, messages, chats)))
            zf.writestr("files.json", dumps(files_document(subject, entries)))
            for entry in entries:
                if not entry.path:
                    continue
                info = zipfile.ZipInfo(entry.path, date_time=entry.file.uploaded_at.timetuple()[:6])
                info.compress_type = zipfile.ZIP_STORED  # photos and videos are compressed already
                with zf.open(info, "w", force_zip64=entry.file.size_bytes > 2**31) as target:
                    async for chunk in self.files.read(entry.file.file_id, 0, COPY_CHUNK):
                        target.write(chunk)
        out.seek(0, 2)

    async def _owned_files(self, owner: str) -> list[StoredFile]:
        files: list[StoredFile] = []
        seen = 0
        while True:
            page = await self.files.list_owned(owner, seen, _FILES_PAGE)
            seen += len(page)
            # Earlier export archives in the person's storage are not their data: not copied again.
            files.extend(f for f in page if not is_archive(f))
            if len(page) < _FILES_PAGE:
                return files
