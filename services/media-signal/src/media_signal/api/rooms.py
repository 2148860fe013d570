"""RoomService: thin servicer (pb → use case → pb) for creating, listing, starting and ending rooms and
minting join grants."""

from __future__ import annotations

import grpc
from parta.common.v1 import types_pb2
from parta.media_signal.v1 import media_signal_pb2 as pb
from parta.media_signal.v1 import media_signal_pb2_grpc as pb_grpc
from parta_common.grpc.context import require_principal
from parta_common.pagination import encode_page_token, page_size

from media_signal.api import mappers
from media_signal.app.listing import RoomListing
from media_signal.app.ports import FORWARDED_BY
from media_signal.app.rooms import RoomUseCases


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
