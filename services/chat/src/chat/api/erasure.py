"""identity's AccountDeleted → chat's erasure of the account (app/erasure.py). Registered on the
provisioning consumer's router (one consumer group for identity's topic), so it runs in order with
the person's other identity events. Idempotent: a replayed or redelivered AccountDeleted finds the
erasure done (or resumes one a crash interrupted) and publishes no second report."""

from __future__ import annotations

import structlog
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity

from chat.app.erasure import Erasure

log = structlog.get_logger("chat.erasure")


class ErasureHandler:
    def __init__(self, erasure: Erasure):
        self._erasure = erasure

    async def on_account_deleted(self, msg: identity.AccountDeleted, envelope: envelope_pb2.EventEnvelope) -> None:
        if not msg.user_id:
            return
        requested_by = msg.deleted_by_user_id or msg.user_id
        counts = await self._erasure.erase(msg.user_id, requested_by, envelope.aggregate_version)
        # Counts and the event id only: no names, no ids of people in the log.
        log.info(
            "account_erased" if counts is not None else "account_erased_before",
            event_id=envelope.event_id,
            **(counts or {}),
        )
