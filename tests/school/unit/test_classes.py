"""Classes: grade and letter checks; on fakes: archiving a class ends its seats."""

from __future__ import annotations

import pytest
from parta_common.errors import Violations
from school.app.common import Caller
from school.domain.classes import check_class_name
from school.domain.memberships import SchoolRole

from tests.school.fakes import World
from tests.school.unit.steps import ADMIN, invite_cmd, onboarded


@pytest.mark.parametrize(("grade", "letter"), [(12, "А"), (-1, "А"), (5, ""), (5, "1"), (5, "АБВГД")])
def test_bad_class_names(grade, letter):  # type: ignore[no-untyped-def]
    v = Violations()
    check_class_name(v, grade, letter)
    assert v.items


async def test_archiving_a_class_ends_its_seats():
    w = World()
    school, klass = await onboarded(w)
    student = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.STUDENT, klass.id))
    await w.invites.accept_invite(Caller("misha"), student.token)
    await w.classes.archive_class(ADMIN, klass.id)
    assert await w.memberships_repo.of_class(klass.id) == []
    # The school-level seat stays: the student is still in the school.
    assert [m.class_id for m in await w.memberships_repo.of_user("misha")] == [""]
    # Its grade+letter is free again.
    await w.classes.create_class(ADMIN, "c2", school.id, 5, "А", "")
