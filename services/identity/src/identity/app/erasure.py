"""Erasure (issue 17): a guardian deletes a young child's account; every service's erasure report
is gathered here for the guardian who asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from parta_common.clock import Clock
from parta_common.errors import InvalidArgument, NotFound
from parta_common.validation import require_id

from identity.app.account import Accounts
from identity.app.policy import IdentityPolicy
from identity.app.ports import ErasureReports, UserRepository
from identity.domain.erasure import REPORTING_SERVICES, ServiceReport, check_guardian_may_delete


@dataclass(frozen=True)
class ErasureReport:
    user_id: str
    deleted_at: datetime
    services: list[ServiceReport]

    @property
    def complete(self) -> bool:
        return set(REPORTING_SERVICES) <= {s.service for s in self.services}


@dataclass
class Erasures:
    users: UserRepository
    accounts: Accounts
    reports: ErasureReports
    clock: Clock
    policy: IdentityPolicy

    async def delete_child(self, guardian_id: str, child_id: str, confirm: bool) -> datetime:
        child_id = require_id(child_id, "child_user_id", uuid=True)
        if not confirm:
            raise InvalidArgument.field("confirm", "must be true to delete the account")
        child = await self.users.get(child_id)
        check_guardian_may_delete(child, guardian_id, self.clock.now().date(), self.policy.consent_age)
        await self.accounts.erase(child_id, guardian_id)
        erased = await self.users.get(child_id)
        assert erased is not None and erased.deleted_at is not None
        return erased.deleted_at

    async def report(self, caller_id: str, user_id: str) -> ErasureReport:
        """For the one who asked for the erasure (a guardian; the person themselves cannot sign in
        any more). Anyone else, or an account not erased: NOT_FOUND."""
        user_id = require_id(user_id, "user_id", uuid=True)
        user = await self.users.get(user_id)
        if user is None or user.deleted_at is None or user.deleted_by != caller_id or caller_id == user_id:
            raise NotFound("no erasure report for this account", reason="ERASURE_REPORT_NOT_FOUND")
        found = sorted(
            await self.reports.of(user_id),
            key=lambda r: (
                REPORTING_SERVICES.index(r.service) if r.service in REPORTING_SERVICES else len(REPORTING_SERVICES)
            ),
        )
        return ErasureReport(user_id, user.deleted_at, found)

    async def record(self, report: ServiceReport) -> None:
        await self.reports.record(report)
