"""Identity's enums ↔ parta.identity.v1, shared by the API's responses and the outbox events
(neither layer imports the other)."""

from __future__ import annotations

from parta.identity.v1 import events_pb2

from identity.domain import events as ev

CONSENT_TO_PB = {
    ev.ConsentState.UNSPECIFIED: events_pb2.CONSENT_STATE_UNSPECIFIED,
    ev.ConsentState.NOT_REQUIRED: events_pb2.CONSENT_STATE_NOT_REQUIRED,
    ev.ConsentState.AWAITING_GUARDIAN: events_pb2.CONSENT_STATE_AWAITING_GUARDIAN,
    ev.ConsentState.GRANTED: events_pb2.CONSENT_STATE_GRANTED,
}

AGE_BAND_TO_PB = {
    ev.AgeBand.UNSPECIFIED: events_pb2.AGE_BAND_UNSPECIFIED,
    ev.AgeBand.BELOW_CONSENT_AGE: events_pb2.AGE_BAND_BELOW_CONSENT_AGE,
    ev.AgeBand.MINOR: events_pb2.AGE_BAND_MINOR,
    ev.AgeBand.ADULT: events_pb2.AGE_BAND_ADULT,
}
