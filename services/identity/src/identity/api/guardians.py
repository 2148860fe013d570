"""GuardianService: links between guardians and children, and consent."""

from __future__ import annotations

import grpc
from parta.identity.v1 import guardians_pb2, guardians_pb2_grpc
from parta_common.clock import Clock
from parta_common.grpc.context import require_principal

from identity.api.mappers import child_link_pb, link_pb, ts
from identity.app.guardians import Guardians, LinkView


def _pb(view: LinkView) -> guardians_pb2.GuardianLink:
    return link_pb(view.child, view.link, view.other)


class GuardianServicer(guardians_pb2_grpc.GuardianServiceServicer):
    def __init__(self, guardians: Guardians, clock: Clock):
        self._guardians = guardians
        self._clock = clock

    async def LinkGuardian(
        self, request: guardians_pb2.LinkGuardianRequest, context: grpc.aio.ServicerContext
    ) -> guardians_pb2.LinkGuardianResponse:
        which = request.WhichOneof("child")
        view = await self._guardians.link(
            require_principal().user_id,
            request.child_phone if which == "child_phone" else None,
            request.link_code if which == "link_code" else None,
        )
        if view is None:
            # Recorded, or nobody has that phone: the same neutral answer either way.
            return guardians_pb2.LinkGuardianResponse(
                link=guardians_pb2.GuardianLink(
                    guardian_user_id=require_principal().user_id,
                    state=guardians_pb2.GUARDIAN_LINK_STATE_PENDING,
                    created_at=ts(self._clock.now()),
                )
            )
        return guardians_pb2.LinkGuardianResponse(link=_pb(view))

    async def CreateLinkCode(
        self, request: guardians_pb2.CreateLinkCodeRequest, context: grpc.aio.ServicerContext
    ) -> guardians_pb2.CreateLinkCodeResponse:
        code, expires = await self._guardians.create_link_code(require_principal().user_id)
        return guardians_pb2.CreateLinkCodeResponse(link_code=code, expires_at=ts(expires))

    async def ConfirmGuardianLink(
        self, request: guardians_pb2.ConfirmGuardianLinkRequest, context: grpc.aio.ServicerContext
    ) -> guardians_pb2.ConfirmGuardianLinkResponse:
        view = await self._guardians.confirm(require_principal().user_id, request.guardian_user_id)
        return guardians_pb2.ConfirmGuardianLinkResponse(link=_pb(view))

    async def GrantConsent(
        self, request: guardians_pb2.GrantConsentRequest, context: grpc.aio.ServicerContext
    ) -> guardians_pb2.GrantConsentResponse:
        view = await self._guardians.set_consent(require_principal().user_id, request.child_user_id, True)
        return guardians_pb2.GrantConsentResponse(link=_pb(view))

    async def RevokeConsent(
        self, request: guardians_pb2.RevokeConsentRequest, context: grpc.aio.ServicerContext
    ) -> guardians_pb2.RevokeConsentResponse:
        view = await self._guardians.set_consent(require_principal().user_id, request.child_user_id, False)
        return guardians_pb2.RevokeConsentResponse(link=_pb(view))

    async def UnlinkGuardian(
        self, request: guardians_pb2.UnlinkGuardianRequest, context: grpc.aio.ServicerContext
    ) -> guardians_pb2.UnlinkGuardianResponse:
        await self._guardians.unlink(require_principal().user_id, request.guardian_user_id, request.child_user_id)
        return guardians_pb2.UnlinkGuardianResponse()

    async def ListMyChildren(
        self, request: guardians_pb2.ListMyChildrenRequest, context: grpc.aio.ServicerContext
    ) -> guardians_pb2.ListMyChildrenResponse:
        views = await self._guardians.children(require_principal().user_id)
        return guardians_pb2.ListMyChildrenResponse(links=[child_link_pb(v.child, v.link) for v in views])

    async def ListMyGuardians(
        self, request: guardians_pb2.ListMyGuardiansRequest, context: grpc.aio.ServicerContext
    ) -> guardians_pb2.ListMyGuardiansResponse:
        views = await self._guardians.guardians(require_principal().user_id)
        return guardians_pb2.ListMyGuardiansResponse(links=[_pb(v) for v in views])
