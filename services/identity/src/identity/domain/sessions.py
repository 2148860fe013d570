"""Sessions and their refresh tokens: rotation on every use, reuse of an old token revokes all."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from parta_common.errors import InvalidArgument, Unauthenticated

from identity.domain.events import SessionRevoked
from identity.domain.hashing import token_hash

MAX_REFRESH_TOKEN_LENGTH = 200
# How many superseded refresh-token hashes a session remembers to recognise reuse.
REMEMBERED_HASHES = 50
_TOKEN_RE = re.compile(r"^([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$")


class RevokeReason(StrEnum):
    SIGN_OUT = "sign_out"
    REVOKED_BY_USER = "revoked_by_user"
    REFRESH_REUSE = "refresh_token_reuse"
    ACCOUNT_DELETED = "account_deleted"


class RotationOutcome(StrEnum):
    ROTATED = "rotated"
    REUSE_DETECTED = "reuse_detected"


def new_refresh_token(session_id: str) -> str:
    """Opaque to clients: "<session id>.<256 random bits>"; the id lets us find the session."""
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return f"{session_id}.{secret}"


def parse_refresh_token(token: str, field_name: str = "refresh_token") -> str:
    """Returns the session id the token claims to belong to."""
    if not token:
        raise InvalidArgument.field(field_name, "must not be empty")
    if len(token) > MAX_REFRESH_TOKEN_LENGTH:
        raise InvalidArgument.field(field_name, "is too long")
    match = _TOKEN_RE.match(token)
    if match is None:
        raise InvalidArgument.field(field_name, "is not a refresh token")
    return match.group(1)


def refresh_token_invalid() -> Unauthenticated:
    return Unauthenticated("refresh token is not valid", reason="REFRESH_TOKEN_INVALID")


@dataclass
class Session:
    id: str
    user_id: str
    device_name: str
    created_at: datetime
    last_used_at: datetime
    refresh_hash: str
    expires_at: datetime
    previous_hashes: list[str] = field(default_factory=list)
    revoked_at: datetime | None = None
    revoke_reason: str = ""
    version: int = 0
    # Written with the session in one update (its outbox), so a revocation is never lost.
    events: list[SessionRevoked] = field(default_factory=list)

    @classmethod
    def open(
        cls, session_id: str, user_id: str, device_name: str, refresh_token: str, now: datetime, idle_days: int
    ) -> Session:
        return cls(
            id=session_id,
            user_id=user_id,
            device_name=device_name,
            created_at=now,
            last_used_at=now,
            refresh_hash=token_hash(refresh_token),
            expires_at=now + timedelta(days=idle_days),
        )

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def revoke(self, reason: RevokeReason, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        self.revoked_at = now
        self.revoke_reason = reason.value
        self.events.append(SessionRevoked(self.user_id, self.id, now, reason.value))
        return True

    def rotate(self, presented: str, replacement: str, now: datetime, idle_days: int) -> RotationOutcome:
        """Swap the current refresh token for `replacement`. A token that was current once but is
        not any more means two parties hold it (a thief or a replay): the whole session dies."""
        presented_hash = token_hash(presented)
        if presented_hash in self.previous_hashes:
            self.revoke(RevokeReason.REFRESH_REUSE, now)
            return RotationOutcome.REUSE_DETECTED
        if not secrets.compare_digest(presented_hash, self.refresh_hash):
            # Unknown token for a known session id: do not revoke, or anyone who saw a session id
            # (it is in every access token) could log its owner out.
            raise refresh_token_invalid()
        if self.revoked_at is not None:
            raise Unauthenticated("session was revoked", reason="SESSION_REVOKED")
        if now >= self.expires_at:
            raise Unauthenticated("session expired; sign in again", reason="SESSION_EXPIRED")
        self.previous_hashes = [*self.previous_hashes, self.refresh_hash][-REMEMBERED_HASHES:]
        self.refresh_hash = token_hash(replacement)
        self.last_used_at = now
        self.expires_at = now + timedelta(days=idle_days)
        return RotationOutcome.ROTATED
