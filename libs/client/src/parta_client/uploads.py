"""Uploading a file into personal storage with chat's acceptance handshake (chat.proto UploadFile):
the metadata first, the data only once chat has accepted it. A client that streams blindly can
see INTERNAL for a plain refusal (an expired token, a full quota): grpc aio loses the server's
status when a write meets a call the server already ended (grpc#36066). A resumable upload asks
GetUploadStatus after a broken stream and goes on from what chat stored, a bounded number of times."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
from parta.chat.v1 import chat_pb2, chat_pb2_grpc

ACCEPTED = ("parta-upload", "accepted")
CHUNK = 256 * 1024
# `parta file upload` uploads files above this size resumably (docs/chat.md "Resumable uploads").
RESUMABLE_ABOVE = 8 * 1024 * 1024
# How often a resumable upload goes on after a broken stream, and the pause before the n-th time.
RESUMES = 5
# A broken connection (UNAVAILABLE), or two streams of one upload at once (ABORTED: start again).
_RESUMABLE_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED)


class _Interrupted(Exception):
    """A write into the stream failed: the connection broke or chat ended the call. grpc aio
    reports both as INTERNAL (grpc#36066), so GetUploadStatus tells which."""

    def __init__(self, error: grpc.aio.AioRpcError):
        super().__init__(str(error))
        self.error = error


def resume_pause(attempt: int) -> float:
    return float(min(0.5 * 2**attempt, 8.0))


async def upload_file(
    files: chat_pb2_grpc.FileServiceStub,
    path: Path,
    request_id: str,
    content_type: str,
    *,
    timeout: float,
    resumable: bool = False,
    resumes: int = RESUMES,
) -> chat_pb2.UploadFileResponse:
    """Chat's reply; a refusal raises grpc.aio.AioRpcError with chat's status. Retrying with the
    same `request_id` after a finished upload returns the same file. `resumable`: a stream that
    breaks (UNAVAILABLE, ABORTED, a failed write, INTERNAL after data went out) goes on from the offset GetUploadStatus
    reports, up to `resumes` times, each call within `timeout`; then the last error is raised."""
    if not resumable:
        try:
            return await _send(files, path, request_id, content_type, 0, timeout=timeout, resumable=False)
        except _Interrupted as exc:
            raise exc.error from None
    start = 0
    for attempt in range(resumes + 1):
        try:
            return await _send(files, path, request_id, content_type, start, timeout=timeout, resumable=True)
        except grpc.aio.AioRpcError as err:
            if err.code() not in _RESUMABLE_CODES or attempt == resumes:
                raise
        except _Interrupted as exc:
            if attempt == resumes:
                raise exc.error from None
        await asyncio.sleep(resume_pause(attempt))
        try:
            status = await files.GetUploadStatus(
                chat_pb2.GetUploadStatusRequest(request_id=request_id), timeout=timeout
            )
            start = status.received_bytes
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                start = 0  # nothing was kept (the stream broke before chat reserved the file)
            elif err.code() not in _RESUMABLE_CODES:
                raise
            # Unreachable again: the next attempt asks chat where to go on by failing or succeeding.
    raise AssertionError("unreachable")


async def _send(
    files: chat_pb2_grpc.FileServiceStub,
    path: Path,
    request_id: str,
    content_type: str,
    start: int,
    *,
    timeout: float,
    resumable: bool,
) -> chat_pb2.UploadFileResponse:
    call = files.UploadFile(timeout=timeout)
    size = path.stat().st_size
    await call.write(
        chat_pb2.UploadFileRequest(
            metadata=chat_pb2.UploadMetadata(
                request_id=request_id,
                filename=path.name,
                content_type=content_type,
                size_bytes=size,
                resumable=resumable,
            )
        )
    )
    streamed = ACCEPTED in tuple(await call.initial_metadata() or ())
    if streamed:
        offset = start
        try:
            with path.open("rb") as handle:
                handle.seek(start)
                while chunk := handle.read(CHUNK):
                    part = chat_pb2.UploadChunk(offset=offset, data=chunk)
                    await call.write(chat_pb2.UploadFileRequest(chunk=part))
                    offset += len(chunk)
            await call.done_writing()
        except asyncio.InvalidStateError:
            pass  # chat ended the call before this write: awaiting it gives chat's status
        except grpc.aio.AioRpcError as err:
            raise _Interrupted(err) from err
    try:
        reply: chat_pb2.UploadFileResponse = await call
    except grpc.aio.AioRpcError as err:
        # A write that met a call chat had ended can also surface here, as INTERNAL (grpc#36066).
        if streamed and err.code() == grpc.StatusCode.INTERNAL:
            raise _Interrupted(err) from err
        raise
    return reply
