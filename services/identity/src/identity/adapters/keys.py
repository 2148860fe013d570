"""Signing keys: loading the keyring (configuration in production, the database in development),
signing access tokens with the current key, and publishing the public halves."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from parta_common.auth import PublicKey, sign_access_token
from parta_common.clock import Clock
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from identity.adapters.mongo import SECRETS
from identity.app.ports import IssuedToken
from identity.domain.keys import Keyring, SigningKeyMaterial

KEYRING_ID = "signing_keyring"
HASH_KEY_ID = "hash_key"


def generate_key(now: datetime) -> SigningKeyMaterial:
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    # Random, not time-ordered: two keys made in the same millisecond must still differ.
    return SigningKeyMaterial(key_id=f"k-{secrets.token_hex(8)}", private_key=seed, created_at=now)


def public_bytes(material: SigningKeyMaterial) -> bytes:
    return (
        Ed25519PrivateKey.from_private_bytes(material.private_key)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def keyring_to_json(ring: Keyring) -> list[dict[str, Any]]:
    return [
        {
            "kid": k.key_id,
            "private_key": base64.b64encode(k.private_key).decode(),
            "created_at": k.created_at.isoformat(),
            "retired_at": k.retired_at.isoformat() if k.retired_at else None,
        }
        for k in ring.keys
    ]


def keyring_from_json(items: Any) -> Keyring:
    if not isinstance(items, list) or not items:
        raise ValueError("signing keys must be a non-empty JSON list")
    keys = []
    for item in items:
        try:
            seed = base64.b64decode(item["private_key"], validate=True)
            created = _parse_time(item.get("created_at")) or datetime.fromtimestamp(0, UTC)
            keys.append(SigningKeyMaterial(str(item["kid"]), seed, created, _parse_time(item.get("retired_at"))))
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ValueError("each signing key needs kid and a base64 private_key") from exc
        if len(seed) != 32 or not keys[-1].key_id:
            raise ValueError("an Ed25519 private key is 32 bytes, with a non-empty kid")
    ring = Keyring(tuple(keys))
    ring.current()  # at least one key must not be retired
    return ring


def parse_configured_keys(value: str) -> Keyring:
    """IDENTITY_SIGNING_KEYS: a path to a JSON file, or the JSON itself base64-encoded."""
    text = value.strip()
    path = Path(text)
    if text.startswith(("/", ".")) or path.suffix == ".json":
        return keyring_from_json(json.loads(path.read_text()))
    try:
        return keyring_from_json(json.loads(base64.b64decode(text, validate=True)))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("IDENTITY_SIGNING_KEYS is neither a JSON file path nor base64 JSON") from exc


class MongoKeyStore:
    """Development only: keys and the hash key live in the database so restarts keep sessions."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]], clock: Clock):
        self._c = database[SECRETS]
        self._clock = clock

    async def load_or_create_keyring(self) -> Keyring:
        doc = await self._c.find_one({"_id": KEYRING_ID})
        if doc is None:
            ring = Keyring((generate_key(self._clock.now()),))
            try:
                await self._c.insert_one({"_id": KEYRING_ID, "keys": keyring_to_json(ring), "version": 1})
            except DuplicateKeyError:
                pass  # another replica created it first; use theirs
            doc = await self._c.find_one({"_id": KEYRING_ID})
            assert doc is not None
        return keyring_from_json(doc["keys"])

    async def rotate(self, token_ttl_seconds: int) -> Keyring:
        doc = await self._c.find_one({"_id": KEYRING_ID})
        now = self._clock.now()
        ring = keyring_from_json(doc["keys"]) if doc else Keyring(())
        rotated = ring.rotate(generate_key(now), now).prune(now, token_ttl_seconds)
        await self._c.update_one(
            {"_id": KEYRING_ID}, {"$set": {"keys": keyring_to_json(rotated)}, "$inc": {"version": 1}}, upsert=True
        )
        return rotated

    async def load_or_create_hash_key(self) -> bytes:
        doc = await self._c.find_one({"_id": HASH_KEY_ID})
        if doc is None:
            try:
                await self._c.insert_one(
                    {"_id": HASH_KEY_ID, "key": base64.b64encode(secrets.token_bytes(32)).decode()}
                )
            except DuplicateKeyError:
                pass
            doc = await self._c.find_one({"_id": HASH_KEY_ID})
            assert doc is not None
        return base64.b64decode(doc["key"])


class KeyringHolder:
    """The keyring in use; `replace()` swaps it (reload after a rotation) without a restart."""

    def __init__(self, ring: Keyring, *, issuer: str, audience: str, ttl_seconds: int, clock: Clock):
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._private: dict[str, Ed25519PrivateKey] = {}
        self.ring = ring
        self.replace(ring)

    def replace(self, ring: Keyring) -> None:
        ring.current()
        self._private = {k.key_id: Ed25519PrivateKey.from_private_bytes(k.private_key) for k in ring.keys}
        self.ring = ring

    async def reload_from(self, store: MongoKeyStore) -> None:
        """Development: pick up a rotation `python -m identity rotate-keys` wrote to the database."""
        self.replace(await store.load_or_create_keyring())

    # TokenIssuer
    def issue(self, user_id: str, session_id: str, phone: str, now: datetime) -> IssuedToken:
        current = self.ring.current()
        issued_at = int(now.timestamp())
        token = sign_access_token(
            self._private[current.key_id],
            key_id=current.key_id,
            issuer=self.issuer,
            audience=self.audience,
            user_id=user_id,
            session_id=session_id,
            issued_at=issued_at,
            ttl_seconds=self.ttl_seconds,
            extra={"phone_number": phone} if phone else None,
        )
        return IssuedToken(token, datetime.fromtimestamp(issued_at + self.ttl_seconds, UTC))

    def published(self) -> list[tuple[SigningKeyMaterial, bytes]]:
        return [(k, public_bytes(k)) for k in self.ring.published(self._clock.now(), self.ttl_seconds)]

    # KeySource for identity's own verifier: no network hop to itself.
    async def fetch(self) -> list[PublicKey]:
        out = []
        for material, raw in self.published():
            pub = self._private[material.key_id].public_key()
            assert raw
            retire = int(material.retired_at.timestamp()) if material.retired_at else 0
            out.append(PublicKey(material.key_id, pub, retire_after=retire))
        return out
