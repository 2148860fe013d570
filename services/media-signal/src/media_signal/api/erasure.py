"""identity's AccountDeleted → media-signal's erasure of the account (app/erasure.py), after the
directory projection marked the person deleted (api/consumers.py). Idempotent: a replay finds the
run done and publishes no second report."""

from __future__ import annotations

import structlog
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity_pb2

from media_signal.app.erasure import Erasure

log = structlog.get_logger("media_signal.erasure")


class ErasureHandler:
    def __init__(self, erasure: Erasure):
        self._erasure = erasure

    async def on_account_deleted(
        self, event: identity_pb2.AccountDeleted, envelope: envelope_pb2.EventEnvelope
    ) -> None:
        if not event.user_id:
            return
        counts = await self._erasure.erase(event.user_id, event.deleted_by_user_id or event.user_id)
        log.info(
            "account_erased" if counts is not None else "account_erased_before",
            event_id=envelope.event_id,
            **(counts or {}),
        )
