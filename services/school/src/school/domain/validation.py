"""Checks of free text, ids and request ids, and ids derived from them (pure Python)."""

from __future__ import annotations

import unicodedata
import uuid

from parta_common.errors import InvalidArgument, Violations

# Limits on free text; protobuf already rejects invalid UTF-8.
MAX_REQUEST_ID = 128
MAX_ID = 64


def has_control_chars(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text)


def check_text(v: Violations, name: str, value: str, max_len: int, *, required: bool) -> None:
    if not value.strip():
        if required:
            v.add(name, "must not be empty")
        elif value:
            v.add(name, "must not be blank")
        return
    if len(value) > max_len:
        v.add(name, f"must be at most {max_len} characters")
    if has_control_chars(value):
        v.add(name, "must not contain control characters")
    if value != value.strip():
        v.add(name, "must not start or end with spaces")


def check_id(v: Violations, name: str, value: str, *, required: bool = True) -> None:
    if not value:
        if required:
            v.add(name, "must not be empty")
        return
    if len(value) > MAX_ID or not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in value):
        v.add(name, "is not a valid id")


def check_request_id(v: Violations, value: str, name: str = "request_id") -> None:
    if not value:
        v.add(name, "must not be empty: it makes retries safe")
    elif len(value) > MAX_REQUEST_ID or has_control_chars(value):
        v.add(name, f"must be at most {MAX_REQUEST_ID} printable characters")


def invalid(name: str, description: str) -> InvalidArgument:
    return InvalidArgument.field(name, description)


_ID_NAMESPACE = uuid.UUID("2b7c8a4e-5f0e-4c1e-9d8f-1c0a7a6b5e21")


def derived_id(*parts: str) -> str:
    """An id derived from a client's request id (idempotent creates) or from a parent id."""
    return str(uuid.uuid5(_ID_NAMESPACE, "\x1f".join(parts)))
