"""Retention of ended academic years in chat (docs/chat.md "Retention"): which chats have a clock,
when they are archived and purged, what happens to their files, and the archive's JSON form.

The school's rule (`parta_common.retention.RetentionRule`) comes with its SchoolCreated/SchoolUpdated.
The clock of a class's two chats starts at the rollover that ended the class's year: its graduation
(ClassArchived "graduated"), or, for a class archived during the year, the next rollover
(AcademicYearStarted). The school channel, the staff channel, groups and direct chats follow people,
not years: they have no clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from parta_common.retention import RetentionRule

from chat.domain.chats import ChatKind

ARCHIVE_FORMAT = "parta.chat.archive.v1"
CLOCKED_KINDS = (ChatKind.CLASS, ChatKind.CLASS_PARENTS)


class Stage(IntEnum):
    # Values match parta.chat.v1.RetentionStage.
    KEPT = 1
    ARCHIVED = 2
    PURGED = 3


@dataclass(frozen=True)
class Counts:
    messages: int = 0
    files_deleted: int = 0
    files_detached: int = 0
    members: int = 0


@dataclass(frozen=True)
class RetainedChat:
    """A chat with a retention clock, as the job and the admins' list see it."""

    chat_id: str
    school_id: str
    kind: ChatKind
    class_id: str
    title: str
    retained_from: datetime
    academic_year: str = ""
    stage: Stage = Stage.KEPT
    archived_at: datetime | None = None
    purge_after: datetime | None = None
    purged_at: datetime | None = None
    archive_file_id: str = ""
    counts: Counts = field(default_factory=Counts)

    def archive_at(self, rule: RetentionRule) -> datetime:
        return self.archived_at or rule.archive_at(self.retained_from)


def archive_due(chat: RetainedChat, rule: RetentionRule, now: datetime) -> bool:
    return chat.stage is Stage.KEPT and now >= rule.archive_at(chat.retained_from)


def purge_due(chat: RetainedChat, now: datetime) -> bool:
    """By the date fixed when it was archived (the grace the admins were shown then)."""
    return chat.stage is Stage.ARCHIVED and chat.purge_after is not None and now >= chat.purge_after


class FileFate(IntEnum):
    DELETE = 1
    DETACH = 2


def file_fate(other_chats: int, is_material: bool, owner_is_staff: bool) -> FileFate:
    """A file shared in a purged chat is deleted when nothing else needs it: no other chat carries it,
    no material publishes it, and its owner is not on the school's staff now (a student's or parent's
    photo goes with the class's year — graduates keep their school-level seat, so "still in the
    school" would keep everything; a teacher's worksheet stays in the teacher's storage). Otherwise
    the purged chat only loses access to it."""
    if other_chats or is_material or owner_is_staff:
        return FileFate.DETACH
    return FileFate.DELETE


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at is not None else None


def archive_header(chat: RetainedChat, archived_at: datetime) -> bytes:
    """The archive's JSON up to its message list: `archive_header + message, message … + archive_footer`
    is one JSON document (written in pieces, so a large chat never sits in memory whole)."""
    head = {
        "format": ARCHIVE_FORMAT,
        "chat": {
            "chat_id": chat.chat_id,
            "school_id": chat.school_id,
            "class_id": chat.class_id,
            "kind": chat.kind.name.lower(),
            "title": chat.title,
        },
        "academic_year": chat.academic_year,
        "retained_from": _iso(chat.retained_from),
        "archived_at": _iso(archived_at),
    }
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    return (text[:-1] + ',"messages":[').encode()


def archive_message(doc: dict[str, Any], first: bool) -> bytes:
    """One stored message as the archive keeps it: who, when, what, which files."""
    row = {
        "seq": doc["seq"],
        "message_id": doc["_id"],
        "sender_user_id": doc.get("sender", ""),
        "sent_at": _iso(doc.get("sent_at")),
        "text": "" if doc.get("deleted") else doc.get("text", ""),
        "deleted": bool(doc.get("deleted", False)),
        "system": bool(doc.get("system", False)),
        "edited_at": _iso(doc.get("edited_at")),
        "reply_to_seq": doc.get("reply_to", 0),
        "file_ids": list(doc.get("files", [])),
    }
    return (("" if first else ",") + json.dumps(row, ensure_ascii=False, separators=(",", ":"))).encode()


def archive_footer(files: list[dict[str, Any]]) -> bytes:
    rows = [
        {
            "file_id": f["_id"],
            "owner_user_id": f.get("owner", ""),
            "filename": f.get("filename", ""),
            "content_type": f.get("content_type", ""),
            "size_bytes": int(f.get("size", 0)),
            "sha256_hex": f.get("sha256", ""),
        }
        for f in files
    ]
    return ('],"files":' + json.dumps(rows, ensure_ascii=False, separators=(",", ":")) + "}").encode()
