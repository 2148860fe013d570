"""Keyed hashes for secrets we must recognise but never store: codes, phones as rate-limit keys."""

from __future__ import annotations

import hashlib
import hmac


class KeyedHasher:
    """HMAC-SHA256 under a server secret: a leaked database does not reveal codes, and a 6-digit
    code cannot be brute-forced offline without the key."""

    def __init__(self, key: bytes):
        if len(key) < 16:
            raise ValueError("hash key must be at least 16 bytes")
        self._key = key

    def hash(self, *parts: str) -> str:
        message = "\x1f".join(parts).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def matches(self, expected: str, *parts: str) -> bool:
        # Constant time: the comparison does not leak how many leading characters were right.
        return hmac.compare_digest(expected.encode(), self.hash(*parts).encode())


def token_hash(token: str) -> str:
    """Unkeyed SHA-256 is enough for 256-bit random tokens (refresh tokens): nothing to brute-force."""
    return hashlib.sha256(token.encode()).hexdigest()
