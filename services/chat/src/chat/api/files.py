"""FileService: client-streamed uploads, server-streamed downloads, personal storage list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta_common.errors import InvalidArgument
from parta_common.grpc.context import require_principal
from parta_common.pagination import encode_page_token, page_offset, page_size
from parta_common.timestamps import ts

from chat.app.files import Files
from chat.domain.files import StoredFile

# Initial metadata sent once the upload's metadata has passed every check (chat.proto UploadFile).
UPLOAD_ACCEPTED = (("parta-upload", "accepted"),)


def file_pb(f: StoredFile) -> chat_pb2.FileInfo:
    return chat_pb2.FileInfo(
        file_id=f.file_id,
        filename=f.filename,
        content_type=f.content_type,
        size_bytes=f.size_bytes,
        sha256_hex=f.sha256_hex,
        uploaded_at=ts(f.uploaded_at),
        owner_user_id=f.owner_user_id,
    )


class FileServicer(chat_pb2_grpc.FileServiceServicer):
    def __init__(self, files: Files):
        self._files = files

    async def UploadFile(
        self, request_iterator: AsyncIterator[chat_pb2.UploadFileRequest], context: Any
    ) -> chat_pb2.UploadFileResponse:
        user = require_principal().user_id
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "metadata":
            raise InvalidArgument.field("metadata", "the first message must carry the file's metadata")
        meta = first.metadata

        async def chunks() -> AsyncIterator[tuple[int, bytes]]:
            async for part in request_iterator:
                if part.WhichOneof("part") != "chunk":
                    raise InvalidArgument.field("metadata", "metadata only once, at the start")
                yield part.chunk.offset, part.chunk.data

        async def accepted() -> None:
            # Tells the caller to send the data: a client that writes only after this never writes
            # into a call the server already ended (grpc aio then reports INTERNAL, grpc#36066).
            await context.send_initial_metadata(UPLOAD_ACCEPTED)

        stored = await self._files.upload(
            user, meta.request_id, meta.filename, meta.content_type, meta.size_bytes, chunks(), accepted
        )
        _files, used = await self._files.list_files(user, 0, 0)
        return chat_pb2.UploadFileResponse(
            file=file_pb(stored), quota_used_bytes=used, quota_bytes=self._files.limits.quota_bytes
        )

    async def DownloadFile(
        self, request: chat_pb2.DownloadFileRequest, context: Any
    ) -> AsyncIterator[chat_pb2.DownloadFileResponse]:
        user = require_principal().user_id
        info, data = await self._files.open(user, request.file_id, request.offset)
        yield chat_pb2.DownloadFileResponse(info=file_pb(info))
        offset = request.offset
        async for block in data:
            yield chat_pb2.DownloadFileResponse(chunk=chat_pb2.UploadChunk(offset=offset, data=block))
            offset += len(block)

    async def ListFiles(self, request: chat_pb2.ListFilesRequest, context: Any) -> chat_pb2.ListFilesResponse:
        user = require_principal().user_id
        size = page_size(request.page_size)
        skip = page_offset(request.page_token)
        files, used = await self._files.list_files(user, skip, size + 1)
        token = encode_page_token({"o": skip + size}) if len(files) > size else ""
        return chat_pb2.ListFilesResponse(
            files=[file_pb(f) for f in files[:size]],
            next_page_token=token,
            quota_used_bytes=used,
            quota_bytes=self._files.limits.quota_bytes,
        )
