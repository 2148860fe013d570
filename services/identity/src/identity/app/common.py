"""Helpers shared by use cases: validation of small inputs, optimistic-concurrency retries."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from parta_common.errors import Aborted, InvalidArgument, NotFound

T = TypeVar("T")

MAX_ID_LENGTH = 64
MAX_REQUEST_ID_LENGTH = 64


def check_id(value: str, field: str, *, required: bool = True) -> str:
    if not value:
        if required:
            raise InvalidArgument.field(field, "must not be empty")
        return ""
    if len(value) > MAX_ID_LENGTH:
        raise InvalidArgument.field(field, f"must be at most {MAX_ID_LENGTH} characters")
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise InvalidArgument.field(field, "is not an id") from exc


def check_request_id(value: str, field: str = "request_id") -> str:
    if len(value) > MAX_REQUEST_ID_LENGTH:
        raise InvalidArgument.field(field, f"must be at most {MAX_REQUEST_ID_LENGTH} characters")
    if any(not ch.isprintable() or ch.isspace() for ch in value):
        raise InvalidArgument.field(field, "must be printable without spaces")
    return value


def check_label(value: str, field: str, max_length: int, default: str) -> str:
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        return default
    if len(text) > max_length:
        raise InvalidArgument.field(field, f"must be at most {max_length} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidArgument.field(field, "must not contain control characters")
    return text


def derived_id(scope: str, actor: str, request_id: str) -> str:
    """The same id for the same client retry (idempotent creates)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"parta-identity:{scope}:{actor}:{request_id}"))


async def with_retries(operation: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Re-run a read-modify-write when a concurrent writer won (Aborted CONCURRENT_UPDATE)."""
    for attempt in range(attempts):
        try:
            return await operation()
        except Aborted as exc:
            if exc.reason != "CONCURRENT_UPDATE" or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def user_not_found() -> NotFound:
    return NotFound("user not found", reason="USER_NOT_FOUND")
