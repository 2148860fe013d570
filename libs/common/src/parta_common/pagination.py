"""Opaque page tokens: base64url JSON the client passes back unchanged."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from parta_common.errors import InvalidArgument
from parta_common.integers import MAX_OFFSET, require_int

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50


def encode_page_token(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, field: str = "page_token") -> dict[str, Any]:
    if not token:
        return {}
    if len(token) > 1024:
        raise InvalidArgument.field(field, "page token is too long")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        state = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument.field(field, "not a page token from this service") from exc
    if not isinstance(state, dict):
        raise InvalidArgument.field(field, "not a page token from this service")
    return state


def page_offset(token: str, field: str = "page_token", key: str = "o") -> int:
    """The listing position an offset page token carries (0 without a token); a token whose number
    is not an offset in 0..MAX_OFFSET is INVALID_ARGUMENT on `field`, never a driver overflow."""
    value = decode_page_token(token, field).get(key, 0)
    return require_int(field, value, maximum=MAX_OFFSET, description="not a page token from this service")


def page_size(requested: int, field: str = "page_size") -> int:
    if requested < 0:
        raise InvalidArgument.field(field, "must not be negative")
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)
