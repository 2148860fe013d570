"""Reads an access token's `exp` and `sid` without verifying it: only to decide when to refresh and
which session to end on sign-out. The services verify every token they are given."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def _claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        value = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def expires_at(token: str) -> float | None:
    exp = _claims(token).get("exp")
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def session_id(token: str) -> str:
    sid = _claims(token).get("sid")
    return sid if isinstance(sid, str) else ""


def needs_refresh(token: str, now: float, margin_seconds: float) -> bool:
    """True when the token is unreadable or expires within the margin."""
    exp = expires_at(token)
    return exp is None or exp - margin_seconds <= now
