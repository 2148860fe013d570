"""Resumable uploads in GridFS: a resumable upload whose stream is cancelled keeps its whole stored
chunks, GetUploadStatus tells its owner where to go on, and the resume (on another replica) ends in
the whole file, byte for byte, with the whole file's SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import os

import grpc
import pytest
from chat.adapters.files import GRIDFS_CHUNK
from parta.chat.v1 import chat_pb2

from tests.chat.integration.test_files import download
from tests.chat.support import World, eventually

CHUNK = 64 * 1024


def metadata(size: int) -> chat_pb2.UploadFileRequest:
    return chat_pb2.UploadFileRequest(
        metadata=chat_pb2.UploadMetadata(
            request_id="resume-1", filename="lesson.mp4", content_type="video/mp4", size_bytes=size, resumable=True
        )
    )


def chunks(data: bytes, start: int) -> list[chat_pb2.UploadFileRequest]:
    return [
        chat_pb2.UploadFileRequest(chunk=chat_pb2.UploadChunk(offset=o, data=data[o : o + CHUNK]))
        for o in range(start, len(data), CHUNK)
    ]


async def upload(stubs, person, data: bytes, start: int, *, parts: int = 0) -> chat_pb2.UploadFileResponse:  # type: ignore[no-untyped-def]
    """Chunks only after chat accepted the metadata (grpc#36066); with `parts`, only that many and
    no half-close (a refusal of a chunk then reaches the caller as itself)."""
    call = stubs.files.UploadFile(metadata=person.md)
    await call.write(metadata(len(data)))
    if ("parta-upload", "accepted") in tuple(await call.initial_metadata() or ()):
        for part in chunks(data, start)[: parts or None]:
            await call.write(part)
        if not parts:
            await call.done_writing()
    reply: chat_pb2.UploadFileResponse = await call
    return reply


async def test_a_cancelled_resumable_upload_resumes_on_another_replica(world: World) -> None:
    a, b = (r.stubs for r in world.replicas)
    user, other = world.person(), world.person()
    data = os.urandom(1_000_000)
    gate = asyncio.Event()

    async def first_attempt():  # type: ignore[no-untyped-def]
        yield metadata(len(data))
        for part in chunks(data, 0)[:8]:  # 512 KiB: two whole GridFS chunks and a bit
            yield part
        gate.set()
        await asyncio.sleep(30)  # the client stalls, then goes away

    call = a.files.UploadFile(first_attempt(), metadata=user.md)
    pending = asyncio.ensure_future(call)
    await gate.wait()
    status = chat_pb2.GetUploadStatusRequest(request_id="resume-1")

    async def two_chunks_stored() -> bool:
        reply = await b.files.GetUploadStatus(status, metadata=user.md)
        return reply.received_bytes == 2 * GRIDFS_CHUNK

    await eventually(two_chunks_stored, timeout=10)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    reply = await b.files.GetUploadStatus(status, metadata=user.md)
    assert (reply.received_bytes, reply.size_bytes, reply.complete) == (2 * GRIDFS_CHUNK, len(data), False)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await b.files.GetUploadStatus(status, metadata=other.md)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # Resuming from the start is refused, and keeps what is stored.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await upload(b, user, data, 0, parts=1)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "chunk.offset" in (err.value.details() or "")
    # The broken stream's last chunk lands after the resume asked where to go on: the resume's
    # write of that chunk is refused ABORTED (resume again), and the status moves on.
    service = world.replicas[0].service
    file_id = service.files.file_id_for(user.user_id, "resume-1")
    kept = await service.storage.resumable_upload(file_id)
    assert kept is not None
    racing = b.files.UploadFile(metadata=user.md)
    await racing.write(metadata(len(data)))
    assert ("parta-upload", "accepted") in tuple(await racing.initial_metadata() or ())
    late = service.storage.sink(kept, 2 * GRIDFS_CHUNK)
    await late.write(data[2 * GRIDFS_CHUNK : 3 * GRIDFS_CHUNK])
    for part in chunks(data, reply.received_bytes)[:4]:  # 256 KiB: one GridFS chunk fills
        await racing.write(part)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await racing
    assert err.value.code() == grpc.StatusCode.ABORTED
    reply = await a.files.GetUploadStatus(status, metadata=user.md)
    assert reply.received_bytes == 3 * GRIDFS_CHUNK
    done = await upload(b, user, data, reply.received_bytes)
    assert done.file.sha256_hex == hashlib.sha256(data).hexdigest() and done.file.size_bytes == len(data)
    _info, got = await download(a, user, done.file.file_id)
    assert got == data
    finished = await a.files.GetUploadStatus(status, metadata=user.md)
    assert (finished.received_bytes, finished.complete) == (len(data), True)
