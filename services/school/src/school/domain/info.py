"""The school's card ("Заполнить информацию о школе"): what a school tells its members about itself, and
the rules of each field (pure Python)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from parta_common.errors import Violations
from parta_common.validation import check_text

MAX_FULL_NAME = 300
MAX_SHORT_NAME = 64
MAX_ADDRESS = 300
MAX_DIRECTOR = 200
MAX_EMAIL = 254
MAX_WEBSITE = 2048
MAX_DESCRIPTION = 4000
# A card is read by every member on opening the school: the logo stays small enough to live in the
# card's own document (one read, one atomic write) and to travel in one gRPC message.
MAX_LOGO_BYTES = 256 * 1024

# The fields UpdateSchoolInfo may name, in the card's order.
EDITABLE = (
    "full_name",
    "short_name",
    "address",
    "director_name",
    "phone",
    "email",
    "website",
    "description",
    "logo",
)
TEXT_FIELDS = EDITABLE[:-1]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_HOST = re.compile(r"^[A-Za-z0-9\u0400-\u04ff]([A-Za-z0-9\u0400-\u04ff-]*[A-Za-z0-9\u0400-\u04ff])?$")
_PHONE_DECORATION = str.maketrans("", "", " -()\u00a0")


@dataclass(frozen=True)
class SchoolLogo:
    content_type: str
    size_bytes: int
    sha256_hex: str


@dataclass(frozen=True)
class SchoolInfo:
    school_id: str
    full_name: str = ""
    short_name: str = ""
    address: str = ""
    director_name: str = ""
    phone: str = ""
    email: str = ""
    website: str = ""
    description: str = ""
    logo: SchoolLogo | None = None
    version: int = 0
    updated_at: datetime | None = None
    updated_by: str = ""


def sniff_image(data: bytes) -> str | None:
    """The image type of `data` from its signature: PNG, JPEG or WebP; None for anything else (SVG
    included: it can carry scripts, and members' clients would render it)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def logo_of(data: bytes) -> SchoolLogo | None:
    content_type = sniff_image(data)
    if content_type is None:
        return None
    return SchoolLogo(content_type, len(data), hashlib.sha256(data).hexdigest())


def normalize_phone(value: str) -> str:
    return value.translate(_PHONE_DECORATION)


def phone_problem(value: str) -> str | None:
    digits = value[1:]
    if not (value.startswith("+") and digits.isascii() and digits.isdigit() and 8 <= len(value) <= 16):
        return "an international number like +74951234567"
    return None


def email_problem(value: str) -> str | None:
    if len(value) > MAX_EMAIL or not value.isprintable() or not _EMAIL.match(value):
        return f"an address like school@example.ru, at most {MAX_EMAIL} characters"
    return None


def website_problem(value: str) -> str | None:
    """An absolute http(s) address whose host is a dotted name (Cyrillic domains such as школа.рф too)."""
    wanted = f"an http:// or https:// address like https://school.example.ru, at most {MAX_WEBSITE} characters"
    if len(value) > MAX_WEBSITE or not value.isprintable() or any(ch.isspace() for ch in value):
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


def check_changes(v: Violations, changes: dict[str, str], logo_data: bytes | None) -> dict[str, str]:
    """Validates the named text fields (and the logo when `logo_data` is not None) into `v`; returns
    the text fields as they will be stored (phones without decoration)."""
    out = dict(changes)
    limits = {
        "full_name": MAX_FULL_NAME,
        "short_name": MAX_SHORT_NAME,
        "address": MAX_ADDRESS,
        "director_name": MAX_DIRECTOR,
    }
    for key, limit in limits.items():
        if key in changes:
            check_text(v, f"info.{key}", changes[key], limit, required=key == "full_name")
    if "description" in changes:
        check_text(v, "info.description", changes["description"], MAX_DESCRIPTION, required=False, prose=True)
    if changes.get("phone"):
        out["phone"] = normalize_phone(changes["phone"])
        if problem := phone_problem(out["phone"]):
            v.add("info.phone", problem)
    if changes.get("email") and (problem := email_problem(changes["email"])):
        v.add("info.email", problem)
    if changes.get("website") and (problem := website_problem(changes["website"])):
        v.add("info.website", problem)
    if logo_data:
        if len(logo_data) > MAX_LOGO_BYTES:
            v.add("logo_data", f"at most {MAX_LOGO_BYTES} bytes")
        elif sniff_image(logo_data) is None:
            v.add("logo_data", "a PNG, JPEG or WebP image")
    return out
