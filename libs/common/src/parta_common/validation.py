"""Validation of small inputs, one rule per concept for every service (collect with `Violations`).

An **id** is 1 to 64 characters, each an ASCII letter, a digit, `-` or `_`. Every id Parta mints
fits (UUIDs from `ids.new_id` and `ids.derived_id`), ids that came from other systems do too, and
nothing that needs escaping in a log line, a key or a URL does. A service that looks up ids it
minted itself may ask for their UUID form too (`uuid=True`): a string that cannot be one of its
ids is then INVALID_ARGUMENT rather than NOT_FOUND. That narrows the rule, never widens it.

**Text** (names, titles, subjects) has no control or format characters (Unicode categories C*),
no leading or trailing spaces, and a maximum length; a required one is not blank.

**Prose** (`prose=True`: a chat message, a caption, an emoji, a report) is what people type: it keeps
the format characters that compose it (the zero-width joiner of 👨‍👩‍👧, soft hyphens, directional
marks), may start or end with spaces and break lines; it has no controls (Cc) and none of the
bidirectional overrides and isolates that reorder what a reader sees.

Ids a client chooses may be wider (`printable=True`, `max_len`): chat's chat, file and message ids
are up to 128 printable characters without spaces.
"""

from __future__ import annotations

import unicodedata
import uuid as _uuid

from parta_common.errors import InvalidArgument, Violations

MAX_ID_LENGTH = 64
MAX_REQUEST_ID_LENGTH = 128
_ID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_LINE_BREAKS = frozenset("\n\t")
_BIDI_OVERRIDES = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def id_problem(value: str, *, uuid: bool = False, max_len: int = MAX_ID_LENGTH, printable: bool = False) -> str | None:
    """Why `value` is not an id (a field violation's description), or None when it is one.
    `printable`: any printable characters without spaces instead of the id alphabet."""
    if len(value) > max_len:
        return f"must be at most {max_len} characters"
    if printable:
        if not value or any(ch.isspace() for ch in value) or has_control_chars(value, prose=True):
            return "must not contain spaces or control characters"
    elif not value or not all(ch in _ID_CHARACTERS for ch in value):
        return "is not a valid id"
    if uuid:
        try:
            _uuid.UUID(value)
        except ValueError:
            return "is not a valid id"
    return None


def check_id(
    v: Violations,
    name: str,
    value: str,
    *,
    required: bool = True,
    uuid: bool = False,
    max_len: int = MAX_ID_LENGTH,
    printable: bool = False,
) -> None:
    if not value:
        if required:
            v.add(name, "must not be empty")
        return
    problem = id_problem(value, uuid=uuid, max_len=max_len, printable=printable)
    if problem is not None:
        v.add(name, problem)


def require_id(value: str, name: str, *, required: bool = True, uuid: bool = False) -> str:
    """`check_id` for a single field: the id (a UUID in its canonical lower-case form when
    `uuid`), or InvalidArgument at once."""
    v = Violations()
    check_id(v, name, value, required=required, uuid=uuid)
    v.raise_if_any()
    return str(_uuid.UUID(value)) if uuid and value else value


def has_control_chars(text: str, *, prose: bool = False, newlines: bool = False) -> bool:
    """Control, format, surrogate, private-use or unassigned characters (Unicode categories C*).
    `prose`: only controls (Cc) and bidirectional overrides; `newlines`: in prose, line breaks and
    tabs are text."""
    if not prose:
        return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text)
    return any(
        ch in _BIDI_OVERRIDES or (unicodedata.category(ch) == "Cc" and not (newlines and ch in _LINE_BREAKS))
        for ch in text
    )


def check_text(v: Violations, name: str, value: str, max_len: int, *, required: bool, prose: bool = False) -> None:
    if prose:
        if required and not value.strip():
            v.add(name, "must not be empty")
        if len(value) > max_len:
            v.add(name, f"must be at most {max_len} characters")
        if has_control_chars(value, prose=True, newlines=True):
            v.add(name, "must not contain control characters")
        return
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


def check_request_id(v: Violations, value: str, name: str = "request_id", *, required: bool = True) -> None:
    """A client's idempotency key: at most 128 printable characters without spaces; required unless told."""
    if not value:
        if required:
            v.add(name, "must not be empty: it makes retries safe")
    elif len(value) > MAX_REQUEST_ID_LENGTH or has_control_chars(value) or any(ch.isspace() for ch in value):
        v.add(name, f"must be at most {MAX_REQUEST_ID_LENGTH} printable characters without spaces")


def require_request_id(value: str, name: str = "request_id", *, required: bool = True) -> str:
    """`check_request_id` for a single field: the key, or InvalidArgument at once."""
    v = Violations()
    check_request_id(v, value, name, required=required)
    v.raise_if_any()
    return value


__all__ = [
    "MAX_ID_LENGTH",
    "MAX_REQUEST_ID_LENGTH",
    "InvalidArgument",
    "check_id",
    "check_request_id",
    "check_text",
    "has_control_chars",
    "id_problem",
    "require_id",
    "require_request_id",
]
