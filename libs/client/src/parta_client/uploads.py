"""Uploading a file into personal storage with chat's acceptance handshake (chat.proto UploadFile):
the metadata first, the data only once chat has accepted it. A client that streams blindly can
see INTERNAL for a plain refusal (an expired token, a full quota): grpc aio loses the server's
status when a write meets a call the server already ended (grpc#36066)."""

from __future__ import annotations

from pathlib import Path

from parta.chat.v1 import chat_pb2, chat_pb2_grpc

ACCEPTED = ("parta-upload", "accepted")
CHUNK = 256 * 1024


async def upload_file(
    files: chat_pb2_grpc.FileServiceStub, path: Path, request_id: str, content_type: str, *, timeout: float
) -> chat_pb2.UploadFileResponse:
    """Chat's reply; a refusal raises grpc.aio.AioRpcError with chat's status. Retrying with the
    same `request_id` after a finished upload returns the same file."""
    call = files.UploadFile(timeout=timeout)
    size = path.stat().st_size
    await call.write(
        chat_pb2.UploadFileRequest(
            metadata=chat_pb2.UploadMetadata(
                request_id=request_id, filename=path.name, content_type=content_type, size_bytes=size
            )
        )
    )
    if ACCEPTED in tuple(await call.initial_metadata() or ()):
        offset = 0
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                await call.write(chat_pb2.UploadFileRequest(chunk=chat_pb2.UploadChunk(offset=offset, data=chunk)))
                offset += len(chunk)
        await call.done_writing()
    reply: chat_pb2.UploadFileResponse = await call
    return reply
