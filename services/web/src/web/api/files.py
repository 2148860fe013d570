"""Files as HTTP bodies: POST /api/upload streams the raw body into chat's UploadFile in chunks (a
resumable upload goes on from the offset chat's GetUploadStatus reported, with the same request id);
GET /api/files/<id> streams DownloadFile back with its type and a Content-Disposition."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from urllib.parse import quote, unquote

import grpc
import structlog
from aiohttp import web
from parta.chat.v1 import chat_pb2

from web.api.context import gateway_of
from web.api.http import to_json
from web.api.sessions import SESSIONS_KEY
from web.domain.errors import ApiError, body_too_large, gateway_error, not_signed_in
from web.methods import DOWNLOAD, UPLOAD
from web.rpc_errors import api_error_from

log = structlog.get_logger("web.files")
ACCEPTED = ("parta-upload", "accepted")  # chat's initial metadata: send the data (chat.proto UploadFile)
FILENAME_HEADER = "X-Parta-Filename"
REQUEST_ID_HEADER = "X-Parta-Request-Id"
RESUMABLE_HEADER = "X-Parta-Resumable"
OFFSET_HEADER = "X-Parta-Upload-Offset"
# Types a browser may show in the page (previews); everything else downloads as an attachment.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"})


def _resume_point(request: web.Request, max_upload: int, max_resumable: int) -> tuple[bool, int, int]:
    """(resumable, offset, size): `X-Parta-Resumable: 1` asks chat to keep what arrived when the
    stream breaks; `X-Parta-Upload-Offset` says where this body starts in the file (what
    GetUploadStatus reported), so the file's size is offset + Content-Length."""
    length = request.content_length
    if length is None:
        raise gateway_error("INVALID_ARGUMENT", "LENGTH_REQUIRED", "send Content-Length", status=411)
    resumable = request.headers.get(RESUMABLE_HEADER, "") == "1"
    raw_offset = request.headers.get(OFFSET_HEADER, "0")
    if not raw_offset.isdigit() or len(raw_offset) > 12 or (int(raw_offset) and not resumable):
        raise gateway_error(
            "INVALID_ARGUMENT",
            "BAD_UPLOAD_OFFSET",
            f"{OFFSET_HEADER} is a byte count, and only for a resumable upload ({RESUMABLE_HEADER}: 1)",
            status=400,
        )
    if resumable and not request.headers.get(REQUEST_ID_HEADER):
        raise gateway_error(
            "INVALID_ARGUMENT", "REQUEST_ID_REQUIRED", f"a resumable upload needs {REQUEST_ID_HEADER}", status=400
        )
    offset = int(raw_offset)
    size = offset + length
    cap = max_resumable if resumable else max_upload
    if size > cap:
        raise body_too_large(cap)
    return resumable, offset, size


