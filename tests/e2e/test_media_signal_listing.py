"""ListRooms end to end: media-signal as a real process over the real store, memberships projected
from school's events over Kafka. Each person lists exactly the rooms they could join, page by page;
bad requests get INVALID_ARGUMENT with the field, outsiders NOT_FOUND."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.common.v1 import types_pb2
from parta.media_signal.v1 import events_pb2 as ev
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta_common.pagination import encode_page_token

from tests.e2e.media_signal_support import MediaStack, error_reason


@pytest.fixture
async def stack(mongo_uri: str, kafka_bootstrap: str):
    async with MediaStack(mongo_uri, kafka_bootstrap) as s:
        yield s


def _in(hours: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime.now(UTC) + timedelta(hours=hours))
    return stamp


async def _list(user, school_id: str, **fields) -> pb.ListRoomsResponse:  # type: ignore[no-untyped-def]
    return await user.rooms.ListRooms(
        pb.ListRoomsRequest(school_id=school_id, **fields), metadata=user.metadata, timeout=5
    )


async def test_each_member_lists_the_rooms_they_could_join(stack: MediaStack) -> None:
    teacher, kid, other_parent = (f"{n}-{uuid.uuid4().hex[:6]}" for n in ("teacher", "kid", "parent"))
    school = await stack.school(
        [(teacher, "teacher", "class_head"), (kid, "student", "student"), (other_parent, "parent", "parent")]
    )
    t = stack.user(teacher)
    later = await t.create_room(school, ev.ROOM_KIND_LESSON, title="Физика", scheduled_for=_in(48))
    sooner = await t.create_room(school, ev.ROOM_KIND_LESSON, title="Алгебра", scheduled_for=_in(2))
    call = await t.create_room(school, ev.ROOM_KIND_CALL, title="Разговор", invited_user_ids=[kid], start_now=True)

    # Live and unscheduled first, then by time; the parent of another child sees no lesson or call.
    listed = await _list(stack.user(kid), school.school_id)
    assert [r.room_id for r in listed.rooms] == [call.room_id, sooner.room_id, later.room_id]
    assert not listed.page.next_page_token
    assert [r.room_id for r in (await _list(stack.user(other_parent), school.school_id)).rooms] == []
    lessons = await _list(t, school.school_id, kinds=[ev.ROOM_KIND_LESSON], states=[pb.ROOM_STATE_SCHEDULED])
    assert [r.room_id for r in lessons.rooms] == [sooner.room_id, later.room_id]

    # Paging: one room a page, each token continuing where the last page stopped.
    seen, token = [], ""
    while True:
        page = await _list(t, school.school_id, page=types_pb2.PageRequest(page_size=1, page_token=token))
        seen += [r.room_id for r in page.rooms]
        token = page.page.next_page_token
        if not token:
            break
    assert seen == [call.room_id, sooner.room_id, later.room_id]

    # An ended room leaves the default listing.
    await t.rooms.EndRoom(pb.EndRoomRequest(room_id=call.room_id), metadata=t.metadata, timeout=10)
    assert call.room_id not in [r.room_id for r in (await _list(stack.user(kid), school.school_id)).rooms]
    ended = await _list(stack.user(kid), school.school_id, states=[pb.ROOM_STATE_ENDED])
    assert [r.room_id for r in ended.rooms] == [call.room_id]

    # Bad input names its field; an outsider cannot tell the school exists.
    for request, field in (
        (pb.ListRoomsRequest(school_id=school.school_id, states=[99]), "states[0]"),
        (pb.ListRoomsRequest(school_id=school.school_id, kinds=[ev.ROOM_KIND_UNSPECIFIED]), "kinds[0]"),
        (
            pb.ListRoomsRequest(school_id=school.school_id, page=types_pb2.PageRequest(page_token="%%")),
            "page.page_token",
        ),
        (pb.ListRoomsRequest(school_id=""), "school_id"),
        # Issue 11 finding 10: an offset of 1e20 (or past int64) in a token is refused, not sent to skip().
        *(
            (
                pb.ListRoomsRequest(
                    school_id=school.school_id, page=types_pb2.PageRequest(page_token=encode_page_token({"o": o}))
                ),
                "page.page_token",
            )
            for o in (10**20, 2**63, -1)
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await t.rooms.ListRooms(request, metadata=t.metadata, timeout=5)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        status = rpc_status.from_call(info.value)
        bad = error_details_pb2.BadRequest()
        assert any(d.Unpack(bad) for d in status.details)
        assert [v.field for v in bad.field_violations] == [field]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _list(stack.user(f"outsider-{uuid.uuid4().hex[:6]}"), school.school_id)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND and error_reason(info.value) == "ROOM_NOT_FOUND"
