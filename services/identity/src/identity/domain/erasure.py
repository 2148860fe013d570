"""Erasure (issue 17): who may delete a child's account, and the per-service reports of what an
erasure removed. docs/identity.md, "Erasure"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from parta_common.errors import NotFound, PermissionDenied

from identity.domain.users import User

# The services that hold a person's data and report their part of an erasure.
REPORTING_SERVICES = ("identity", "school", "chat", "media-signal")


@dataclass(frozen=True)
class ServiceReport:
    user_id: str
    service: str
    counts: dict[str, int]
    requested_by: str
    erased_at: datetime


def check_guardian_may_delete(child: User | None, guardian_id: str, today: date, consent_age: int) -> User:
    """A confirmed guardian deletes the account of a child below the consent age (the age at which
    identity stops asking a guardian's consent: the child decides for themselves from then on, and so
    deletes their own account). Not a confirmed guardian → NOT_FOUND, as for every guardian action
    (ids of minors are not confirmed to strangers); the child's age is told only to a guardian."""
    if child is None or child.deleted or not child.is_child_of(guardian_id):
        raise NotFound("no such child", reason="GUARDIAN_LINK_NOT_FOUND")
    if child.profile is None or child.profile.age_on(today) >= consent_age:
        raise PermissionDenied(
            f"a child of {consent_age} or older deletes their own account", reason="CHILD_AT_CONSENT_AGE"
        )
    return child
