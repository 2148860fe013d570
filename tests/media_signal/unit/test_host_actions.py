"""Host-action rules (domain/host_actions.py): who may act, on whom, and what promote, demote and
mute change. The hub applies them; tests/media_signal/unit/test_rooms.py drives them through it."""

from __future__ import annotations

import pytest
from media_signal.domain import host_actions as ha
from media_signal.domain.rooms import HOST_GRANTS, SPEAKER_GRANTS, VIEWER_GRANTS, Grants
from parta_common.errors import DomainError, FailedPrecondition, InvalidArgument, PermissionDenied


def reason(error: pytest.ExceptionInfo[DomainError]) -> str:
    return error.value.reason


def test_only_the_host_acts() -> None:
    ha.check_host(is_host=True)
    with pytest.raises(PermissionDenied) as refused:
        ha.check_host(is_host=False)
    assert reason(refused) == "NOT_HOST"


@pytest.mark.parametrize("action", ["remove", "demote"])
def test_the_host_neither_removes_nor_demotes_themselves(action: str) -> None:
    with pytest.raises(InvalidArgument):
        ha.check_target(action, on_self=True, target_waiting=False)


@pytest.mark.parametrize("action", ["mute", "unmute", "promote"])
def test_the_host_may_mute_and_promote_themselves(action: str) -> None:
    ha.check_target(action, on_self=True, target_waiting=False)


def test_admit_is_only_for_the_waiting_room() -> None:
    ha.check_target("admit", on_self=False, target_waiting=True)
    with pytest.raises(FailedPrecondition) as refused:
        ha.check_target("admit", on_self=False, target_waiting=False)
    assert reason(refused) == "NOT_WAITING"


@pytest.mark.parametrize("action", ["mute", "unmute", "promote", "demote"])
def test_someone_waiting_is_admitted_or_removed_first(action: str) -> None:
    ha.check_target("remove", on_self=False, target_waiting=True)
    with pytest.raises(FailedPrecondition) as refused:
        ha.check_target(action, on_self=False, target_waiting=True)
    assert reason(refused) == "IN_WAITING_ROOM"


def test_promote_puts_a_viewer_on_stage_but_never_a_child_awaiting_consent() -> None:
    assert ha.promoted(VIEWER_GRANTS) == Grants(can_publish=True, can_subscribe=True, can_publish_data=True)
    with pytest.raises(PermissionDenied) as refused:
        ha.promoted(Grants(can_subscribe=True, stage_allowed=False))
    assert reason(refused) == "AWAITING_GUARDIAN"


def test_demote_takes_a_speaker_off_stage_but_the_host_stays() -> None:
    assert ha.demoted(SPEAKER_GRANTS) == Grants(can_subscribe=True)
    with pytest.raises(FailedPrecondition) as refused:
        ha.demoted(HOST_GRANTS)
    assert reason(refused) == "HOST_ON_STAGE"


def test_a_mute_names_one_track_or_both() -> None:
    assert ha.tracks_of("audio") == {"audio"}
    assert ha.tracks_of(None) == {"audio", "video"}


def test_what_the_host_muted_the_participant_cannot_unmute_alone() -> None:
    ha.check_self_unmute(muted=True, tracks={"audio"}, host_muted={"audio"})  # muting is always fine
    ha.check_self_unmute(muted=False, tracks={"video"}, host_muted={"audio"})
    with pytest.raises(PermissionDenied) as refused:
        ha.check_self_unmute(muted=False, tracks={"audio", "video"}, host_muted={"audio"})
    assert reason(refused) == "MUTED_BY_HOST"
