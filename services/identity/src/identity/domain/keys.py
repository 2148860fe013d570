"""The signing keyring: one current key signs; retired keys stay published until their tokens expire."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SigningKeyMaterial:
    key_id: str
    private_key: bytes  # raw 32-byte Ed25519 seed
    created_at: datetime
    # When the key stopped signing; tokens it issued before then stay valid until they expire.
    retired_at: datetime | None = None


@dataclass(frozen=True)
class Keyring:
    keys: tuple[SigningKeyMaterial, ...]

    def current(self) -> SigningKeyMaterial:
        active = [k for k in self.keys if k.retired_at is None]
        if not active:
            raise ValueError("keyring has no current signing key")
        return max(active, key=lambda k: k.created_at)

    def published(self, now: datetime, token_ttl_seconds: int, leeway_seconds: int = 60) -> list[SigningKeyMaterial]:
        """Keys verifiers must know: the current one and retired ones whose tokens may still live."""
        horizon = timedelta(seconds=token_ttl_seconds + leeway_seconds)
        return [k for k in self.keys if k.retired_at is None or now < k.retired_at + horizon]

    def rotate(self, new_key: SigningKeyMaterial, now: datetime) -> Keyring:
        """`new_key` becomes current; the others are retired now (not removed: their tokens live on)."""
        retired = tuple(k if k.retired_at is not None else replace(k, retired_at=now) for k in self.keys)
        return Keyring((*retired, new_key))

    def prune(self, now: datetime, token_ttl_seconds: int, leeway_seconds: int = 60) -> Keyring:
        return Keyring(tuple(self.published(now, token_ttl_seconds, leeway_seconds)))
