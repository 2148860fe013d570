"""Family-scoped export (issue 17): an export as chat collects it, and what its archive holds.

identity authorizes an export and announces it (DataExportRequested); school, media-signal and
identity publish their parts on export.parts.v1; chat adds its own part (the messages the subject
wrote, the files they own) and, once it has all four, stores one zip archive in the requester's
personal storage. Pure Python; the rules are in docs/chat.md, "Data exports".
"""

from __future__ import annotations

import gzip
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from chat.domain.chats import Chat
from chat.domain.files import StoredFile
from chat.domain.messages import Message

# The parts of an export (parta_common.exports.PARTS); chat's own is there as soon as chat has
# heard of the request, since chat reads it from its own store when it assembles the archive.
PROFILE, MEMBERSHIPS, CHAT, ATTENDANCE = "profile", "memberships", "chat", "attendance"
PARTS = (PROFILE, MEMBERSHIPS, CHAT, ATTENDANCE)
EXTERNAL_PARTS = (PROFILE, MEMBERSHIPS, ATTENDANCE)
# Bounds of chat's own part: messages listed (newest first beyond it), files' bytes copied in.
MAX_MESSAGES = 100_000
MAX_ARCHIVE_FILE_BYTES = 1024 * 1024 * 1024
# An assembly that started this long ago and did not finish (its replica died) may be taken over.
CLAIM_SECONDS = 600
ARCHIVE_CONTENT_TYPE = "application/zip"
ARCHIVE_PREFIX = "parta-export-"

_NS = uuid.UUID("0b6f3b4e-2d4e-4f6a-9a51-6c1d2e7f8a90")


class ExportState(StrEnum):
    REQUESTED = "requested"
    DELIVERED = "delivered"


@dataclass(frozen=True)
class Part:
    json: bytes  # as received: gzip-compressed JSON when `gzipped` (parta_common.exports)
    truncated: bool = False
    gzipped: bool = False

    def text(self) -> bytes:
        """The part's JSON as it goes into the archive."""
        return gzip.decompress(self.json) if self.gzipped else self.json


@dataclass(frozen=True)
class DataExport:
    export_id: str
    requested_by: str = ""  # "" until chat has heard identity's DataExportRequested
    subject_user_id: str = ""
    requested_at: datetime | None = None
    notify_subject: bool = False
    state: ExportState = ExportState.REQUESTED
    parts: dict[str, Part] = field(default_factory=dict)
    received: tuple[str, ...] = ()  # every part that arrived (kept after delivery, parts are not)
    file_id: str = ""
    size_bytes: int = 0
    delivered_at: datetime | None = None

    @property
    def requested(self) -> bool:
        return bool(self.requested_by)

    @property
    def parts_received(self) -> tuple[str, ...]:
        have = set(self.received) | set(self.parts)
        if self.requested:
            have.add(CHAT)
        return tuple(p for p in PARTS if p in have)

    @property
    def ready(self) -> bool:
        """Every part is in and the archive is not stored yet."""
        return self.state is ExportState.REQUESTED and len(self.parts_received) == len(PARTS)


def archive_file_id(export_id: str) -> str:
    """The archive's file id: one per export, so a replayed or raced assembly stores no second one."""
    return str(uuid.uuid5(_NS, f"export\x1f{export_id}"))


def is_archive(file: StoredFile) -> bool:
    """An export archive chat stored (its id is derived from an export id, its name says so)."""
    return file.content_type == ARCHIVE_CONTENT_TYPE and file.filename.startswith(ARCHIVE_PREFIX)


def archive_name(export: DataExport) -> str:
    day = export.requested_at.date().isoformat() if export.requested_at else "export"
    return f"{ARCHIVE_PREFIX}{day}-{export.subject_user_id[:8]}.zip"


