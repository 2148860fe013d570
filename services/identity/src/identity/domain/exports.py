"""Family-scoped export (issue 17): who may export whose data, whether the person is told, and the
profile part of the archive. Pure Python; docs/identity.md, "Family export".

Identity decides because it owns the guardian links. A person exports their own data; a guardian
with a confirmed link exports their child's while the child is not an adult (at 18 the data is the
person's alone). Everything else is one refusal, whatever the reason — an unknown or deleted id, a
stranger, a pending request, a parent of another child, an adult child — so the answer tells a
caller nothing about who exists or who is linked to whom (as LinkGuardian's neutral reply).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from parta_common.errors import PermissionDenied

from identity.domain.events import AgeBand
from identity.domain.users import User

# How many exports one person may start in a day (an export reads every service's data).
EXPORTS_PER_DAY = 10


@dataclass(frozen=True)
class ExportRequest:
    export_id: str
    requested_by: str
    subject_user_id: str
    requested_at: datetime
    notify_subject: bool


def not_allowed() -> PermissionDenied:
    return PermissionDenied("you may not export this person's data", reason="EXPORT_NOT_ALLOWED")


def authorize_export(requester_id: str, subject: User | None, today: date, consent_age: int) -> bool:
    """Whether `requester_id` may export `subject`'s data; raises the one refusal otherwise.
    Returns whether the subject is to be told: a guardian's export of a child at or over the
    consent age (a younger child's data is the guardian's to handle without a notice)."""
    if subject is None or subject.deleted:
        raise not_allowed()
    if subject.id == requester_id:
        return False
    if not subject.is_child_of(requester_id):  # a confirmed link only: a request grants nothing
        raise not_allowed()
    band = subject.age_band_on(today, consent_age) if subject.profile is not None else AgeBand.UNSPECIFIED
    if band is AgeBand.ADULT:
        raise not_allowed()
    return band is AgeBand.MINOR


def profile_part(subject: User, children: list[User], guardians: list[User]) -> dict[str, Any]:
    """What identity holds about the subject, for the archive's profile.json: the account, the
    profile with the birth date, and the confirmed guardians and children (ids and names)."""
    profile = subject.profile

    def person(user: User) -> dict[str, str]:
        names = user.profile
        return {
            "user_id": user.id,
            "first_name": names.first_name if names else "",
            "last_name": names.last_name if names else "",
        }

    return {
        "user_id": subject.id,
        "phone": subject.phone or "",
        "registered_at": subject.registered_at,
        "profile": None
        if profile is None
        else {
            "first_name": profile.first_name,
            "last_name": profile.last_name,
            "patronymic": profile.patronymic,
            "birth_date": profile.birth_date,
        },
        "consent_state": str(subject.consent_state),
        "guardians": [person(g) for g in guardians],
        "children": [person(c) for c in children],
    }
