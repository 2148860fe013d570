"""identity's AccountDeleted → school's erasure of the account (app/erasure.py), on the identity
consumer's router. Idempotent: a replay finds the run done and publishes no second report."""

from __future__ import annotations

import structlog
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity_pb2

from school.app.erasure import Erasure

log = structlog.get_logger("school.erasure")


class ErasureHandler:
    def __init__(self, erasure: Erasure):
        self._erasure = erasure

    async def on_account_deleted(
        self, deleted: identity_pb2.AccountDeleted, envelope: envelope_pb2.EventEnvelope
    ) -> None:
        if not deleted.user_id:
            return
        requested_by = deleted.deleted_by_user_id or deleted.user_id
        counts, vacated = await self._erasure.erase(deleted.user_id, requested_by, int(envelope.aggregate_version))
        log.info(
            "account_erased" if counts is not None else "account_erased_before",
            event_id=envelope.event_id,
            **(counts or {}),
        )
        for school_id in vacated:
            # A warning: someone must act (an operator appoints a successor); ids only, no person.
            log.warning("school_admin_seat_vacated", school_id=school_id, event_id=envelope.event_id)
