"""Locking a live room: only the host locks; no newcomer joins (at the grant or at the stream) while
those inside stay, may come back after a dropped connection, and the waiting room may still be
admitted; the lock is saved on the room."""

from __future__ import annotations

import pytest
from media_signal.app import signals as s
from media_signal.domain.rooms import RoomKind
from parta_common.errors import FailedPrecondition, PermissionDenied

from tests.media_signal.fakes import drain, new_room_cmd


async def test_a_locked_lesson_takes_no_one_new_until_unlocked(world) -> None:
    _, rooms, uc, hub, _ = world
    room = await uc.create_room(new_room_cmd(RoomKind.LESSON, waiting_room=True), "teacher")
    host = await hub.join("teacher", (await uc.create_join_token(room.room_id, "teacher")).token)
    misha = await hub.join("misha", (await uc.create_join_token(room.room_id, "misha")).token)  # waiting
    petya_token = (await uc.create_join_token(room.room_id, "petya")).token  # taken before the lock
    drain(host)
    await hub.handle(host, s.HostAction("lock"))
    assert any(isinstance(m, s.HostNotice) and m.action == "lock" for m in drain(host))
    assert rooms.rooms[room.room_id].locked  # saved: a replica taking the room over keeps it locked
    with pytest.raises(FailedPrecondition) as at_grant:
        await uc.create_join_token(room.room_id, "petya")
    assert at_grant.value.reason == "ROOM_LOCKED"
    with pytest.raises(FailedPrecondition) as at_stream:
        await hub.join("petya", petya_token)
    assert at_stream.value.reason == "ROOM_LOCKED"
    # The waiting room is still the host's to admit; the host may rejoin from another device.
    await hub.handle(host, s.HostAction("admit", misha.participant_id))
    assert any(isinstance(m, s.Joined) for m in drain(misha))
    with pytest.raises(PermissionDenied) as not_host:
        await hub.handle(misha, s.HostAction("unlock"))
    assert not_host.value.reason == "NOT_HOST"
    await hub.join("teacher", (await uc.create_join_token(room.room_id, "teacher")).token)
    # Someone who was in the lesson comes back after a dropped connection, locked or not.
    await hub.leave(misha, "timeout")
    misha = await hub.join("misha", (await uc.create_join_token(room.room_id, "misha")).token)
    assert not misha.gone
    await hub.handle(host, s.HostAction("admit", misha.participant_id))  # a waiting room lesson: wait again
    await hub.handle(host, s.HostAction("lock"))  # locking twice changes nothing
    await hub.handle(host, s.HostAction("unlock"))
    assert any(isinstance(m, s.HostNotice) and m.action == "unlock" for m in drain(misha))
    assert not rooms.rooms[room.room_id].locked
    petya = await hub.join("petya", (await uc.create_join_token(room.room_id, "petya")).token)
    assert not petya.gone
