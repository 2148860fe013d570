"""Consumer of identity.user.v1: AccountDeleted ends every membership (and may leave a school's admin seat
vacant); profile facts and guardian links feed projections.
Idempotent: ending an ended membership is a no-op; projections keep the newest version."""

from __future__ import annotations

import structlog
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity_pb2
from parta_common.events.router import EventRouter

from school.api.erasure import ErasureHandler
from school.app.memberships import Memberships
from school.app.ports import GuardianDirectory, ProfileDirectory
from school.domain.profiles import ProfileState

log = structlog.get_logger("school.consumers")

Envelope = envelope_pb2.EventEnvelope
AWAITING_GUARDIAN = identity_pb2.CONSENT_STATE_AWAITING_GUARDIAN


class IdentityEventHandler:
    def __init__(
        self,
        memberships: Memberships,
        guardians: GuardianDirectory,
        profiles: ProfileDirectory,
        erasure: ErasureHandler | None = None,
    ):
        """`erasure` (api/erasure.py) takes AccountDeleted when given: the same steps, counted and
        reported; without it (tests of the projections) the seats end unreported."""
        self._memberships = memberships
        self._erasure = erasure
        self._guardians = guardians
        self._profiles = profiles

    def router(self) -> EventRouter:
        router = EventRouter()
        router.register(identity_pb2.ProfileCreated, self.on_profile)
        router.register(identity_pb2.ProfileUpdated, self.on_profile)
        # Both carry the consent state that follows the change (the rule book's AWAITING_GUARDIAN).
        router.register(identity_pb2.ConsentChanged, self.on_consent)
        router.register(identity_pb2.ProfileAgeBandChanged, self.on_consent)
        router.register(
            identity_pb2.AccountDeleted, self._erasure.on_account_deleted if self._erasure else self.on_account_deleted
        )
        router.register(identity_pb2.GuardianLinked, self.on_guardian_linked)
        router.register(identity_pb2.GuardianUnlinked, self.on_guardian_unlinked)
        return router

    async def on_profile(
        self, event: identity_pb2.ProfileCreated | identity_pb2.ProfileUpdated, envelope: Envelope
    ) -> None:
        snapshot = event.profile
        if snapshot.user_id:
            await self._profiles.apply(
                snapshot.user_id,
                ProfileState.PRESENT,
                int(envelope.aggregate_version),
                awaiting_guardian=snapshot.consent_state == AWAITING_GUARDIAN,
            )

    async def on_consent(
        self, fact: identity_pb2.ConsentChanged | identity_pb2.ProfileAgeBandChanged, envelope: Envelope
    ) -> None:
        if fact.user_id:
            await self._profiles.apply(
                fact.user_id,
                ProfileState.PRESENT,
                int(envelope.aggregate_version),
                awaiting_guardian=fact.consent_state == AWAITING_GUARDIAN,
            )

    async def on_account_deleted(self, deleted: identity_pb2.AccountDeleted, envelope: Envelope) -> None:
        if not deleted.user_id:
            return
        # The fact first, then the seats: an AcceptInvite racing with this either wrote its seats
        # before the seats are read below (they end too) or finds the account deleted.
        await self._profiles.apply(deleted.user_id, ProfileState.DELETED, int(envelope.aggregate_version))
        vacated = await self._memberships.account_deleted(deleted.user_id)
        log.info("account_memberships_ended", event_id=envelope.event_id)
        for school_id in vacated:
            # A warning: someone must act (an operator appoints a successor); ids only, no person.
            log.warning("school_admin_seat_vacated", school_id=school_id, event_id=envelope.event_id)

    async def on_guardian_linked(self, linked: identity_pb2.GuardianLinked, envelope: Envelope) -> None:
        await self._guardians.apply(
            linked.guardian_user_id,
            linked.child_user_id,
            linked=True,
            confirmed=linked.confirmed,
            version=int(envelope.aggregate_version),
        )

    async def on_guardian_unlinked(self, unlinked: identity_pb2.GuardianUnlinked, envelope: Envelope) -> None:
        await self._guardians.apply(
            unlinked.guardian_user_id,
            unlinked.child_user_id,
            linked=False,
            confirmed=False,
            version=int(envelope.aggregate_version),
        )
