"""Erasure of a deleted account in school (issue 17), run on identity's AccountDeleted: the account
is marked deleted in the profile projection (AcceptInvite and joining refuse it from then on), every
membership ends (MemberLeft "account_deleted"; a last admin's seat falls vacant), and the counts go
out as school's erasure report (parta_common.erasure). Names are identity's: school keeps none."""

from __future__ import annotations

from dataclasses import dataclass

from parta_common.clock import Clock
from parta_common.erasure import ErasureLedger

from school.app.memberships import Memberships
from school.app.ports import MembershipRepository, ProfileDirectory
from school.domain.profiles import ProfileState

SERVICE = "school"


@dataclass
class Erasure:
    ledger: ErasureLedger
    memberships: Memberships
    seats: MembershipRepository
    profiles: ProfileDirectory
    clock: Clock

    async def erase(self, user_id: str, requested_by: str, version: int) -> tuple[dict[str, int] | None, list[str]]:
        """(the counts reported — None when this was done before —, the schools whose admin seat
        this call left vacant)."""
        # The fact first, then the seats: an AcceptInvite racing with this either wrote its seats
        # before the seats are read below (they end too) or finds the account deleted.
        await self.profiles.apply(user_id, ProfileState.DELETED, version)
        run = await self.ledger.start(user_id, requested_by, self.clock.now())
        if run is None:
            return None, []
        seats = len(await self.seats.of_user(user_id))
        vacated = await self.memberships.account_deleted(user_id)
        await self.ledger.add(user_id, "memberships", seats)
        await self.ledger.add(user_id, "admin_seats_vacated", len(vacated))
        return await self.ledger.finish(user_id, self.clock.now()), vacated
