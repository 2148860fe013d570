"""Phone sign-in (request a code, verify it) and sessions (refresh, list, revoke)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import structlog
from parta_common.clock import Clock
from parta_common.errors import FailedPrecondition, NotFound, ResourceExhausted, Unauthenticated, Unavailable
from parta_common.ids import IDEMPOTENCY, new_id
from parta_common.retries import with_retries
from parta_common.validation import require_id, require_request_id

from identity.app.common import check_label
from identity.app.policy import IdentityPolicy
from identity.app.ports import (
    ChallengeRepository,
    IssuedToken,
    RateLimiter,
    SessionRepository,
    SmsGateway,
    TokenIssuer,
    UserRepository,
)
from identity.domain.challenges import (
    CODE_LENGTH,
    Challenge,
    ChallengeState,
    VerifyOutcome,
    challenge_not_found,
    new_code,
    validate_code_format,
)
from identity.domain.hashing import KeyedHasher
from identity.domain.phones import normalize_phone
from identity.domain.sessions import (
    RevokeReason,
    RotationOutcome,
    Session,
    new_refresh_token,
    parse_refresh_token,
    refresh_token_invalid,
)
from identity.domain.users import User

MAX_DEVICE_NAME = 64

log = structlog.get_logger("identity.sign_in")


@dataclass(frozen=True)
class CodeRequested:
    challenge_id: str
    resend_after_seconds: int
    expires_at: datetime
    code_length: int = CODE_LENGTH


@dataclass(frozen=True)
class SignedIn:
    user_id: str
    session_id: str
    access: IssuedToken
    refresh_token: str
    is_new_user: bool
    has_profile: bool


@dataclass(frozen=True)
class Refreshed:
    access: IssuedToken
    refresh_token: str


class SignIn:
    def __init__(
        self,
        *,
        users: UserRepository,
        challenges: ChallengeRepository,
        sessions: SessionRepository,
        limiter: RateLimiter,
        sms: SmsGateway,
        tokens: TokenIssuer,
        hasher: KeyedHasher,
        clock: Clock,
        policy: IdentityPolicy,
    ):
        self.users = users
        self.challenges = challenges
        self.sessions = sessions
        self.limiter = limiter
        self.sms = sms
        self.tokens = tokens
        self.hasher = hasher
        self.clock = clock
        self.policy = policy

    # --- codes -------------------------------------------------------------------------------

    async def request_code(self, raw_phone: str, request_id: str, client_address: str) -> CodeRequested:
        phone = normalize_phone(raw_phone)
        request_id = require_request_id(request_id, required=False)
        now = self.clock.now()
        cooldown = self.policy.code.resend_cooldown_seconds
        existing = None
        if request_id:
            # A retried request (lost response) gets the same challenge and no second SMS.
            existing = await self.challenges.get(IDEMPOTENCY.derive("challenge", phone, request_id))
            if existing is not None and existing.state is ChallengeState.PENDING and now < existing.expires_at:
                left = cooldown - (now - existing.created_at).total_seconds()
                return CodeRequested(existing.id, max(int(left + 0.999), 0), existing.expires_at)
        wait = await self.limiter.hit(
            f"addr:{client_address}", self.policy.address_limit, self.policy.address_window_seconds, now
        )
        if wait is not None:
            raise ResourceExhausted(
                "too many code requests from this address", retry_after_seconds=wait, reason="RATE_LIMITED_ADDRESS"
            )
        phone_key = self.hasher.hash("phone", phone)
        slot = await self.limiter.phone_code(
            phone_key, cooldown, self.policy.phone_daily_cap, self.policy.code.ttl_seconds, now
        )
        if slot.resend_wait is not None:
            raise ResourceExhausted(
                "a code was sent recently; wait before asking again",
                retry_after_seconds=slot.resend_wait,
                reason="CODE_RESEND_TOO_SOON",
            )
        if slot.cap_wait is not None:
            raise ResourceExhausted(
                "daily limit of codes for this phone reached",
                retry_after_seconds=slot.cap_wait,
                reason="DAILY_CODE_CAP",
            )
        challenge_id = IDEMPOTENCY.derive("challenge", phone, request_id) if request_id else new_id()
        code = new_code()
        code_hash = self.hasher.hash("code", challenge_id, code)
        if existing is not None and existing.state is ChallengeState.UNSENT:
            challenge = existing
            challenge.reissue(code_hash, now, self.policy.code)
            await self.challenges.save(challenge)
        else:
            challenge = Challenge.issue(challenge_id, phone, code_hash, now, self.policy.code)
            if not await self.challenges.add(challenge):
                raise FailedPrecondition("this request id was already used", reason="REQUEST_ID_REUSED")
        try:
            # Only the newest code of a phone is valid: older ones cannot be guessed in parallel.
            # The phone's first code within a code's life has no older one to supersede.
            if not slot.first:
                await self.challenges.supersede_pending(phone, except_id=challenge_id)
            await self.sms.send_code(phone, code)
        except BaseException as exc:
            await asyncio.shield(self._mark_unsent(challenge))
            if isinstance(exc, Exception):
                raise Unavailable("could not send the code; try again later", reason="SMS_UNAVAILABLE") from exc
            raise
        return CodeRequested(challenge_id, cooldown, challenge.expires_at)

    async def _mark_unsent(self, challenge: Challenge) -> None:
        """Best effort: if the store is down too, a retry finds the challenge pending and gets no
        SMS, as before; the client can still ask for a new code with a new request id."""
        challenge.state = ChallengeState.UNSENT
        try:
            await self.challenges.save(challenge)
        except Exception:
            log.warning("challenge_unsent_not_recorded")

    async def verify_code(self, challenge_id: str, code: str, device_name: str) -> SignedIn:
        challenge_id = require_id(challenge_id, "challenge_id", uuid=True)
        code = validate_code_format(code)
        device = check_label(device_name, "device_name", MAX_DEVICE_NAME, default="unknown device")
        policy = self.policy.code

        async def attempt() -> tuple[Challenge, VerifyOutcome]:
            challenge = await self.challenges.get(challenge_id)
            if challenge is None:
                raise challenge_not_found()
            matches = self.hasher.matches(challenge.code_hash, "code", challenge.id, code)
            outcome = challenge.verify(matches, self.clock.now(), policy)
            await self.challenges.save(challenge)  # optimistic: concurrent guesses each count
            return challenge, outcome

        challenge, outcome = await with_retries(attempt)
        if outcome is VerifyOutcome.WRONG_CODE:
            raise Unauthenticated(
                "wrong code",
                reason="CODE_INVALID",
                metadata={"attempts_left": str(challenge.attempts_left(policy))},
            )
        if outcome is VerifyOutcome.LOCKED_NOW:
            raise FailedPrecondition("too many wrong codes; request a new one", reason="CHALLENGE_LOCKED")
        user, is_new = await self._user_for(challenge.phone)
        return await self._open_session(user, device, is_new)

    async def _user_for(self, phone: str) -> tuple[User, bool]:
        # A lookup, then an insert: not one upsert on the phone, because secantus-mdb never frees a
        # unique key an upsert inserted, and a deleted account must free its phone (docs/store.md).
        existing = await self.users.by_phone(phone)
        if existing is not None:
            return existing, False
        user = User.register(new_id(), phone, self.clock.now())
        if await self.users.add(user):
            return user, True
        # Two first sign-ins of the same phone raced; the other one created the account.
        winner = await self.users.by_phone(phone)
        if winner is None:
            raise Unavailable("could not create the account; try again", reason="USER_CREATE_RACE")
        return winner, False

    async def _open_session(self, user: User, device: str, is_new: bool) -> SignedIn:
        now = self.clock.now()
        session_id = new_id()
        refresh = new_refresh_token(session_id)
        await self.sessions.add(Session.open(session_id, user.id, device, refresh, now, self.policy.session_idle_days))
        access = self.tokens.issue(user.id, session_id, user.phone or "", now)
        return SignedIn(user.id, session_id, access, refresh, is_new, user.profile is not None)

    # --- sessions ----------------------------------------------------------------------------

    async def refresh(self, refresh_token: str) -> Refreshed:
        session_id = parse_refresh_token(refresh_token)
        replacement = new_refresh_token(session_id)

        async def attempt() -> tuple[Session, RotationOutcome]:
            session = await self.sessions.get(session_id)
            if session is None:
                raise refresh_token_invalid()
            outcome = session.rotate(refresh_token, replacement, self.clock.now(), self.policy.session_idle_days)
            await self.sessions.save(session)
            return session, outcome

        session, outcome = await with_retries(attempt)
        if outcome is RotationOutcome.REUSE_DETECTED:
            raise Unauthenticated(
                "refresh token was already used; the session is revoked", reason="REFRESH_TOKEN_REUSED"
            )
        user = await self.users.get(session.user_id)
        if user is None or user.deleted:
            raise Unauthenticated("account deleted", reason="ACCOUNT_DELETED")
        return Refreshed(self.tokens.issue(user.id, session.id, user.phone or "", self.clock.now()), replacement)

    async def list_sessions(self, user_id: str) -> list[Session]:
        return await self.sessions.list_active(user_id)

    async def revoke_session(self, user_id: str, session_id: str) -> None:
        session_id = require_id(session_id, "session_id", uuid=True)

        async def attempt() -> None:
            session = await self.sessions.get(session_id)
            # Someone else's session looks exactly like a missing one.
            if session is None or session.user_id != user_id or not session.active:
                raise NotFound("no such active session", reason="SESSION_NOT_FOUND")
            session.revoke(RevokeReason.REVOKED_BY_USER, self.clock.now())
            await self.sessions.save(session)

        await with_retries(attempt)

    async def revoke_all(self, user_id: str, keep_session_id: str) -> int:
        return await self.sessions.revoke_all(user_id, RevokeReason.REVOKED_BY_USER, self.clock.now(), keep_session_id)

    async def check_session(self, user_id: str, session_id: str) -> None:
        """Identity's own RPCs refuse access tokens of revoked sessions at once (others wait for exp)."""
        if not await self.sessions.is_active(session_id, user_id):
            raise Unauthenticated("session was revoked", reason="SESSION_REVOKED")
