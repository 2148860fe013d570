"""JoinRequestService: thin servicer (pb → use case → pb): join requests and their decisions."""

from __future__ import annotations

from parta.school.v1 import school_pb2 as pb
from parta.school.v1 import school_pb2_grpc as rpc

from school.api import mappers as m
from school.api.mappers import Ctx, enum_value
from school.app.join_requests import JoinRequests
from school.domain.join_requests import JoinState


class JoinRequestServicer(rpc.JoinRequestServiceServicer):
    def __init__(self, join_requests: JoinRequests):
        self.join_requests = join_requests

    async def ListJoinRequests(self, request: pb.ListJoinRequestsRequest, context: Ctx) -> pb.ListJoinRequestsResponse:
        page = m.Page(request.page)
        found = await self.join_requests.list_join_requests(
            m.caller(),
            request.school_id,
            request.class_id,
            enum_value(JoinState, request.state, "state"),
            page.after,
            page.limit,
        )
        items, info = page.cut(found, lambda x: x.id)
        return pb.ListJoinRequestsResponse(join_requests=[m.join_request(x) for x in items], page=info)

    async def ApproveJoinRequest(
        self, request: pb.ApproveJoinRequestRequest, context: Ctx
    ) -> pb.ApproveJoinRequestResponse:
        decided = await self.join_requests.decide(m.caller(), request.join_request_id, approve=True)
        return pb.ApproveJoinRequestResponse(join_request=m.join_request(decided))

    async def RejectJoinRequest(
        self, request: pb.RejectJoinRequestRequest, context: Ctx
    ) -> pb.RejectJoinRequestResponse:
        decided = await self.join_requests.decide(m.caller(), request.join_request_id, approve=False)
        return pb.RejectJoinRequestResponse(join_request=m.join_request(decided))

    async def ListMyJoinRequests(
        self, request: pb.ListMyJoinRequestsRequest, context: Ctx
    ) -> pb.ListMyJoinRequestsResponse:
        found = await self.join_requests.list_my_join_requests(m.caller())
        return pb.ListMyJoinRequestsResponse(join_requests=[m.join_request(x) for x in found])
