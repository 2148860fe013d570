"""media-signal's school projection on the real store: every school event's snapshot is projected
with its policy (newest aggregate version wins), the replica's book follows at once, and the rows
PolicySync reads for other replicas carry the same policy and version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from media_signal.adapters.mongo import MongoDirectoryProjection, MongoSchoolPolicies
from media_signal.api.consumers import Projections
from parta.school.v1 import events_pb2 as school_pb
from parta_common.events.envelope import make_envelope
from parta_common.policy_sync import PolicySync
from parta_common.safety import DEFAULT_POLICY, PolicyBook, SchoolPolicy

SCHOOL = "school-p"


def _event(payload: Any, version: int) -> Any:
    return make_envelope(
        payload,
        aggregate_type="school",
        aggregate_id=SCHOOL,
        aggregate_version=version,
        producer="school",
        occurred_at=datetime.now(UTC),
    )


def _snapshot(**switches: bool) -> school_pb.SchoolSnapshot:
    return school_pb.SchoolSnapshot(school_id=SCHOOL, communication_policy=school_pb.CommunicationPolicy(**switches))


async def test_the_projection_feeds_this_replicas_book_and_the_others_through_the_store(mongo_db: Any) -> None:
    here, elsewhere = PolicyBook(), PolicyBook()
    project = Projections(MongoDirectoryProjection(mongo_db), here)
    sync = PolicySync(elsewhere, MongoSchoolPolicies(mongo_db).policies_since)
    strict = SchoolPolicy(students_reach_classmates=False)

    await project(_event(school_pb.SchoolCreated(school=_snapshot()), 1))
    await project(_event(school_pb.SchoolUpdated(school=_snapshot(students_reach_classmates=False)), 3))
    await project(_event(school_pb.SchoolUpdated(school=_snapshot()), 2))  # late and older: ignored
    assert here.get(SCHOOL) == strict
    await sync.run_once()  # the first pass reads everything
    assert (elsewhere.get(SCHOOL), elsewhere.version(SCHOOL)) == (strict, 3)

    # Any event with the snapshot carries the policy, e.g. a new academic year.
    started = school_pb.AcademicYearStarted(school=_snapshot(), academic_year="2027/2028")
    await project(_event(started, 4))
    assert here.get(SCHOOL) == DEFAULT_POLICY
    await sync.run_once()  # later passes read only the rows changed since the last one
    assert (elsewhere.get(SCHOOL), elsewhere.version(SCHOOL)) == (DEFAULT_POLICY, 4)
    rows = await MongoSchoolPolicies(mongo_db).policies_since(datetime.now(UTC) + timedelta(minutes=1))
    assert rows == []