def messages_document(subject_user_id: str, messages: list[Message], chats: dict[str, Chat]) -> dict[str, Any]:
    """messages.json: what the subject wrote, oldest first, with the chat each went to. Deleted
    messages have no text left (a deletion empties it) and are listed as deleted."""
    rows = []
    for m in sorted(messages, key=lambda m: (m.sent_at, m.chat_id, m.seq)):
        chat = chats.get(m.chat_id)
        rows.append(
            {
                "message_id": m.message_id,
                "chat_id": m.chat_id,
                "chat_title": chat.title if chat else "",
                "chat_kind": chat.kind.name.lower() if chat else "",
                "school_id": m.school_id,
                "seq": m.seq,
                "sent_at": m.sent_at.isoformat(),
                "edited_at": m.edited_at.isoformat() if m.edited_at else None,
                "text": m.text,
                "deleted": m.deleted,
                "urgent": m.urgent,
                "file_ids": list(m.file_ids),
            }
        )
    return {"user_id": subject_user_id, "messages": rows}


@dataclass(frozen=True)
class FileEntry:
    file: StoredFile
    path: str  # where it is in the archive; "" when left out
    note: str = ""


def plan_files(files: list[StoredFile], budget: int = MAX_ARCHIVE_FILE_BYTES) -> list[FileEntry]:
    """Which of the subject's files go into the archive: oldest first while the bytes fit the
    budget; the rest are listed in files.json without their contents."""
    entries = []
    used = 0
    for f in sorted(files, key=lambda f: (f.uploaded_at, f.file_id)):
        if used + f.size_bytes > budget:
            entries.append(FileEntry(f, "", "left out: the archive's size limit"))
            continue
        used += f.size_bytes
        entries.append(FileEntry(f, f"files/{f.file_id}/{_safe_name(f.filename)}"))
    return entries


def _safe_name(name: str) -> str:
    cleaned = "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in name).strip(". ")
    return cleaned[:200] or "file"


def files_document(subject_user_id: str, entries: list[FileEntry]) -> dict[str, Any]:
    return {
        "user_id": subject_user_id,
        "files": [
            {
                "file_id": e.file.file_id,
                "filename": e.file.filename,
                "content_type": e.file.content_type,
                "size_bytes": e.file.size_bytes,
                "sha256": e.file.sha256_hex,
                "uploaded_at": e.file.uploaded_at.isoformat(),
                "chat_ids": list(e.file.chat_ids),
                "path": e.path or None,
                "note": e.note,
            }
            for e in entries
        ],
    }


def manifest(export: DataExport, assembled_at: datetime) -> dict[str, Any]:
    return {
        "export_id": export.export_id,
        "requested_by_user_id": export.requested_by,
        "subject_user_id": export.subject_user_id,
        "requested_at": export.requested_at.isoformat() if export.requested_at else None,
        "assembled_at": assembled_at.isoformat(),
        "parts": {
            PROFILE: {"path": "profile.json", "from": "identity", "truncated": _truncated(export, PROFILE)},
            MEMBERSHIPS: {"path": "memberships.json", "from": "school", "truncated": _truncated(export, MEMBERSHIPS)},
            CHAT: {"paths": ["messages.json", "files.json", "files/"], "from": "chat"},
            ATTENDANCE: {
                "path": "attendance.json",
                "from": "media-signal",
                "truncated": _truncated(export, ATTENDANCE),
            },
        },
    }


def _truncated(export: DataExport, part: str) -> bool:
    found = export.parts.get(part)
    return bool(found and found.truncated)


def dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True).encode()


README = """Parta: выгрузка данных / data export

export.json       что это за выгрузка, кто и когда её запросил / what this export is, who asked and when
profile.json      профиль и учётная запись (identity) / profile and account
memberships.json  членство в школах и классах (school) / school and class memberships
messages.json     сообщения, написанные этим человеком (chat) / messages this person wrote
files.json        файлы этого человека (chat); сами файлы в files/ / this person's files; contents in files/
attendance.json   посещение уроков (media-signal) / lesson attendance
"""

_MONTHS_RU = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)


def notice(requested_by_name: str, requested_at: datetime | None) -> str:
    """What a child of 14 or older reads about a guardian's export of their data (Russian, the
    platform's default language; clients may render the structured fields instead)."""
    who = requested_by_name or "Ваш родитель или законный представитель"
    when = f" {requested_at.day} {_MONTHS_RU[requested_at.month - 1]} {requested_at.year}" if requested_at else ""
    return f"{who} выгрузил(а) ваши данные{when}: профиль, членство в школах, ваши сообщения и файлы, посещаемость."
