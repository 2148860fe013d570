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


class IdNamespace:
    """Ids derived from other ids: the same parts always give the same id (a retried create finds
    its first result; a parent's fixed child needs no lookup). A service keeps its own namespace,
    so its derived ids never collide with another's and stay what they were."""

    def __init__(self, namespace: uuid.UUID):
        self._namespace = namespace

    def derive(self, *parts: str) -> str:
        return str(uuid.uuid5(self._namespace, "\x1f".join(parts)))


# The kit's own namespace: `mongo.idempotent_id(scope, actor, request_id)`.
IDEMPOTENCY = IdNamespace(uuid.UUID("6f1c1d5e-3b5c-4a57-9a0e-3e5b8f7f2a10"))
