"""Files in GridFS: streamed upload with SHA-256, limits and quota, resumable download, access by chat."""

from __future__ import annotations

import asyncio
import hashlib
import os

import grpc
import pytest
from chat.domain.files import StoredFile
from parta.chat.v1 import chat_pb2

from tests.chat.support import CSTUDENT, STUDENT, TEACHER, World, chat_ids, eventually, uid


def upload_parts(request_id: str, data: bytes, *, chunk: int = 64 * 1024, size: int | None = None, order=None):  # type: ignore[no-untyped-def]
    parts = [
        chat_pb2.UploadFileRequest(
            metadata=chat_pb2.UploadMetadata(
                request_id=request_id,
                filename="homework.pdf",
                content_type="application/pdf",
                size_bytes=len(data) if size is None else size,
            )
        )
    ]
    chunks = [
        chat_pb2.UploadFileRequest(chunk=chat_pb2.UploadChunk(offset=o, data=data[o : o + chunk]))
        for o in range(0, len(data), chunk)
    ]
    if order is not None:
        chunks = [chunks[i] for i in order]
    return parts + chunks


async def download(stubs, person, file_id: str, offset: int = 0) -> tuple[chat_pb2.FileInfo, bytes]:  # type: ignore[no-untyped-def]
    info, out = None, bytearray()
    async for part in stubs.files.DownloadFile(
        chat_pb2.DownloadFileRequest(file_id=file_id, offset=offset), metadata=person.md
    ):
        if part.WhichOneof("part") == "info":
            info = part.info
        else:
            assert part.chunk.offset == offset + len(out)
            out += part.chunk.data
    assert info is not None
    return info, bytes(out)


async def test_upload_download_share_and_limits(world: World) -> None:
    a, b = (r.stubs for r in world.replicas)
    school = world.school()
    await school.create()
    class_id = uid("c")
    await school.add_class(class_id)
    owner, classmate, outsider = world.person(), world.person(), world.person()
    await school.member(owner.user_id, STUDENT, class_id, CSTUDENT)
    await school.member(classmate.user_id, STUDENT, class_id, CSTUDENT)
    await school.member(outsider.user_id, TEACHER)
    chat_id = f"cls-{class_id}"

    async def ready() -> bool:
        return chat_id in await chat_ids(a, classmate)

    await eventually(ready)
    data = os.urandom(300_000)
    reply = await a.files.UploadFile(iter(upload_parts("f1", data)), metadata=owner.md)
    assert reply.file.sha256_hex == hashlib.sha256(data).hexdigest() and reply.file.size_bytes == len(data)
    assert reply.quota_used_bytes == len(data)
    retry = await b.files.UploadFile(iter(upload_parts("f1", data)), metadata=owner.md)
    assert retry.file.file_id == reply.file.file_id
    info, got = await download(b, owner, reply.file.file_id)
    assert got == data and info.sha256_hex == reply.file.sha256_hex
    _info, tail = await download(a, owner, reply.file.file_id, offset=123_456)
    assert tail == data[123_456:]
    # Not shared yet: others cannot read it (same answer as a missing file).
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await download(a, classmate, reply.file.file_id)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # Someone else's file cannot be attached.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="x", file_ids=[reply.file.file_id]),
            metadata=classmate.md,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    sent = await a.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=chat_id, client_message_id="f", file_ids=[reply.file.file_id]),
        metadata=owner.md,
    )
    assert list(sent.message.file_ids) == [reply.file.file_id]
    _info, shared = await download(a, classmate, reply.file.file_id)
    assert shared == data
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await download(a, outsider, reply.file.file_id)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    listing = await a.files.ListFiles(chat_pb2.ListFilesRequest(), metadata=owner.md)
    assert [f.file_id for f in listing.files] == [reply.file.file_id]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await download(a, owner, reply.file.file_id, offset=len(data) + 1)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_malformed_uploads_leave_nothing_behind(world: World) -> None:
    a = world.replicas[0].stubs
    storage = world.replicas[0].service.storage
    files = world.replicas[0].service.files
    user = world.person()
    data = os.urandom(200_000)
    cases = [
        (upload_parts("o1", data, order=[1, 0, 2, 3]), grpc.StatusCode.INVALID_ARGUMENT),  # chunks out of order
        (upload_parts("o2", data, size=len(data) + 10), grpc.StatusCode.INVALID_ARGUMENT),  # truncated
        (upload_parts("o3", data, size=len(data) - 10), grpc.StatusCode.INVALID_ARGUMENT),  # more than declared
        (upload_parts("o4", b"x", size=50 * 1024 * 1024), grpc.StatusCode.RESOURCE_EXHAUSTED),  # over the size limit
        (
            [chat_pb2.UploadFileRequest(chunk=chat_pb2.UploadChunk(offset=0, data=b"x"))],
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ]
    for parts, expected in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await a.files.UploadFile(iter(parts), metadata=user.md)
        assert err.value.code() == expected, parts[0]
    for rid in ("o1", "o2", "o3"):
        file_id = files.file_id_for(user.user_id, rid)
        assert await storage.chunk_count(file_id) == 0 and await storage.find(file_id) is None
    # Quota: the per-user sum.
    quota = world.replicas[0].service.settings.user_quota_bytes
    big = world.person()
    await storage.reserve(
        StoredFile(uid("f"), big.user_id, "a.bin", "application/octet-stream", quota - 100, "", world.clock.now())
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.files.UploadFile(iter(upload_parts("q", os.urandom(1000))), metadata=big.md)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_cancelled_upload_leaves_no_orphan_chunks(world: World) -> None:
    a = world.replicas[0].stubs
    service = world.replicas[0].service
    user = world.person()
    data = os.urandom(1_000_000)
    parts = upload_parts("cancel", data)
    gate = asyncio.Event()

    async def requests():  # type: ignore[no-untyped-def]
        for i, part in enumerate(parts):
            if i == 8:
                gate.set()
                await asyncio.sleep(30)  # the client stalls mid-upload and then cancels
            yield part

    call = a.files.UploadFile(requests(), metadata=user.md)
    pending = asyncio.ensure_future(call)
    await gate.wait()
    file_id = service.files.file_id_for(user.user_id, "cancel")

    async def some_chunks() -> bool:
        return await service.storage.chunk_count(file_id) > 0

    await eventually(some_chunks, timeout=10)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending

    async def clean() -> bool:
        return await service.storage.chunk_count(file_id) == 0 and await service.storage.find(file_id) is None

    await eventually(clean, timeout=10)
    # A crashed replica's upload (document reserved, chunks written, no abort) is removed by cleanup.
    from datetime import timedelta

    crashed = StoredFile(
        uid("f"), user.user_id, "c.bin", "application/octet-stream", 10, "", world.clock.now() - timedelta(hours=2)
    )
    await service.storage.reserve(crashed)
    sink = service.storage.sink(crashed)
    await sink.write(b"0123456789")
    assert await service.storage.chunk_count(crashed.file_id) >= 0
    await service.files.cleanup(timedelta(hours=1))
    assert (
        await service.storage.chunk_count(crashed.file_id) == 0 and await service.storage.find(crashed.file_id) is None
    )
