"""AccountService: export of the caller's data and account deletion."""

from __future__ import annotations

import grpc
from parta.identity.v1 import account_pb2, account_pb2_grpc
from parta_common.clock import Clock
from parta_common.grpc.context import require_principal

from identity.api.mappers import link_pb, profile_pb, session_pb, ts
from identity.app.account import Accounts


class AccountServicer(account_pb2_grpc.AccountServiceServicer):
    def __init__(self, accounts: Accounts, clock: Clock):
        self._accounts = accounts
        self._clock = clock

    async def ExportMyData(
        self, request: account_pb2.ExportMyDataRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.ExportMyDataResponse:
        principal = require_principal()
        data = await self._accounts.export(principal.user_id)
        user = data.user
        people = {u.id: u for u in data.guardians}
        children = [link_pb(c, link, c) for c in data.children if (link := c.link_of(user.id)) is not None]
        return account_pb2.ExportMyDataResponse(
            user_id=user.id,
            phone=user.phone or "",
            registered_at=ts(user.registered_at),
            profile=profile_pb(user, self._clock.now().date()) if user.profile else None,
            sessions=[session_pb(s, principal.session_id) for s in data.sessions],
            children=children,
            guardians=[link_pb(user, g, people.get(g.guardian_id)) for g in user.guardians],
        )

    async def DeleteAccount(
        self, request: account_pb2.DeleteAccountRequest, context: grpc.aio.ServicerContext
    ) -> account_pb2.DeleteAccountResponse:
        await self._accounts.delete(require_principal().user_id, request.confirm)
        return account_pb2.DeleteAccountResponse()
