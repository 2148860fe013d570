"""Family-scoped export (issue 17): RequestDataExport authorizes and starts an export; chat
assembles it from the services' parts (docs/identity.md, "Family export")."""

from __future__ import annotations

import uuid
from datetime import timedelta

from parta_common.clock import Clock
from parta_common.errors import ResourceExhausted, Violations
from parta_common.mongo import idempotent_id
from parta_common.validation import check_request_id, require_id

from identity.app.policy import IdentityPolicy
from identity.app.ports import ExportRepository, UserRepository
from identity.domain.exports import EXPORTS_PER_DAY, ExportRequest, authorize_export, profile_part
from identity.domain.users import User


class Exports:
    def __init__(self, *, users: UserRepository, exports: ExportRepository, clock: Clock, policy: IdentityPolicy):
        self.users = users
        self.exports = exports
        self.clock = clock
        self.policy = policy

    async def request(self, caller: str, subject_user_id: str, request_id: str) -> ExportRequest:
        subject_id = subject_user_id or caller
        subject_id = require_id(subject_id, "subject_user_id", uuid=True)
        violations = Violations()
        check_request_id(violations, request_id, required=False)
        violations.raise_if_any()
        now = self.clock.now()
        subject = await self.users.get(subject_id)
        notify = authorize_export(caller, subject, now.date(), self.policy.consent_age)
        assert subject is not None
        export_id = idempotent_id("data-export", caller, request_id) if request_id else str(uuid.uuid4())
        if request_id and (earlier := await self.exports.get(export_id)) is not None:
            return earlier  # a retry: the same export, whatever happened since
        if await self.exports.count_since(caller, now - timedelta(days=1)) >= EXPORTS_PER_DAY:
            raise ResourceExhausted("too many exports today", reason="EXPORT_RATE_LIMITED", retry_after_seconds=3600.0)
        request = ExportRequest(export_id, caller, subject.id, now, notify)
        return await self.exports.add(request, await self._profile(subject))

    async def _profile(self, subject: User) -> dict[str, object]:
        children = [c for c in await self.users.children_of(subject.id) if not c.deleted and c.is_child_of(subject.id)]
        guardians = await self.users.many([g.guardian_id for g in subject.linked_guardians()])
        return profile_part(subject, children, [g for g in guardians if not g.deleted])
