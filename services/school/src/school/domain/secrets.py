"""Invite tokens and phone hashes: unguessable tokens stored only as hashes; phones as keyed hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac

TOKEN_BYTES = 24  # 192 bits, above the 128 the issue asks for
MAX_TOKEN_LEN = 128


def invite_token(key: bytes, invite_id: str) -> str:
    """The token of an invite: HMAC of its id under the service key, 192 bits, URL-safe.

    Derived rather than random so an idempotent retry of CreateInvite (and RenderInviteQr) can show
    the same link again while the database keeps only its hash: reading the database alone never
    yields a working link.
    """
    mac = hmac.new(key, b"invite\x1f" + invite_id.encode(), hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def token_hash(token: str) -> str:
    # A plain hash suffices: the token has 192 bits of entropy, so there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(token: str) -> bool:
    return 16 <= len(token) <= MAX_TOKEN_LEN and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in token)


class Secrets:
    """Keyed hashes under the service key (domain-separated)."""

    def __init__(self, key: bytes):
        if len(key) < 16:
            raise ValueError("the service key must be at least 16 bytes")
        self._key = key

    def phone_hash(self, phone: str) -> str:
        # Phones have little entropy, so a plain hash would be reversible: keyed HMAC-SHA256.
        return hmac.new(self._key, b"phone\x1f" + phone.encode(), hashlib.sha256).hexdigest()

    def invite_token(self, invite_id: str) -> str:
        return invite_token(self._key, invite_id)


def looks_like_e164(phone: str) -> bool:
    return phone.startswith("+") and phone[1:].isascii() and phone[1:].isdigit() and 8 <= len(phone) <= 16
