"""school's erasure of a deleted account (app/erasure.py) on fakes: the account is marked deleted,
every seat ends, a last admin's seat falls vacant, the counts are reported once; a replay changes
nothing and reports nothing."""

from __future__ import annotations

import pytest
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity_pb2
from parta_common.testing.fakes import MemoryErasureLedger
from school.api.consumers import IdentityEventHandler
from school.api.erasure import ErasureHandler
from school.app.common import Caller
from school.app.erasure import Erasure
from school.domain import events as de
from school.domain.memberships import SchoolRole
from school.domain.profiles import ProfileState

from tests.school.fakes import World
from tests.school.unit.steps import ADMIN, invite_cmd, onboarded

pytestmark = pytest.mark.unit


def _deleted(user_id: str, by: str, version: int) -> envelope_pb2.EventEnvelope:
    event = identity_pb2.AccountDeleted(user_id=user_id, deleted_by_user_id=by)
    envelope = envelope_pb2.EventEnvelope(event_id=f"e-{user_id}-{version}", aggregate_version=version)
    envelope.payload.Pack(event)
    envelope.event_type = event.DESCRIPTOR.full_name
    return envelope


async def test_an_erased_student_loses_every_seat_and_the_report_counts_them_once() -> None:
    w = World()
    school, klass = await onboarded(w)
    kid = Caller("misha", "+79990000007")
    created = await w.invites.create_invite(ADMIN, invite_cmd(school.id, SchoolRole.STUDENT, klass.id, request_id="s"))
    await w.invites.accept_invite(kid, created.token)
    seats = await w.memberships_repo.of_user("misha")
    assert seats
    ledger = MemoryErasureLedger()
    erasure = Erasure(ledger, w.app.memberships, w.memberships_repo, w.profiles, w.clock)
    handler = IdentityEventHandler(w.app.memberships, w.deps.guardians, w.profiles, ErasureHandler(erasure)).router()

    await handler(_deleted("misha", "anna", 9))
    await handler(_deleted("misha", "anna", 9))  # redelivered

    assert await w.memberships_repo.of_user("misha") == []
    assert await w.profiles.state("misha") is ProfileState.DELETED
    left = [e for e in w.events() if isinstance(e, de.MemberLeft) and e.membership.user_id == "misha"]
    assert len(left) == len(seats) and {e.reason for e in left} == {"account_deleted"}
    assert ledger.reports == [("misha", {"memberships": len(seats), "admin_seats_vacated": 0}, "anna")]


async def test_an_erased_last_admin_is_reported_with_the_vacated_seat() -> None:
    w = World()
    school, _klass = await onboarded(w)
    ledger = MemoryErasureLedger()
    erasure = Erasure(ledger, w.app.memberships, w.memberships_repo, w.profiles, w.clock)
    counts, vacated = await erasure.erase(ADMIN.user_id, ADMIN.user_id, 3)
    assert vacated == [school.id]
    assert counts is not None and counts["admin_seats_vacated"] == 1 and counts["memberships"] >= 1
    assert await erasure.erase(ADMIN.user_id, ADMIN.user_id, 3) == (None, [])
