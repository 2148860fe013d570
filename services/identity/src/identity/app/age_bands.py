"""The periodic age-band check: people whose birthday crossed the consent age or 18 since their
band was stored get the new band, consent and events (see User.refresh_age_band)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import structlog
from parta_common.clock import Clock
from parta_common.errors import Aborted
from parta_common.retries import with_retries

from identity.app.policy import IdentityPolicy
from identity.app.ports import UserRepository
from identity.domain.profiles import age_band_rule

log = structlog.get_logger("identity.age_bands")


@dataclass(frozen=True)
class AgeBandReport:
    checked: int
    changed: int


class AgeBands:
    def __init__(
        self, *, users: UserRepository, clock: Clock, policy: IdentityPolicy, batch: int = 200, max_batches: int = 50
    ):
        self.users = users
        self.clock = clock
        self.policy = policy
        # Bounded work per run: whatever is left (a first run over a large user base, or someone
        # whose write keeps conflicting) is found again by the next run, since due-ness is stored.
        self.batch = batch
        self.max_batches = max_batches

    async def refresh_due(self) -> AgeBandReport:
        today = self.clock.now().date()
        consent_age = self.policy.consent_age
        rule = age_band_rule(consent_age)
        checked = changed = 0
        for _ in range(self.max_batches):
            due = await self.users.age_band_due(today, rule, self.batch)
            for found in due:
                checked += 1
                try:
                    changed += await self._refresh(found.id, today, consent_age)
                except Aborted:
                    log.warning("age_band_refresh_conflict", user_id=found.id)
            if len(due) < self.batch:
                break
        return AgeBandReport(checked, changed)

    async def _refresh(self, user_id: str, today: date, consent_age: int) -> int:
        async def attempt() -> int:
            user = await self.users.get(user_id)
            if user is None or not user.age_band_due(today, consent_age):
                return 0  # another replica (or a profile update) got there first
            moved = user.refresh_age_band(today, consent_age)
            await self.users.save(user)
            return int(moved)

        return await with_retries(attempt)
