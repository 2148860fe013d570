"""Which direct contacts are recorded: staff with a student, an adult with a child, and any contact
whose people the audit service does not know yet."""

from __future__ import annotations

import pytest
from audit.domain.pairs import ADULT_CHILD, STAFF_STUDENT, UNCLASSIFIED, Person, contact_pair

TEACHER = Person(frozenset({"teacher"}), minor=False)
ADMIN = Person(frozenset({"admin"}), minor=False)
STUDENT = Person(frozenset({"student"}), minor=True)
ADULT_STUDENT = Person(frozenset({"student"}), minor=False)
PARENT = Person(frozenset({"parent"}), minor=False)
OTHER_STUDENT = Person(frozenset({"student"}), minor=True)


@pytest.mark.parametrize(
    ("a", "b", "label"),
    [
        (TEACHER, STUDENT, STAFF_STUDENT),
        (STUDENT, ADMIN, STAFF_STUDENT),
        (TEACHER, ADULT_STUDENT, STAFF_STUDENT),  # an 18-year-old student is still a student
        (PARENT, STUDENT, ADULT_CHILD),  # another child's parent writing to a child
        (ADULT_STUDENT, OTHER_STUDENT, ADULT_CHILD),
        (PARENT, PARENT, None),
        (TEACHER, PARENT, None),
        (STUDENT, OTHER_STUDENT, None),
        (None, STUDENT, UNCLASSIFIED),
        (PARENT, Person(frozenset(), minor=False), UNCLASSIFIED),  # not (yet) a member we know
        (PARENT, Person(frozenset({"parent"}), minor=None), UNCLASSIFIED),  # no profile seen yet
    ],
)
def test_contact_pairs(a: Person | None, b: Person | None, label: str | None) -> None:
    assert contact_pair(a, b) == label
    assert contact_pair(b, a) == label
