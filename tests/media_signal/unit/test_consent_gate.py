"""A child awaiting a guardian's consent (identity: "may read, may not write or call"): kept out of
calls, watch-only in lessons and broadcasts, never put on stage; everyone else is unaffected."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from media_signal.adapters.tokens import HmacJoinTokenCodec
from media_signal.app import signals as s
from media_signal.app.hub import SignalHub
from media_signal.app.ports import JoinClaims
from media_signal.app.rooms import RoomUseCases
from media_signal.domain.policy import check_call_group
from media_signal.domain.rooms import SPEAKER_GRANTS, Access, Grants, Room, RoomKind, grants_for
from parta_common.errors import NotFound, PermissionDenied
from parta_common.testing.fakes import FakeClock

from tests.media_signal.fakes import (
    MEMBERS,
    SCHOOL,
    FakeDirectory,
    FakeRooms,
    FakeSfu,
    NoIce,
    new_room_cmd,
)


class ConsentDirectory(FakeDirectory):
    def __init__(self, awaiting: set[str]):
        super().__init__(MEMBERS)
        self.awaiting = awaiting

    async def access(self, school_id: str, user_id: str) -> Access:
        access = await super().access(school_id, user_id)
        return replace(access, awaiting_guardian=user_id in self.awaiting)


@pytest.fixture
def world():
    clock = FakeClock(datetime(2026, 9, 1, 9, 0, tzinfo=UTC))
    rooms, codec, directory = FakeRooms(), HmacJoinTokenCodec(b"k" * 32), ConsentDirectory({"misha"})
    ids = (f"id-{n}" for n in itertools.count())
    hub = SignalHub(
        rooms=rooms, tokens=codec, sfu=FakeSfu(), clock=clock, new_id=lambda: next(ids),
        replica="r1", address="a:1", keepalive_timeout=5,
    )  # fmt: skip
    use_cases = RoomUseCases(
        rooms=rooms, directory=directory, tokens=codec, ice=NoIce(), clock=clock,
        room_ids=lambda scope, actor, req: f"room-{actor}-{req}", live=hub,
    )  # fmt: skip
    return use_cases, hub, directory


async def test_a_child_awaiting_consent_watches_lessons_but_cannot_speak(world) -> None:
    uc, hub, _ = world
    lesson = await uc.create_room(new_room_cmd(RoomKind.LESSON, start_now=True), "teacher")
    grant = await uc.create_join_token(lesson.room_id, "misha")
    assert grant.grants == Grants(can_subscribe=True, stage_allowed=False)
    # Petya, a classmate with consent, is unaffected.
    assert (await uc.create_join_token(lesson.room_id, "petya")).grants == SPEAKER_GRANTS
    # The grant survives the signed token, and the host cannot put Misha on stage.
    host = await hub.join("teacher", (await uc.create_join_token(lesson.room_id, "teacher")).token)
    misha = await hub.join("misha", grant.token)
    assert not misha.grants.can_publish and not misha.grants.stage_allowed
    with pytest.raises(PermissionDenied) as refused:
        await hub.handle(host, s.HostAction("promote", misha.participant_id))
    assert refused.value.reason == "AWAITING_GUARDIAN" and not misha.grants.can_publish


async def test_calls_with_a_child_awaiting_consent_are_refused_both_ways(world) -> None:
    uc, _, directory = world
    with pytest.raises(PermissionDenied) as invited:
        await uc.create_room(new_room_cmd(RoomKind.CALL, invited_user_ids=("misha",), start_now=True), "anna")
    assert invited.value.reason == "AWAITING_GUARDIAN" and invited.value.metadata["user_id"] == "misha"
    with pytest.raises(PermissionDenied) as calling:
        await uc.create_room(new_room_cmd(RoomKind.CALL, invited_user_ids=("petya",), start_now=True), "misha")
    assert calling.value.reason == "AWAITING_GUARDIAN"
    # A call made before the consent was revoked: joining it is refused too.
    directory.awaiting.clear()
    call = await uc.create_room(new_room_cmd(RoomKind.CALL, invited_user_ids=("misha",), start_now=True), "anna")
    directory.awaiting.add("misha")
    with pytest.raises(PermissionDenied) as joining:
        await uc.create_join_token(call.room_id, "misha")
    assert joining.value.reason == "AWAITING_GUARDIAN"
    # Once the guardian confirms, the same child joins as a speaker.
    directory.awaiting.clear()
    assert (await uc.create_join_token(call.room_id, "misha")).grants == SPEAKER_GRANTS


def test_the_rule_is_about_the_child_not_about_roles() -> None:
    misha = Access(
        "misha", SCHOOL, tuple(m for m in MEMBERS if m.user_id == "misha"), awaiting_guardian=True, has_profile=True
    )
    anna = Access("anna", SCHOOL, tuple(m for m in MEMBERS if m.user_id == "anna"), has_profile=True)
    with pytest.raises(PermissionDenied):
        check_call_group([anna, misha])
    check_call_group([anna, replace(misha, awaiting_guardian=False)])  # her own child: allowed
    outsider = Access("misha", "school-2", (), awaiting_guardian=True)
    room = Room(
        room_id="r", school_id=SCHOOL, kind=RoomKind.LESSON, title="t", host_user_id="teacher",
        created_at=datetime(2026, 9, 1, tzinfo=UTC), class_id="class-5a",
    )  # fmt: skip
    with pytest.raises(NotFound) as caught:
        grants_for(room, outsider)
    assert caught.value.reason == "ROOM_NOT_FOUND"  # outsiders learn nothing more


def test_join_tokens_carry_the_stage_rule_and_old_tokens_default_to_allowed() -> None:
    codec = HmacJoinTokenCodec(b"k" * 32)
    now = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    claims = JoinClaims(
        "misha", "r", SCHOOL, Grants(can_subscribe=True, stage_allowed=False), now + timedelta(minutes=2)
    )
    assert codec.verify(codec.issue(claims, now), now).grants == claims.grants
    speaker = JoinClaims("petya", "r", SCHOOL, SPEAKER_GRANTS, now + timedelta(minutes=2))
    assert codec.verify(codec.issue(speaker, now), now).grants.stage_allowed
