"""Thin gRPC servicers: RoomService (unary) and SignalService (the bidirectional stream)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc
import structlog
from parta.common.v1 import types_pb2
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta.media_signal.v1 import media_signal_pb2_grpc as pb_grpc
from parta_common.errors import DomainError, FailedPrecondition
from parta_common.grpc.context import require_principal
from parta_common.pagination import encode_page_token, page_size

from media_signal.adapters.owners import FORWARDED_BY
from media_signal.api import mappers
from media_signal.app import signals as s
from media_signal.app.hub import SignalHub
from media_signal.app.listing import RoomListing
from media_signal.app.live_rooms import Session
from media_signal.app.rooms import RoomUseCases

log = structlog.get_logger("media_signal.api")


class RoomServicer(pb_grpc.RoomServiceServicer):
    def __init__(self, rooms: RoomUseCases, listing: RoomListing):
        self._rooms = rooms
        self._listing = listing

    async def CreateRoom(
        self, request: pb.CreateRoomRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateRoomResponse:
        room = await self._rooms.create_room(mappers.new_room(request), require_principal().user_id)
        return pb.CreateRoomResponse(room=mappers.room(room))

    async def GetRoom(self, request: pb.GetRoomRequest, context: grpc.aio.ServicerContext) -> pb.GetRoomResponse:
        room = await self._rooms.get_room(request.room_id, require_principal().user_id)
        return pb.GetRoomResponse(room=mappers.room(room))

    async def ListRooms(self, request: pb.ListRoomsRequest, context: grpc.aio.ServicerContext) -> pb.ListRoomsResponse:
        query, offset = mappers.room_query(request)
        page = await self._listing.list_rooms(
            query,
            require_principal().user_id,
            page_size=page_size(request.page.page_size, "page.page_size"),
            offset=offset,
        )
        token = "" if page.next_offset is None else encode_page_token({"o": page.next_offset})
        return pb.ListRoomsResponse(
            rooms=[mappers.room(r) for r in page.rooms], page=types_pb2.PageInfo(next_page_token=token)
        )

    async def StartRoom(self, request: pb.StartRoomRequest, context: grpc.aio.ServicerContext) -> pb.StartRoomResponse:
        room = await self._rooms.start_room(request.room_id, require_principal().user_id)
        return pb.StartRoomResponse(room=mappers.room(room))

    async def EndRoom(self, request: pb.EndRoomRequest, context: grpc.aio.ServicerContext) -> pb.EndRoomResponse:
        user_id = require_principal().user_id
        metadata = {key: value for key, value in context.invocation_metadata() or () if isinstance(value, str)}
        room = await self._rooms.end_room(
            request.room_id,
            user_id,
            # A replica that does not hold the room forwards the call, as this caller, to the one
            # that does (docs/media-signal.md "Rooms pinned to one replica").
            credentials=metadata.get("authorization", ""),
            forwarded=bool(metadata.get(FORWARDED_BY)),
        )
        return pb.EndRoomResponse(room=mappers.room(room))

    async def CreateJoinToken(
        self, request: pb.CreateJoinTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateJoinTokenResponse:
        grant = await self._rooms.create_join_token(request.room_id, require_principal().user_id)
        return pb.CreateJoinTokenResponse(
            token=grant.token,
            expires_at=mappers.ts(grant.expires_at),
            grants=mappers.grants(grant.grants),
            ice_servers=[mappers.ice_server(x) for x in grant.ice_servers],
            signal_address=grant.signal_address,
        )


class SignalServicer(pb_grpc.SignalServiceServicer):
    def __init__(self, hub: SignalHub, *, join_timeout: float = 10.0):
        self._hub = hub
        self._join_timeout = join_timeout

    async def Signal(
        self, request_iterator: AsyncIterator[pb.SignalRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SignalResponse]:
        user_id = require_principal().user_id
        try:
            first = await asyncio.wait_for(anext(request_iterator), self._join_timeout)
        except (TimeoutError, StopAsyncIteration) as exc:
            raise FailedPrecondition("send join first", reason="JOIN_REQUIRED") from exc
        if first.WhichOneof("message") != "join":
            raise FailedPrecondition("the first message must be join", reason="JOIN_REQUIRED")
        session = await self._hub.join(user_id, first.join.token)
        structlog.contextvars.bind_contextvars(room_id=session.room_id, participant_id=session.participant_id)
        log.info("participant_joined", waiting=session.waiting)
        reader = asyncio.create_task(self._read(session, request_iterator, context), name="signal-reader")
        clean = False
        try:
            while True:
                message = await session.queue.get()
                if isinstance(message, s.Close):
                    clean = True
                    if message.error is not None:
                        raise message.error
                    return
                yield mappers.outbound(message)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            if not clean and not session.gone:
                # The client vanished (network drop, crash): keep the seat until the keep-alive
                # timeout so a flaky connection does not flap attendance; the hub reaps it then.
                self._hub.detach(session)
                log.info("participant_stream_dropped")

    async def _read(
        self, session: Session, request_iterator: AsyncIterator[pb.SignalRequest], context: grpc.aio.ServicerContext
    ) -> None:
        async for request in request_iterator:
            try:
                await self._hub.handle(session, mappers.command(request))
            except DomainError as error:
                # One bad message is answered in-stream; the stream and the room carry on.
                log.info("signal_rejected", reason=error.reason)
                session.send(s.ErrorMsg(request.request_id[:64], error))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("signal_failed")
                session.send(s.ErrorMsg(request.request_id[:64], _internal()))
        # The request stream ended without a leave. grpc.aio shows a client's cancel (a dropped
        # connection) and a half-close alike, so both count as a drop: the participant keeps the
        # seat until the keep-alive timeout, then leaves with reason "timeout". Only `leave` is clean.
        if not session.gone:
            self._hub.detach(session)


def _internal() -> DomainError:
    return DomainError("internal error", reason="INTERNAL")
