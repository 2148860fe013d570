"""AuthService: phone sign-in and sessions."""

from __future__ import annotations

import grpc
from parta.identity.v1 import auth_pb2, auth_pb2_grpc
from parta_common.grpc.context import client_address, require_principal

from identity.api.mappers import session_pb, ts
from identity.app.sign_in import SignIn


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, sign_in: SignIn):
        self._sign_in = sign_in

    async def RequestCode(
        self, request: auth_pb2.RequestCodeRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RequestCodeResponse:
        sent = await self._sign_in.request_code(request.phone, request.request_id, client_address())
        return auth_pb2.RequestCodeResponse(
            challenge_id=sent.challenge_id,
            resend_after_seconds=sent.resend_after_seconds,
            expires_at=ts(sent.expires_at),
            code_length=sent.code_length,
        )

    async def VerifyCode(
        self, request: auth_pb2.VerifyCodeRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.VerifyCodeResponse:
        signed = await self._sign_in.verify_code(request.challenge_id, request.code, request.device_name)
        return auth_pb2.VerifyCodeResponse(
            user_id=signed.user_id,
            access_token=signed.access.token,
            refresh_token=signed.refresh_token,
            access_expires_at=ts(signed.access.expires_at),
            is_new_user=signed.is_new_user,
            session_id=signed.session_id,
            has_profile=signed.has_profile,
        )

    async def RefreshSession(
        self, request: auth_pb2.RefreshSessionRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RefreshSessionResponse:
        refreshed = await self._sign_in.refresh(request.refresh_token)
        return auth_pb2.RefreshSessionResponse(
            access_token=refreshed.access.token,
            refresh_token=refreshed.refresh_token,
            access_expires_at=ts(refreshed.access.expires_at),
        )

    async def ListSessions(
        self, request: auth_pb2.ListSessionsRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.ListSessionsResponse:
        principal = require_principal()
        sessions = await self._sign_in.list_sessions(principal.user_id)
        return auth_pb2.ListSessionsResponse(sessions=[session_pb(s, principal.session_id) for s in sessions])

    async def RevokeSession(
        self, request: auth_pb2.RevokeSessionRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RevokeSessionResponse:
        await self._sign_in.revoke_session(require_principal().user_id, request.session_id)
        return auth_pb2.RevokeSessionResponse()

    async def RevokeAllSessions(
        self, request: auth_pb2.RevokeAllSessionsRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RevokeAllSessionsResponse:
        principal = require_principal()
        keep = principal.session_id if request.keep_current else ""
        return auth_pb2.RevokeAllSessionsResponse(revoked=await self._sign_in.revoke_all(principal.user_id, keep))
