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
        (upload_parts("o4", b"x", size=300 * 1024 * 1024), grpc.StatusCode.RESOURCE_EXHAUSTED),  # over the size limit
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


async def _code(call) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    try:
        await call
    except grpc.aio.AioRpcError as err:
        status = rpc_status.from_call(err)  # type: ignore[arg-type]
        reasons = [
            error_details_pb2.ErrorInfo.FromString(d.value).reason
            for d in (status.details if status else [])
            if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)
        ]
        return err.code(), reasons[0] if reasons else ""
    return grpc.StatusCode.OK, ""


async def test_deleting_a_file_frees_quota_and_no_chat_it_was_sent_to_serves_it(world: World) -> None:
    from tests.chat.support import ADMIN, CPARENT, HEAD, PARENT

    a, b = (r.stubs for r in world.replicas)
    school = world.school()
    await school.create()
    class_id = uid("c")
    await school.add_class(class_id)
    admin, head, student, classmate, parent, outsider = (world.person() for _ in range(6))
    await school.member(admin.user_id, ADMIN)
    await school.member(head.user_id, TEACHER, class_id, HEAD)
    await school.member(student.user_id, STUDENT, class_id, CSTUDENT)
    await school.member(classmate.user_id, STUDENT, class_id, CSTUDENT)
    await school.member(parent.user_id, PARENT, class_id, CPARENT, child=student.user_id)
    cls, par = f"cls-{class_id}", f"par-{class_id}"

    async def ready() -> bool:
        # The parent too: under load their parents'-chat seat may land after the others' (a download
        # before it is NOT_FOUND, as for anyone outside the chat).
        return (
            {cls, par} <= await chat_ids(a, head)
            and cls in await chat_ids(a, classmate)
            and par in await chat_ids(a, parent)
        )

    await eventually(ready)

    # --- the uploader deletes a file sent to two chats -------------------------------------------
    data, other = os.urandom(200_000), os.urandom(1000)
    up = await a.files.UploadFile(iter(upload_parts(uid("r"), data)), metadata=head.md)
    kept = await a.files.UploadFile(iter(upload_parts(uid("r"), other)), metadata=head.md)
    file_id = up.file.file_id
    sent = {}
    for chat_id in (cls, par):
        reply = await a.chat.SendMessage(
            chat_pb2.SendMessageRequest(
                chat_id=chat_id, client_message_id=uid(), text="материалы", file_ids=[file_id, kept.file.file_id]
            ),
            metadata=head.md,
        )
        sent[chat_id] = reply.message
    assert (await download(b, classmate, file_id))[1] == data
    assert (await download(b, parent, file_id))[1] == data
    assert kept.quota_used_bytes == len(data) + len(other)

    deleted = await b.files.DeleteFile(chat_pb2.DeleteFileRequest(file_id=file_id), metadata=head.md)
    assert deleted.quota_used_bytes == len(other)
    listing = await a.files.ListFiles(chat_pb2.ListFilesRequest(), metadata=head.md)
    assert [f.file_id for f in listing.files] == [kept.file.file_id] and listing.quota_used_bytes == len(other)
    for person in (head, classmate, parent):
        for stubs in (a, b):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await download(stubs, person, file_id)
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await download(a, classmate, kept.file.file_id))[1] == other
    # Every message it was sent with shows it removed; the other attachment stays.
    for chat_id, message in sent.items():
        page = await a.chat.ListMessages(chat_pb2.ListMessagesRequest(chat_id=chat_id), metadata=head.md)
        now = next(m for m in page.messages if m.seq == message.seq)
        assert list(now.file_ids) == [kept.file.file_id] and list(now.removed_file_ids) == [file_id]
        assert now.update_seq > message.update_seq
    assert await world.replicas[0].service.storage.chunk_count(file_id) == 0
    # A repeat is fine; a stranger deleting someone's file learns nothing.
    await a.files.DeleteFile(chat_pb2.DeleteFileRequest(file_id=file_id), metadata=head.md)
    code = await _code(a.files.DeleteFile(chat_pb2.DeleteFileRequest(file_id=kept.file.file_id), metadata=parent.md))
    assert code == (grpc.StatusCode.NOT_FOUND, "FILE_NOT_FOUND")

    # --- the chat's file list: members only --------------------------------------------------------
    files = await a.files.ListChatFiles(chat_pb2.ListChatFilesRequest(chat_id=cls), metadata=classmate.md)
    assert [f.file_id for f in files.files] == [kept.file.file_id]
    media = await a.files.ListChatFiles(
        chat_pb2.ListChatFilesRequest(chat_id=cls, kind=chat_pb2.FILE_KIND_MEDIA), metadata=classmate.md
    )
    assert list(media.files) == []
    for stranger in (parent, outsider):  # the parent is not in the class chat
        code = await _code(a.files.ListChatFiles(chat_pb2.ListChatFilesRequest(chat_id=cls), metadata=stranger.md))
        assert code[0] in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND), code

    # --- an attachment removed by a moderator; others may not -------------------------------------
    own = await a.files.UploadFile(iter(upload_parts(uid("r"), b"homework")), metadata=student.md)
    posted = await a.chat.SendMessage(
        chat_pb2.SendMessageRequest(chat_id=cls, client_message_id=uid(), file_ids=[own.file.file_id]),
        metadata=student.md,
    )
    remove = chat_pb2.RemoveAttachmentRequest(chat_id=cls, seq=posted.message.seq, file_id=own.file.file_id)
    assert await _code(a.files.RemoveAttachment(remove, metadata=classmate.md)) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_AUTHOR",
    )
    removed = await b.files.RemoveAttachment(remove, metadata=head.md)
    assert list(removed.message.removed_file_ids) == [own.file.file_id] and not removed.message.file_ids
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await download(a, classmate, own.file.file_id)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await download(a, student, own.file.file_id))[1] == b"homework"  # still in her storage

    # --- the school's quota: admins, within the operator's bounds ----------------------------------
    limits = world.replicas[0].service.files.limits
    want = chat_pb2.SetFileQuotaRequest(school_id=school.school_id, quota_bytes=limits.min_quota_bytes)
    assert (await _code(a.files.SetFileQuota(want, metadata=head.md)))[1] == "NOT_AN_ADMIN"
    assert (
        await _code(
            a.files.GetFileQuota(chat_pb2.GetFileQuotaRequest(school_id=school.school_id), metadata=outsider.md)
        )
    )[0] == grpc.StatusCode.NOT_FOUND
    too_big = chat_pb2.SetFileQuotaRequest(school_id=school.school_id, quota_bytes=limits.max_quota_bytes + 1)
    assert (await _code(a.files.SetFileQuota(too_big, metadata=admin.md)))[0] == grpc.StatusCode.INVALID_ARGUMENT
    quota = await a.files.SetFileQuota(want, metadata=admin.md)
    assert quota.quota.quota_bytes == limits.min_quota_bytes and quota.quota.set_by_school
    mine = await b.files.ListFiles(chat_pb2.ListFilesRequest(), metadata=classmate.md)
    assert mine.quota_bytes == limits.min_quota_bytes
