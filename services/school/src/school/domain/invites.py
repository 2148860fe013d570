"""Invites: a link's limits, expiry and revocation, and the shape of a new one (pure Python)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from parta_common.errors import FailedPrecondition, Violations

from school.domain.memberships import SchoolRole

MAX_INVITE_USES = 10_000
MAX_INVITE_DAYS = 90


@dataclass(frozen=True)
class Invite:
    id: str
    school_id: str
    class_id: str
    role: SchoolRole
    child_user_id: str
    expires_at: datetime
    max_uses: int
    uses: int
    requires_approval: bool
    revoked: bool
    created_by: str
    created_at: datetime
    accepted_by: tuple[str, ...] = ()
    version: int = 0

    def check_usable(self, now: datetime, user_id: str) -> None:
        """Distinct reasons: a client tells "ask for a new link" from "link was withdrawn"."""
        if self.revoked:
            raise FailedPrecondition("this invite was revoked", reason="INVITE_REVOKED")
        if now >= self.expires_at:
            raise FailedPrecondition("this invite has expired", reason="INVITE_EXPIRED")
        if user_id in self.accepted_by:
            return  # a retry by someone already counted does not need a free use
        if self.uses >= self.max_uses:
            raise FailedPrecondition("this invite has been used up", reason="INVITE_EXHAUSTED")

    def accept(self, now: datetime, user_id: str) -> Invite:
        self.check_usable(now, user_id)
        if user_id in self.accepted_by:
            return self
        return replace(self, uses=self.uses + 1, accepted_by=(*self.accepted_by, user_id))


def check_invite_shape(
    v: Violations, role: SchoolRole, class_id: str, child_user_id: str, max_uses: int, ttl_seconds: int
) -> None:
    if role == SchoolRole.UNSPECIFIED or role not in SchoolRole.__members__.values():
        v.add("role", "must be teacher, student or parent")
    elif role == SchoolRole.ADMIN:
        v.add("role", "admins are appointed, not invited")
    if role in (SchoolRole.STUDENT, SchoolRole.PARENT) and not class_id:
        v.add("class_id", "student and parent invites are for a class")
    if role == SchoolRole.PARENT and not child_user_id:
        v.add("child_user_id", "a parent invite is bound to a child")
    if role != SchoolRole.PARENT and child_user_id:
        v.add("child_user_id", "only parent invites are bound to a child")
    if not 1 <= max_uses <= MAX_INVITE_USES:
        v.add("max_uses", f"must be between 1 and {MAX_INVITE_USES}")
    if not 60 <= ttl_seconds <= MAX_INVITE_DAYS * 86400:
        v.add("ttl_seconds", f"must be between 60 seconds and {MAX_INVITE_DAYS} days")
