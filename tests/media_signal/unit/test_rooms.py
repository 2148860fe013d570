"""Room rules and the room use cases: grants per kind, attendance, creating rooms, join tokens (fakes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from media_signal.adapters.tokens import HmacJoinTokenCodec
from media_signal.app.ports import JoinClaims
from media_signal.domain import events
from media_signal.domain.rooms import (
    HOST_GRANTS,
    SPEAKER_GRANTS,
    VIEWER_GRANTS,
    Access,
    AttendanceEntry,
    Room,
    RoomKind,
    RoomState,
    grants_for,
)
from parta_common.errors import (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)

from tests.media_signal.fakes import CLASS, MEMBERS, SCHOOL, new_room_cmd


def test_grants_follow_memberships_per_kind() -> None:
    lesson = Room("r", SCHOOL, RoomKind.LESSON, "t", "teacher", datetime.now(UTC), class_id=CLASS)

    def access(uid: str) -> Access:
        return Access(
            uid, SCHOOL, tuple(m for m in MEMBERS if m.user_id == uid and m.school_id == SCHOOL), has_profile=True
        )

    assert grants_for(lesson, access("teacher")) == HOST_GRANTS
    assert grants_for(lesson, access("misha")) == SPEAKER_GRANTS
    assert grants_for(lesson, access("irina")) == VIEWER_GRANTS
    with pytest.raises(PermissionDenied):
        grants_for(lesson, access("anna"))  # parents do not attend lessons
    with pytest.raises(NotFound):
        grants_for(lesson, access("stranger"))  # another school: the room does not exist
    broadcast = Room("b", SCHOOL, RoomKind.BROADCAST, "t", "teacher", datetime.now(UTC), class_id=CLASS)
    assert grants_for(broadcast, access("anna")) == VIEWER_GRANTS
    call = Room("c", SCHOOL, RoomKind.CALL, "t", "teacher", datetime.now(UTC), invited_user_ids=("misha",))
    assert grants_for(call, access("misha")) == SPEAKER_GRANTS
    with pytest.raises(PermissionDenied):
        grants_for(call, access("petya"))


def test_attendance_sums_time_across_rejoins_and_parallel_streams() -> None:
    t0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    e = AttendanceEntry(first_joined_at=t0).joined(t0)
    e = e.joined(t0 + timedelta(seconds=10))  # a second device
    e = e.left(t0 + timedelta(seconds=20))
    e = e.left(t0 + timedelta(seconds=60))
    e = e.joined(t0 + timedelta(seconds=100)).left(t0 + timedelta(seconds=130))
    assert e.total_seconds == 90 and e.open_streams == 0 and e.last_left_at == t0 + timedelta(seconds=130)


async def test_create_room_validates_and_is_idempotent(world) -> None:
    _, rooms, uc, _, _ = world
    with pytest.raises(InvalidArgument) as info:
        await uc.create_room(
            new_room_cmd(RoomKind.LESSON, title="\x07", class_id="", max_participants=10_000), "teacher"
        )
    assert {v.field for v in info.value.violations} >= {"title", "class_id", "max_participants"}
    with pytest.raises(InvalidArgument):
        await uc.create_room(
            new_room_cmd(RoomKind.LESSON, scheduled_for=datetime(2030, 1, 1, tzinfo=UTC), start_now=False), "teacher"
        )
    first = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    again = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    assert first is again and first.state is RoomState.LIVE
    assert [type(e) for e in rooms.events] == [events.RoomScheduled, events.RoomStarted]
    with pytest.raises(PermissionDenied):
        await uc.create_room(new_room_cmd(RoomKind.LESSON, request_id="x"), "misha")  # students hold no lessons
    with pytest.raises(InvalidArgument):
        await uc.create_room(new_room_cmd(RoomKind.CALL, invited_user_ids=("stranger",)), "teacher")


async def test_join_tokens_expire_and_reject_forgeries(world) -> None:
    clock, _, uc, hub, _ = world
    room = await uc.create_room(new_room_cmd(RoomKind.LESSON), "teacher")
    grant = await uc.create_join_token(room.room_id, "misha")
    assert grant.grants == SPEAKER_GRANTS
    with pytest.raises(PermissionDenied):
        await hub.join("petya", grant.token)  # someone else's grant
    other = HmacJoinTokenCodec(b"x" * 32).issue(
        JoinClaims("misha", room.room_id, SCHOOL, HOST_GRANTS, clock.now() + timedelta(minutes=1)), clock.now()
    )
    with pytest.raises(Unauthenticated) as info:
        await hub.join("misha", other)
    assert info.value.reason == "JOIN_TOKEN_INVALID"
    clock.advance(121)
    with pytest.raises(Unauthenticated) as info:
        await hub.join("misha", grant.token)
    assert info.value.reason == "JOIN_TOKEN_EXPIRED"
