"""Consumer of identity.user.v1: AccountDeleted ends every membership (and may leave a school's admin seat
vacant); profile facts and guardian links feed projections.
Idempotent: ending an ended membership is a no-op; projections keep the newest version."""

from __future__ import annotations

import structlog
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity_pb2
from parta_common.events.envelope import unpack

from school.app.memberships import Memberships
from school.app.ports import GuardianDirectory, ProfileDirectory
from school.domain.profiles import ProfileState

log = structlog.get_logger("school.consumers")

IDENTITY_TOPIC = "identity.user.v1"
_PROFILE_EVENTS = {
    identity_pb2.ProfileCreated.DESCRIPTOR.full_name: identity_pb2.ProfileCreated,
    identity_pb2.ProfileUpdated.DESCRIPTOR.full_name: identity_pb2.ProfileUpdated,
}
# Both carry the consent state that follows the change (the rule book's AWAITING_GUARDIAN).
_CONSENT_EVENTS = {
    identity_pb2.ConsentChanged.DESCRIPTOR.full_name: identity_pb2.ConsentChanged,
    identity_pb2.ProfileAgeBandChanged.DESCRIPTOR.full_name: identity_pb2.ProfileAgeBandChanged,
}


class IdentityEventHandler:
    def __init__(self, memberships: Memberships, guardians: GuardianDirectory, profiles: ProfileDirectory):
        self._memberships = memberships
        self._guardians = guardians
        self._profiles = profiles

    async def handle(self, envelope: envelope_pb2.EventEnvelope) -> None:
        kind = envelope.event_type
        if kind in _PROFILE_EVENTS:
            snapshot = unpack(envelope, _PROFILE_EVENTS[kind]).profile  # type: ignore[attr-defined]
            if snapshot.user_id:
                await self._profiles.apply(
                    snapshot.user_id,
                    ProfileState.PRESENT,
                    int(envelope.aggregate_version),
                    awaiting_guardian=snapshot.consent_state == identity_pb2.CONSENT_STATE_AWAITING_GUARDIAN,
                )
        elif kind in _CONSENT_EVENTS:
            fact = unpack(envelope, _CONSENT_EVENTS[kind])
            if fact.user_id:  # type: ignore[attr-defined]
                await self._profiles.apply(
                    fact.user_id,  # type: ignore[attr-defined]
                    ProfileState.PRESENT,
                    int(envelope.aggregate_version),
                    awaiting_guardian=fact.consent_state == identity_pb2.CONSENT_STATE_AWAITING_GUARDIAN,  # type: ignore[attr-defined]
                )
        elif kind == identity_pb2.AccountDeleted.DESCRIPTOR.full_name:
            deleted = unpack(envelope, identity_pb2.AccountDeleted)
            if deleted.user_id:  # type: ignore[attr-defined]
                # The fact first, then the seats: an AcceptInvite racing with this either wrote its seats
                # before the seats are read below (they end too) or finds the account deleted.
                await self._profiles.apply(
                    deleted.user_id,  # type: ignore[attr-defined]
                    ProfileState.DELETED,
                    int(envelope.aggregate_version),
                )
                vacated = await self._memberships.account_deleted(deleted.user_id)  # type: ignore[attr-defined]
                log.info("account_memberships_ended", event_id=envelope.event_id)
                for school_id in vacated:
                    # A warning: someone must act (an operator appoints a successor); ids only, no person.
                    log.warning("school_admin_seat_vacated", school_id=school_id, event_id=envelope.event_id)
        elif kind == identity_pb2.GuardianLinked.DESCRIPTOR.full_name:
            linked = unpack(envelope, identity_pb2.GuardianLinked)
            await self._guardians.apply(
                linked.guardian_user_id,  # type: ignore[attr-defined]
                linked.child_user_id,  # type: ignore[attr-defined]
                linked=True,
                confirmed=linked.confirmed,  # type: ignore[attr-defined]
                version=int(envelope.aggregate_version),
            )
        elif kind == identity_pb2.GuardianUnlinked.DESCRIPTOR.full_name:
            unlinked = unpack(envelope, identity_pb2.GuardianUnlinked)
            await self._guardians.apply(
                unlinked.guardian_user_id,  # type: ignore[attr-defined]
                unlinked.child_user_id,  # type: ignore[attr-defined]
                linked=False,
                confirmed=False,
                version=int(envelope.aggregate_version),
            )
