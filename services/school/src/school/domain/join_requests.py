"""Join requests: asked for by an invite that needs approval, decided once (pure Python)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum

from parta_common.errors import FailedPrecondition, PermissionDenied

from school.domain.memberships import ClassRole, SchoolRole

# Mirrors parta.school.v1 enums by value, so mapping at the edge is a plain int conversion.


class JoinState(IntEnum):
    UNSPECIFIED = 0
    PENDING = 1
    APPROVED = 2
    REJECTED = 3


@dataclass(frozen=True)
class JoinRequest:
    id: str
    school_id: str
    class_id: str
    user_id: str
    role: SchoolRole
    child_user_id: str
    invite_id: str
    state: JoinState
    created_at: datetime
    decided_by: str = ""
    decided_at: datetime | None = None
    version: int = 0

    def decide(self, approve: bool, by: str, now: datetime) -> JoinRequest:
        """PENDING → APPROVED | REJECTED, once. Repeating the same decision is a no-op (retries)."""
        target = JoinState.APPROVED if approve else JoinState.REJECTED
        if self.state == target:
            return self
        if self.state != JoinState.PENDING:
            raise FailedPrecondition("this join request was already decided", reason="JOIN_REQUEST_DECIDED")
        if by == self.user_id:
            raise PermissionDenied("nobody decides on their own join request", reason="OWN_JOIN_REQUEST")
        return replace(self, state=target, decided_by=by, decided_at=now)

    @property
    def class_role(self) -> ClassRole:
        if self.role == SchoolRole.STUDENT:
            return ClassRole.STUDENT
        if self.role == SchoolRole.PARENT:
            return ClassRole.PARENT
        return ClassRole.SUBJECT_TEACHER if self.class_id else ClassRole.STAFF
