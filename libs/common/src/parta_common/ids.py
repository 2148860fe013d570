"""Identifiers: random, URL-safe and roughly time-ordered so indexes stay append-friendly."""

from __future__ import annotations

import os
import time
import uuid


def new_id() -> str:
    """A UUIDv7-style id: 48-bit millisecond time prefix, then 74 random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80 | (0x7 << 76) | (rand & ((1 << 76) - 1))
    value = (value & ~(0xC << 60)) | (0x8 << 60)  # RFC 4122 variant bits
    return str(uuid.UUID(int=value))
