"""Join requests: decided once, never by the person asking."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from parta_common.errors import FailedPrecondition, PermissionDenied
from school.domain.join_requests import JoinRequest, JoinState
from school.domain.memberships import SchoolRole

NOW = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def request(state: JoinState = JoinState.PENDING) -> JoinRequest:
    return JoinRequest(
        id="r1",
        school_id="s1",
        class_id="c1",
        user_id="kid",
        role=SchoolRole.STUDENT,
        child_user_id="",
        invite_id="i1",
        state=state,
        created_at=NOW,
    )


def test_join_request_is_decided_once():
    approved = request().decide(True, "head", NOW)
    assert (approved.state, approved.decided_by) == (JoinState.APPROVED, "head")
    assert approved.decide(True, "head", NOW) is approved  # retry
    with pytest.raises(FailedPrecondition) as info:
        approved.decide(False, "head", NOW)
    assert info.value.reason == "JOIN_REQUEST_DECIDED"
    rejected = request().decide(False, "head", NOW)
    with pytest.raises(FailedPrecondition):
        rejected.decide(True, "head", NOW)


def test_nobody_decides_their_own_request():
    with pytest.raises(PermissionDenied):
        request().decide(True, "kid", NOW)
