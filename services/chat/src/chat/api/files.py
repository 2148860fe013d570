"""FileService: client-streamed uploads, server-streamed downloads, personal storage list, deleting
files and attachments, a chat's files, the per-school quota."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta_common.errors import InvalidArgument
from parta_common.grpc.context import require_principal
from parta_common.pagination import encode_page_token, page_offset, page_size
from parta_common.timestamps import ts

from chat.app.files import Files, SchoolQuota
from chat.domain.files import FileKind, StoredFile
from chat.pb import message_pb

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
            user,
            meta.request_id,
            meta.filename,
            meta.content_type,
            meta.size_bytes,
            chunks(),
            accepted,
            resumable=meta.resumable,
        )
        _files, used = await self._files.list_files(user, 0, 0)
        return chat_pb2.UploadFileResponse(
            file=file_pb(stored), quota_used_bytes=used, quota_bytes=await self._files.quota_for(user)
        )

    async def GetUploadStatus(
        self, request: chat_pb2.GetUploadStatusRequest, context: Any
    ) -> chat_pb2.GetUploadStatusResponse:
        received, size, complete = await self._files.upload_status(require_principal().user_id, request.request_id)
        return chat_pb2.GetUploadStatusResponse(received_bytes=received, size_bytes=size, complete=complete)

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
            quota_bytes=await self._files.quota_for(user),
        )

    async def DeleteFile(self, request: chat_pb2.DeleteFileRequest, context: Any) -> chat_pb2.DeleteFileResponse:
        user = require_principal().user_id
        used = await self._files.delete_file(user, request.file_id)
        return chat_pb2.DeleteFileResponse(quota_used_bytes=used, quota_bytes=await self._files.quota_for(user))

    async def RemoveAttachment(
        self, request: chat_pb2.RemoveAttachmentRequest, context: Any
    ) -> chat_pb2.RemoveAttachmentResponse:
        user = require_principal().user_id
        message = await self._files.remove_attachment(user, request.chat_id, request.seq, request.file_id)
        return chat_pb2.RemoveAttachmentResponse(message=message_pb(message))

    async def ListChatFiles(
        self, request: chat_pb2.ListChatFilesRequest, context: Any
    ) -> chat_pb2.ListChatFilesResponse:
        user = require_principal().user_id
        if request.kind not in (k.value for k in FileKind):
            raise InvalidArgument.field("kind", "unknown file kind")
        size = page_size(request.page_size)
        skip = page_offset(request.page_token)
        files = await self._files.list_chat_files(user, request.chat_id, FileKind(request.kind), skip, size + 1)
        token = encode_page_token({"o": skip + size}) if len(files) > size else ""
        return chat_pb2.ListChatFilesResponse(files=[file_pb(f) for f in files[:size]], next_page_token=token)

    def _quota_pb(self, quota: SchoolQuota) -> chat_pb2.FileQuota:
        limits = self._files.limits
        return chat_pb2.FileQuota(
            school_id=quota.school_id,
            quota_bytes=quota.quota_bytes,
            set_by_school=quota.set_by_school,
            min_quota_bytes=limits.min_quota_bytes,
            max_quota_bytes=limits.max_quota_bytes,
            max_file_bytes=limits.max_file_bytes,
        )

    async def GetFileQuota(self, request: chat_pb2.GetFileQuotaRequest, context: Any) -> chat_pb2.GetFileQuotaResponse:
        quota = await self._files.get_quota(require_principal().user_id, request.school_id)
        return chat_pb2.GetFileQuotaResponse(quota=self._quota_pb(quota))

    async def SetFileQuota(self, request: chat_pb2.SetFileQuotaRequest, context: Any) -> chat_pb2.SetFileQuotaResponse:
        quota = await self._files.set_quota(require_principal().user_id, request.school_id, request.quota_bytes)
        return chat_pb2.SetFileQuotaResponse(quota=self._quota_pb(quota))
