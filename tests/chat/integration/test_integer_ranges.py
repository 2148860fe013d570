"""Issue 11 finding 10: out-of-range integers at chat's edge are INVALID_ARGUMENT with a field
violation, never INTERNAL from the driver (cursors near 2^63, page tokens of 1e20)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from parta.chat.v1 import chat_pb2
from parta_common.integers import MAX_CURSOR
from parta_common.mongo import create_mongo_client
from parta_common.pagination import encode_page_token

from tests.chat.support import CSTUDENT, STUDENT, World, chat_ids, eventually, uid

pytestmark = pytest.mark.integration

NEAR_INT64 = [2**63 - 1, 2**63 - 2, MAX_CURSOR + 1]


@pytest.fixture(scope="module")
async def world(mongo_uri: str, kafka_bootstrap: str) -> AsyncIterator[World]:
    # One replica is enough: these are edge checks, not fan-out.
    w = World(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:10])
    await w.start_replica("a")
    try:
        yield w
    finally:
        await w.stop()
        client = create_mongo_client(mongo_uri, app_name="tests")
        await client.drop_database(w.database)
        await client.close()


def violated_fields(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "no rich status"
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            return [v.field for v in bad.field_violations]
    return []


async def refused(call) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (info.value.code(), info.value.details())
    return violated_fields(info.value)


async def class_chat(world: World):  # type: ignore[no-untyped-def]
    stubs = world.replicas[0].stubs
    school = world.school()
    await school.create()
    class_id = uid("c")
    await school.add_class(class_id)
    student = world.person()
    await school.member(student.user_id, STUDENT, class_id, CSTUDENT)
    chat_id = f"cls-{class_id}"

    async def ready() -> bool:
        return chat_id in await chat_ids(stubs, student)

    await eventually(ready)
    return stubs, student, chat_id


async def test_list_messages_cursors_near_int64_are_invalid_argument(world: World) -> None:
    stubs, student, chat_id = await class_chat(world)
    for value in NEAR_INT64:
        for name in ("after_seq", "before_seq"):
            request = chat_pb2.ListMessagesRequest(chat_id=chat_id, limit=10, **{name: value})
            assert await refused(stubs.chat.ListMessages(request, metadata=student.md, timeout=10)) == [name]
    # The largest cursor still answers (nothing after it), so the bound is not an off-by-one.
    page = await stubs.chat.ListMessages(
        chat_pb2.ListMessagesRequest(chat_id=chat_id, after_seq=MAX_CURSOR, limit=10), metadata=student.md, timeout=10
    )
    assert list(page.messages) == []
    page = await stubs.chat.ListMessages(
        chat_pb2.ListMessagesRequest(chat_id=chat_id, before_seq=MAX_CURSOR, limit=10), metadata=student.md, timeout=10
    )
    assert page is not None


async def test_seq_fields_of_other_calls_are_range_checked(world: World) -> None:
    stubs, student, chat_id = await class_chat(world)
    huge = 2**63 - 1
    assert await refused(
        stubs.chat.MarkRead(chat_pb2.MarkReadRequest(chat_id=chat_id, seq=huge), metadata=student.md, timeout=10)
    ) == ["seq"]
    assert await refused(
        stubs.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="r", text="hi", reply_to_seq=huge),
            metadata=student.md,
            timeout=10,
        )
    ) == ["reply_to_seq"]


async def test_subscribe_cursor_near_int64_is_invalid_argument(world: World) -> None:
    stubs, student, chat_id = await class_chat(world)
    request = chat_pb2.SubscribeRequest(cursors=[chat_pb2.ChatCursor(chat_id=chat_id, update_seq=2**63 - 1)])
    call = stubs.chat.Subscribe(request, metadata=student.md, timeout=10)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _event in call:
            pass
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(info.value) == ["cursors[0].update_seq"]


@pytest.mark.parametrize("state", [{"o": 10**20}, {"o": 2**63}, {"o": -1}, {"o": True}, {"o": 1.5}])
async def test_list_files_page_token_out_of_range_is_invalid_argument(world: World, state: dict[str, object]) -> None:
    stubs = world.replicas[0].stubs
    owner = world.person()
    request = chat_pb2.ListFilesRequest(page_token=encode_page_token(state))
    assert await refused(stubs.files.ListFiles(request, metadata=owner.md, timeout=10)) == ["page_token"]


async def test_file_management_integers_are_range_checked(world: World) -> None:
    stubs, student, chat_id = await class_chat(world)
    for value in NEAR_INT64:
        remove = chat_pb2.RemoveAttachmentRequest(chat_id=chat_id, seq=value, file_id="f1")
        assert await refused(stubs.files.RemoveAttachment(remove, metadata=student.md, timeout=10)) == ["seq"]
        quota = chat_pb2.SetFileQuotaRequest(school_id="s1", quota_bytes=value)
        assert await refused(stubs.files.SetFileQuota(quota, metadata=student.md, timeout=10)) == ["quota_bytes"]
    negative = chat_pb2.SetFileQuotaRequest(school_id="s1", quota_bytes=-1)
    assert await refused(stubs.files.SetFileQuota(negative, metadata=student.md, timeout=10)) == ["quota_bytes"]
    listing = chat_pb2.ListChatFilesRequest(chat_id=chat_id, page_token=encode_page_token({"o": 10**20}))
    assert await refused(stubs.files.ListChatFiles(listing, metadata=student.md, timeout=10)) == ["page_token"]
    odd_kind = chat_pb2.ListChatFilesRequest(chat_id=chat_id, kind=77)  # type: ignore[arg-type]
    assert await refused(stubs.files.ListChatFiles(odd_kind, metadata=student.md, timeout=10)) == ["kind"]
