"""One-time sign-in codes: life-cycle of a challenge (pending → used | locked | superseded; pending
→ unsent when its SMS could not go out, and unsent → pending when the same request is retried)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from parta_common.errors import FailedPrecondition, InvalidArgument, NotFound

CODE_LENGTH = 6


@dataclass(frozen=True)
class CodePolicy:
    ttl_seconds: int = 300
    max_attempts: int = 5
    resend_cooldown_seconds: int = 60


class ChallengeState(StrEnum):
    PENDING = "pending"
    USED = "used"
    LOCKED = "locked"
    SUPERSEDED = "superseded"
    # Stored, but its SMS never left (the send or the step before it failed): a retry of the same
    # request issues a fresh code into it rather than answering with a code nobody received.
    UNSENT = "unsent"


class VerifyOutcome(StrEnum):
    ACCEPTED = "accepted"
    WRONG_CODE = "wrong_code"
    LOCKED_NOW = "locked_now"  # this wrong guess was the last one allowed


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"


def validate_code_format(code: str, field: str = "code") -> str:
    text = code.strip()
    if len(text) != CODE_LENGTH or not (text.isascii() and text.isdigit()):
        raise InvalidArgument.field(field, f"must be {CODE_LENGTH} digits")
    return text


@dataclass
class Challenge:
    id: str
    phone: str
    code_hash: str
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    state: ChallengeState = ChallengeState.PENDING
    version: int = 0

    @classmethod
    def issue(cls, challenge_id: str, phone: str, code_hash: str, now: datetime, policy: CodePolicy) -> Challenge:
        return cls(challenge_id, phone, code_hash, now, now + timedelta(seconds=policy.ttl_seconds))

    def reissue(self, code_hash: str, now: datetime, policy: CodePolicy) -> None:
        """An unsent challenge gets a fresh code and life for the retry of its request."""
        self.code_hash, self.created_at = code_hash, now
        self.expires_at = now + timedelta(seconds=policy.ttl_seconds)
        self.attempts, self.state = 0, ChallengeState.PENDING

    def attempts_left(self, policy: CodePolicy) -> int:
        return max(policy.max_attempts - self.attempts, 0)

    def verify(self, code_matches: bool, now: datetime, policy: CodePolicy) -> VerifyOutcome:
        """Applies one attempt. Raises when the challenge cannot be used at all (nothing to save);
        otherwise mutates and returns the outcome, which the caller saves before answering."""
        if self.state is ChallengeState.USED:
            raise FailedPrecondition("this code was already used", reason="CHALLENGE_USED")
        if self.state is ChallengeState.SUPERSEDED:
            raise FailedPrecondition("a newer code was requested", reason="CHALLENGE_SUPERSEDED")
        if self.state is ChallengeState.UNSENT:
            raise FailedPrecondition("no code was sent; request a new one", reason="CHALLENGE_NOT_SENT")
        if self.state is ChallengeState.LOCKED or self.attempts >= policy.max_attempts:
            raise FailedPrecondition("too many wrong codes; request a new one", reason="CHALLENGE_LOCKED")
        if now >= self.expires_at:
            raise FailedPrecondition("the code has expired; request a new one", reason="CHALLENGE_EXPIRED")
        if code_matches:
            self.state = ChallengeState.USED
            return VerifyOutcome.ACCEPTED
        self.attempts += 1
        if self.attempts >= policy.max_attempts:
            self.state = ChallengeState.LOCKED
            return VerifyOutcome.LOCKED_NOW
        return VerifyOutcome.WRONG_CODE


def challenge_not_found() -> NotFound:
    return NotFound("no such sign-in challenge", reason="CHALLENGE_NOT_FOUND")
