"""Which direct contacts the trail records (docs/audit.md): staff with a student, and an adult with a
child. Pure rules over what the audit service knows of the two people in one school."""

from __future__ import annotations

from dataclasses import dataclass

STAFF_ROLES = frozenset({"admin", "teacher"})

STAFF_STUDENT = "staff-student"
ADULT_CHILD = "adult-child"
# One side is not known yet (its events have not arrived, or it has no profile): recorded, because
# missing a contact a school must answer for is worse than recording one it need not.
UNCLASSIFIED = "unclassified"


@dataclass(frozen=True)
class Person:
    """One person in one school: their active school roles, and whether they are a minor (None when
    identity has not told us)."""

    roles: frozenset[str]
    minor: bool | None


def contact_pair(a: Person | None, b: Person | None) -> str | None:
    """The pair's label when a contact between `a` and `b` is recorded, None when it is not (two
    adults who are not staff and student, or two minors)."""
    if a is None or b is None or not a.roles or not b.roles or a.minor is None or b.minor is None:
        return UNCLASSIFIED
    if (a.roles & STAFF_ROLES and "student" in b.roles) or (b.roles & STAFF_ROLES and "student" in a.roles):
        return STAFF_STUDENT
    if a.minor != b.minor:
        return ADULT_CHILD
    return None
