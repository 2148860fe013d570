"""In-memory fakes for unit tests: clock, keys and tokens, event sink, log capture."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parta_common.auth import KeyCache, PublicKey, StaticKeySource, TokenVerifier, sign_access_token
from parta_common.erasure import ErasureRun
from parta_common.logging import configure_logging


class FakeClock:
    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

    def set(self, when: datetime) -> None:
        self._mono += (when - self._now).total_seconds()
        self._now = when


@dataclass
class TokenMint:
    """An Ed25519 key pair with helpers to mint access tokens like identity does."""

    key_id: str = "test-key-1"
    private_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    issuer: str = "parta-identity"
    audience: str = "parta"

    def public(self) -> PublicKey:
        return PublicKey(self.key_id, self.private_key.public_key())

    def source(self) -> StaticKeySource:
        return StaticKeySource([self.public()])

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(KeyCache(self.source()), issuer=self.issuer, audience=self.audience)

    def token(
        self,
        user_id: str,
        *,
        session_id: str = "session-1",
        ttl: int = 900,
        issued_at: int | None = None,
        audience: str | None = None,
    ) -> str:
        now = int(datetime.now(UTC).timestamp()) if issued_at is None else issued_at
        return sign_access_token(
            self.private_key,
            key_id=self.key_id,
            issuer=self.issuer,
            audience=audience or self.audience,
            user_id=user_id,
            session_id=session_id,
            issued_at=now,
            ttl_seconds=ttl,
        )


class LogCapture:
    """Routes the kit's logging into memory; `text` is everything logged, `events` the parsed lines."""

    def __init__(self, service: str = "test"):
        self.stream = io.StringIO()
        configure_logging(service, "debug", stream=self.stream)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"raw": line})
        return out


class MemoryErasureLedger:
    """In-memory `parta_common.erasure.ErasureLedger` for unit tests: `reports` holds what each
    finished run would have published, once per person."""

    def __init__(self) -> None:
        self.runs: dict[str, ErasureRun] = {}
        self.reports: list[tuple[str, dict[str, int], str]] = []

    async def start(self, user_id: str, requested_by: str, now: datetime) -> ErasureRun | None:
        run = self.runs.setdefault(user_id, ErasureRun(user_id, requested_by, f"erased-{len(self.runs)}"))
        return None if run.done else run

    async def add(self, user_id: str, what: str, count: int) -> None:
        counts = self.runs[user_id].counts
        counts[what] = counts.get(what, 0) + count

    async def finish(self, user_id: str, now: datetime) -> dict[str, int] | None:
        run = self.runs.get(user_id)
        if run is None or run.done:
            return None
        self.runs[user_id] = ErasureRun(run.user_id, run.requested_by, run.token, True, run.counts)
        self.reports.append((user_id, dict(run.counts), run.requested_by))
        return dict(run.counts)
