"""Access tokens: Ed25519-signed JWTs issued by identity, verified locally by every service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from parta_common.errors import Unauthenticated

ALGORITHM = "EdDSA"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of an RPC."""

    user_id: str
    session_id: str
    expires_at: int
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    key: Ed25519PublicKey
    retire_after: int = 0  # unix seconds; 0 = current


class KeySource(Protocol):
    """Where verification keys come from (identity's SigningKeyService, or a local keyring)."""

    async def fetch(self) -> list[PublicKey]: ...


class KeyCache:
    """Caches public keys; refreshes on an unknown key id, at most once per `min_refresh_seconds`."""

    def __init__(self, source: KeySource, *, min_refresh_seconds: float = 5.0):
        self._source = source
        self._keys: dict[str, PublicKey] = {}
        self._min_refresh = min_refresh_seconds
        self._last_refresh = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, key_id: str) -> PublicKey | None:
        key = self._keys.get(key_id)
        if key is not None:
            return key
        async with self._lock:
            if key_id not in self._keys and time.monotonic() - self._last_refresh >= self._min_refresh:
                await self.refresh()
        return self._keys.get(key_id)

    async def refresh(self) -> None:
        self._last_refresh = time.monotonic()
        self._keys = {k.key_id: k for k in await self._source.fetch()}

    def has(self, key_id: str) -> bool:
        return key_id in self._keys


# Verified tokens remembered per verifier. A cached check is a dict lookup (~1 µs) against
# ~200 µs for the Ed25519 signature and the claim checks (issue 18: ≤ 50 µs per call).
DEFAULT_TOKEN_CACHE_SIZE = 10_000


class TokenVerifier:
    """Verifies access tokens; remembers verified ones until they expire.

    The cache is keyed by the whole token (a different token is a different entry, so nothing
    about one token can leak into another), bounded (the oldest entry goes first), and an entry
    lives no longer than the token itself (`exp` plus the same leeway an uncached check allows).
    A key that is no longer published ends its tokens' entries. Revocation is not the cache's
    business: the edge checks the deny-set after `verify`, on every call, cached or not.
    """

    def __init__(
        self,
        keys: KeyCache,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: int = 10,
        cache_size: int = DEFAULT_TOKEN_CACHE_SIZE,
        now: Callable[[], float] = time.time,
    ):
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._cache_size = cache_size
        self._cache: dict[str, tuple[Principal, str]] = {}
        self._now = now

    @property
    def cached(self) -> int:
        return len(self._cache)

    async def verify(self, token: str) -> Principal:
        hit = self._cache.get(token)
        if hit is not None:
            principal, kid = hit
            if principal.expires_at + self._leeway > self._now() and self._keys.has(kid):
                return principal
            del self._cache[token]
        principal, kid = await self._verify(token)
        if self._cache_size > 0:
            while len(self._cache) >= self._cache_size:
                del self._cache[next(iter(self._cache))]  # dicts keep insertion order: oldest first
            self._cache[token] = (principal, kid)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("malformed access token", reason="TOKEN_MALFORMED") from exc
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated("unsupported token algorithm", reason="TOKEN_ALGORITHM")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("token has no key id", reason="TOKEN_MALFORMED")
        key = await self._keys.get(kid)
        if key is None:
            raise Unauthenticated("token signed by an unknown key", reason="TOKEN_UNKNOWN_KEY")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "sid", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("access token expired", reason="TOKEN_EXPIRED") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated("token is for another audience", reason="TOKEN_AUDIENCE") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid access token", reason="TOKEN_INVALID") from exc
        if key.retire_after and claims["iat"] > key.retire_after:
            raise Unauthenticated("token signed by a retired key", reason="TOKEN_UNKNOWN_KEY")
        principal = Principal(
            user_id=str(claims["sub"]), session_id=str(claims["sid"]), expires_at=int(claims["exp"]), claims=claims
        )
        return principal, kid


def sign_access_token(
    private_key: Ed25519PrivateKey,
    *,
    key_id: str,
    issuer: str,
    audience: str,
    user_id: str,
    session_id: str,
    issued_at: int,
    ttl_seconds: int,
    extra: Mapping[str, Any] | None = None,
) -> str:
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": user_id,
        "sid": session_id,
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        **(extra or {}),
    }
    return jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": key_id})


class StaticKeySource:
    """A fixed list of keys: identity's own keyring, and unit tests."""

    def __init__(self, keys: list[PublicKey]):
        self.keys = list(keys)
        self.fetches = 0

    async def fetch(self) -> list[PublicKey]:
        self.fetches += 1
        return list(self.keys)
