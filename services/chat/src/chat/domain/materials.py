"""School materials: documents, videos and links published for the whole school or one class.

Decisions (docs/chat.md "Materials"):
- Publishing speaks as the school, like the staff channel: admins for any audience; a class's
  teachers (class head or subject teacher) for that class, once an admin verified them.
- Readers: school-wide — every member of the school; a class — its students, their parents, its
  teachers, and the school's admins. Outside the school nothing exists (NOT_FOUND).
- The publisher or an admin removes a material; a file material's download grant goes with it.
- Links are absolute http(s) URLs (no javascript:, data: or credentials in them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from urllib.parse import urlsplit

from parta_common import safety
from parta_common.errors import NotFound, PermissionDenied, Violations

MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_URL = 2000
_HOST = re.compile(r"^[^\W_](?:[\w-]{0,61}[^\W_])?$")


class MaterialKind(IntEnum):
    UNSPECIFIED = 0
    FILE = 1
    LINK = 2


@dataclass(frozen=True)
class Material:
    material_id: str
    school_id: str
    class_id: str  # "": the whole school
    title: str
    description: str
    kind: MaterialKind
    published_by: str
    published_at: datetime
    file_id: str = ""
    filename: str = ""
    content_type: str = ""
    size_bytes: int = 0
    url: str = ""


def url_problem(value: str) -> str | None:
    """An absolute http(s) address with a dotted (or localhost-free) host name."""
    wanted = f"an http:// or https:// address, at most {MAX_URL} characters"
    if len(value) > MAX_URL or not value.isprintable() or any(ch.isspace() for ch in value):
        return wanted
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return wanted
    if parts.scheme not in ("http", "https") or parts.username or parts.password:
        return wanted
    labels = host.split(".")
    if len(labels) < 2 or not all(_HOST.match(label) for label in labels):
        return wanted
    return None


def check_source(v: Violations, file_id: str, url: str) -> MaterialKind:
    """Exactly one of a file and a link."""
    if bool(file_id) == bool(url):
        v.add("file_id", "give either a file or a url")
        return MaterialKind.UNSPECIFIED
    if url:
        if problem := url_problem(url):
            v.add("url", problem)
        return MaterialKind.LINK
    return MaterialKind.FILE


def ensure_in_school(p: safety.Person) -> None:
    """Outside the school there are no materials: the same answer as a school that does not exist."""
    if not p.active:
        raise NotFound("no such school", reason="SCHOOL_NOT_FOUND")


def ensure_may_publish(p: safety.Person, class_id: str) -> None:
    ensure_in_school(p)
    safety.check_can_participate(p)
    if p.is_admin:
        return
    if not class_id or class_id not in p.teaches:
        raise PermissionDenied(
            "admins publish for the school, a class's teachers for their class", reason="NOT_PUBLISHER"
        )
    if not p.verified:
        raise safety.staff_not_verified()


def may_read(p: safety.Person, class_id: str) -> bool:
    if not p.active:
        return False
    if not class_id or p.is_admin:
        return True
    return class_id in (p.student_in | p.parent_in | p.teaches)


def ensure_may_read(p: safety.Person, class_id: str) -> None:
    ensure_in_school(p)
    if not may_read(p, class_id):
        raise PermissionDenied("this class's materials are for its families and teachers", reason="NOT_IN_AUDIENCE")


def ensure_may_remove(p: safety.Person, material: Material) -> None:
    if p.is_admin or p.user_id == material.published_by:
        return
    if not may_read(p, material.class_id):
        raise NotFound("no such material", reason="MATERIAL_NOT_FOUND")
    raise PermissionDenied("the publisher or an admin removes a material", reason="NOT_PUBLISHER")
