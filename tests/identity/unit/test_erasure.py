"""Erasure in identity (app/erasure.py, domain/erasure.py) on fakes: a confirmed guardian deletes a
child below the consent age (nobody else, and not an older child), AccountDeleted names the
guardian, identity reports its own part, and the gathered reports are the requester's to read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from identity.api.erasure import ErasureReportCollector
from identity.app.erasure import Erasures
from identity.domain.erasure import ServiceReport
from identity.domain.events import AccountDeleted, ErasureReported, GuardianUnlinked
from parta.common.v1 import envelope_pb2
from parta_common.erasure import report_payload
from parta_common.errors import InvalidArgument, NotFound, PermissionDenied

from tests.identity.fakes import World
from tests.identity.unit.test_guardians import family

pytestmark = pytest.mark.unit


class Reports:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], ServiceReport] = {}

    async def record(self, report: ServiceReport) -> None:
        self.rows[(report.user_id, report.service)] = report

    async def of(self, user_id: str) -> list[ServiceReport]:
        return [r for (u, _), r in self.rows.items() if u == user_id]


async def _linked(w: World, child_birth: str = "2015-05-01"):  # type: ignore[no-untyped-def]
    mother, child = await family(w, child_birth)
    code, _ = await w.guardians.create_link_code(child.user_id)
    await w.guardians.link(mother.user_id, None, code)
    return mother, child


def _erasures(w: World) -> tuple[Erasures, Reports]:
    reports = Reports()
    return Erasures(w.users, w.accounts, reports, w.clock, w.policy), reports


async def test_a_guardian_deletes_a_young_childs_account_and_reads_the_report() -> None:
    w = World()
    mother, child = await _linked(w)
    erasures, reports = _erasures(w)
    with pytest.raises(InvalidArgument):
        await erasures.delete_child(mother.user_id, child.user_id, confirm=False)

    await erasures.delete_child(mother.user_id, child.user_id, confirm=True)

    gone = await w.users.get(child.user_id)
    assert gone and gone.deleted and gone.profile is None and gone.phone is None and gone.deleted_by == mother.user_id
    assert not w.sessions.rows[child.session_id].active
    deleted = [e for e in w.users.published if isinstance(e, AccountDeleted)]
    assert [(e.user_id, e.deleted_by_user_id) for e in deleted] == [(child.user_id, mother.user_id)]
    # The link ended with the account, by the guardian who deleted it (the audit trail's actor).
    assert GuardianUnlinked(mother.user_id, child.user_id, mother.user_id) in w.users.published
    own = [e for e in w.users.published if isinstance(e, ErasureReported)]
    assert [(e.service, e.counts, e.requested_by_user_id) for e in own] == [
        ("identity", {"profile": 1, "phone": 1, "guardian_links": 1, "sessions_revoked": 1}, mother.user_id)
    ]

    # The reports arrive on erasure.report.v1 (identity's own among them), twice is once.
    collect = ErasureReportCollector(erasures).router()
    at = datetime(2026, 9, 1, 9, 5, tzinfo=UTC)
    for service, counts in (
        ("identity", own[0].counts),
        ("chat", {"messages_replaced": 3}),
        ("chat", {"messages_replaced": 3}),
    ):
        payload = report_payload(child.user_id, service, counts, mother.user_id, at)
        envelope = envelope_pb2.EventEnvelope(event_id=f"{service}-1", event_type=payload.DESCRIPTOR.full_name)
        envelope.payload.Pack(payload)
        await collect(envelope)
    report = await erasures.report(mother.user_id, child.user_id)
    assert [(s.service, s.counts) for s in report.services] == [
        ("identity", own[0].counts),
        ("chat", {"messages_replaced": 3}),
    ]
    assert not report.complete  # school and media-signal have not reported
    for service in ("school", "media-signal"):
        await reports.record(ServiceReport(child.user_id, service, {}, mother.user_id, at))
    assert (await erasures.report(mother.user_id, child.user_id)).complete
    stranger = await w.signed_in("+79991119999")
    with pytest.raises(NotFound):
        await erasures.report(stranger.user_id, child.user_id)


async def test_only_a_confirmed_guardian_of_a_child_below_the_consent_age_may_delete() -> None:
    w = World()
    mother, child = await family(w)
    erasures, _ = _erasures(w)
    # A pending request (by phone) is no link: the answer is the same as for a stranger.
    assert await w.guardians.link(mother.user_id, "+79991110002", None) is None
    with pytest.raises(NotFound) as caught:
        await erasures.delete_child(mother.user_id, child.user_id, confirm=True)
    assert caught.value.reason == "GUARDIAN_LINK_NOT_FOUND"
    with pytest.raises(NotFound):
        await erasures.delete_child(child.user_id, mother.user_id, confirm=True)  # a child cannot delete a parent

    w2 = World()
    mother2, teen = await _linked(w2, child_birth="2012-05-01")  # 14 on 2026-09-01
    erasures2, _ = _erasures(w2)
    with pytest.raises(PermissionDenied) as refused:
        await erasures2.delete_child(mother2.user_id, teen.user_id, confirm=True)
    assert refused.value.reason == "CHILD_AT_CONSENT_AGE"
    still = await w2.users.get(teen.user_id)
    assert still is not None and not still.deleted
    with pytest.raises(NotFound):  # the person's own deletion is no report for them or anyone
        await erasures.report(child.user_id, child.user_id)