async def upload(request: web.Request) -> web.StreamResponse:
    """Raw body; `Content-Length` required (chat needs the size first), `Content-Type` is the file's,
    `X-Parta-Filename` the percent-encoded UTF-8 name, `X-Parta-Request-Id` an optional retry key;
    `X-Parta-Resumable: 1` and `X-Parta-Upload-Offset` for a resumable upload and its continuation."""
    gateway = gateway_of(request)
    gateway.refuse_if_draining()
    gateway.check_csrf(request)
    settings = gateway.settings
    resumable, offset, size = _resume_point(request, settings.max_upload_bytes, settings.max_resumable_upload_bytes)
    filename = unquote(request.headers.get(FILENAME_HEADER, ""))
    request_id = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
    content_type = request.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()
    sessions = request.app[SESSIONS_KEY]
    token, fresh = await sessions.live_token(request)
    method = gateway.methods.get(UPLOAD)
    assert method is not None
    # A client that stalls (promises more than it sends, or trickles) must not hold the connection
    # and chat's upload forever: each chunk within upload_idle_seconds, all of it (and chat's call,
    # by its gRPC deadline) within upload_deadline_seconds.
    deadline = settings.upload_deadline_seconds
    call = gateway.upstreams.open(method, gateway.metadata(request, token), timeout=deadline)
    sent = 0
    try:
        async with asyncio.timeout(deadline):
            await _write(
                call,
                chat_pb2.UploadFileRequest(
                    metadata=chat_pb2.UploadMetadata(
                        request_id=request_id,
                        filename=filename,
                        content_type=content_type,
                        size_bytes=size,
                        resumable=resumable,
                    )
                ),
            )
            # chat accepts the metadata (initial metadata) or ends the call with its refusal, or
            # with the file of an earlier finished upload of this request id: data only after "accepted".
            # A continuation's first chunk is at `offset`; chat refuses any other than what it stored.
            if ACCEPTED in tuple(await call.initial_metadata() or ()):
                while offset + sent < size:
                    block = await asyncio.wait_for(
                        request.content.readexactly(min(settings.upload_chunk_bytes, size - offset - sent)),
                        settings.upload_idle_seconds,
                    )
                    chunk = chat_pb2.UploadChunk(offset=offset + sent, data=block)
                    await _write(call, chat_pb2.UploadFileRequest(chunk=chunk))
                    sent += len(block)
                await call.done_writing()
            reply = await call
    except grpc.aio.AioRpcError as error:
        raise api_error_from(error) from None
    except TimeoutError:
        # Cancelling the call makes chat abort a plain upload and remove what it wrote; a resumable
        # one keeps its whole stored blocks, and the browser goes on from GetUploadStatus.
        call.cancel()
        log.info("upload_stalled", received=sent)
        refusal = gateway_error("DEADLINE_EXCEEDED", "UPLOAD_TOO_SLOW", "the upload stopped arriving", status=408)
        refusal.extra_headers["Connection"] = "close"
        raise refusal from None
    except ApiError:
        raise
    except BaseException as exc:
        # The browser went away (or sent less than it promised): cancelling the call makes chat
        # abort a plain upload and remove what it wrote, so nothing half-accepted stays (a
        # resumable one keeps what it stored for the continuation).
        call.cancel()
        if isinstance(exc, Exception):
            log.info("upload_abandoned", received=sent, error=type(exc).__name__)
            raise gateway_error("CANCELLED", "UPLOAD_ABANDONED", "the upload did not finish") from None
        raise
    response = web.json_response(to_json(reply))
    if fresh is not None:
        sessions.set_cookies(response, fresh)
    return response


async def _write(call: grpc.aio.StreamUnaryCall, message: chat_pb2.UploadFileRequest) -> None:
    """A write into a call chat has already ended loses chat's status in grpc aio (it reports
    INTERNAL, grpc#36066); after the acceptance handshake that means chat stopped mid-upload."""
    try:
        await call.write(message)
    except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
        log.info("upload_ended_upstream")
        raise gateway_error("UNAVAILABLE", "UPLOAD_INTERRUPTED", "the upload was interrupted: try again") from None


def content_disposition(filename: str, content_type: str) -> str:
    kind = "inline" if content_type in INLINE_TYPES else "attachment"
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename) or "file"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def download(request: web.Request) -> web.StreamResponse:
    gateway = gateway_of(request)
    gateway.refuse_if_draining()
    sessions = request.app[SESSIONS_KEY]
    token, fresh = await sessions.access_token(request)
    if token is None:
        raise not_signed_in()
    method = gateway.methods.get(DOWNLOAD)
    assert method is not None
    call = gateway.upstreams.open(
        method, gateway.metadata(request, token), chat_pb2.DownloadFileRequest(file_id=request.match_info["file_id"])
    )
    try:
        first = await call.read()
    except grpc.aio.AioRpcError as error:
        raise api_error_from(error) from None
    if first is grpc.aio.EOF or first.WhichOneof("part") != "info":
        call.cancel()
        raise gateway_error("UNAVAILABLE", "DOWNLOAD_BROKEN", "the file service sent no file info")
    info = first.info
    content_type = info.content_type if info.content_type.count("/") == 1 else "application/octet-stream"
    response = web.StreamResponse(
        headers={
            "Content-Type": content_type,
            "Content-Disposition": content_disposition(info.filename, content_type),
            # A file is someone's upload: never a page of ours, whatever its type says.
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        }
    )
    response.content_length = info.size_bytes
    if fresh is not None:
        sessions.set_cookies(response, fresh)
    await response.prepare(request)
    if request.method == "HEAD":
        # The web app asks for an attachment's name and type only: no bytes to fetch from chat.
        call.cancel()
        return response
    try:
        while True:
            part = await call.read()
            if part is grpc.aio.EOF:
                break
            await response.write(part.chunk.data)
    except asyncio.CancelledError:
        call.cancel()
        raise
    except Exception as exc:
        # Too late for a status: cut the connection so the browser sees a failed download, not a
        # short file (a gRPC error mid-stream, or the browser went away).
        call.cancel()
        code = exc.code().name if isinstance(exc, grpc.aio.AioRpcError) else type(exc).__name__
        log.warning("download_broken", error=code)
        if request.transport is not None:
            request.transport.close()
        return response
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


__all__ = ["ApiError", "download", "upload"]
