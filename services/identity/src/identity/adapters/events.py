"""Domain events → parta.identity.v1 protobufs in envelopes on topic identity.user.v1."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from google.protobuf.message import Message
from parta.identity.v1 import events_pb2
from parta_common.erasure import report_payload
from parta_common.events import topics
from parta_common.events.envelope import OutboxRecord
from parta_common.events.writer import Aggregate, OutboxWriter
from parta_common.timestamps import ts

from identity.codecs import AGE_BAND_TO_PB, CONSENT_TO_PB
from identity.domain import events as ev

PRODUCER = "identity"


def snapshot_pb(s: ev.ProfileSnapshot) -> events_pb2.ProfileSnapshot:
    return events_pb2.ProfileSnapshot(
        user_id=s.user_id,
        first_name=s.first_name,
        last_name=s.last_name,
        patronymic=s.patronymic,
        is_minor=s.is_minor,
        consent_state=CONSENT_TO_PB[s.consent_state],
        age_band=AGE_BAND_TO_PB[s.age_band],
    )


def to_message(event: ev.DomainEvent, token_ttl_seconds: int = 300) -> tuple[Message, str]:
    """The payload and the user id it is about (the record key, so one user's events stay ordered).
    Guardian events are about the child: the link lives on the child's document. Revocations carry
    when the last access token they end expires (`token_ttl_seconds` after the revocation)."""
    token_life = timedelta(seconds=token_ttl_seconds)
    match event:
        case ev.UserRegistered():
            return events_pb2.UserRegistered(
                user_id=event.user_id, registered_at=ts(event.registered_at)
            ), event.user_id
        case ev.ProfileCreated():
            return events_pb2.ProfileCreated(profile=snapshot_pb(event.profile)), event.profile.user_id
        case ev.ProfileUpdated():
            return events_pb2.ProfileUpdated(profile=snapshot_pb(event.profile)), event.profile.user_id
        case ev.ConsentChanged():
            return (
                events_pb2.ConsentChanged(
                    user_id=event.user_id,
                    consent_state=CONSENT_TO_PB[event.consent_state],
                    guardian_user_id=event.guardian_user_id,
                ),
                event.user_id,
            )
        case ev.ProfileAgeBandChanged():
            return (
                events_pb2.ProfileAgeBandChanged(
                    user_id=event.user_id,
                    age_band=AGE_BAND_TO_PB[event.age_band],
                    previous_age_band=AGE_BAND_TO_PB[event.previous_age_band],
                    consent_state=CONSENT_TO_PB[event.consent_state],
                ),
                event.user_id,
            )
        case ev.GuardianLinked():
            return (
                events_pb2.GuardianLinked(
                    guardian_user_id=event.guardian_user_id,
                    child_user_id=event.child_user_id,
                    confirmed=event.confirmed,
                ),
                event.child_user_id,
            )
        case ev.GuardianUnlinked():
            return (
                events_pb2.GuardianUnlinked(
                    guardian_user_id=event.guardian_user_id,
                    child_user_id=event.child_user_id,
                    unlinked_by_user_id=event.unlinked_by_user_id,
                ),
                event.child_user_id,
            )
        case ev.AccountDeleted():
            return (
                events_pb2.AccountDeleted(
                    user_id=event.user_id,
                    deleted_at=ts(event.deleted_at),
                    expires_at=ts(event.deleted_at + token_life),
                    deleted_by_user_id=event.deleted_by_user_id,
                ),
                event.user_id,
            )
        case ev.BirthDateChangeRequested():
            return (
                events_pb2.BirthDateChangeRequested(
                    user_id=event.user_id,
                    age_band=AGE_BAND_TO_PB[event.age_band],
                    requested_age_band=AGE_BAND_TO_PB[event.requested_age_band],
                ),
                event.user_id,
            )
        case ev.BirthDateChangeConfirmed():
            return (
                events_pb2.BirthDateChangeConfirmed(
                    user_id=event.user_id,
                    confirmed_by_user_id=event.confirmed_by_user_id,
                    confirmed_as=event.confirmed_as,
                    previous_age_band=AGE_BAND_TO_PB[event.previous_age_band],
                    age_band=AGE_BAND_TO_PB[event.age_band],
                ),
                event.user_id,
            )
        case ev.BirthDateChangeDeclined():
            return (
                events_pb2.BirthDateChangeDeclined(
                    user_id=event.user_id, declined_by_user_id=event.declined_by_user_id, declined_as=event.declined_as
                ),
                event.user_id,
            )
        case ev.BirthDateCorrected():
            return (
                events_pb2.BirthDateCorrected(
                    user_id=event.user_id,
                    corrected_by_user_id=event.corrected_by_user_id,
                    age_band=AGE_BAND_TO_PB[event.age_band],
                ),
                event.user_id,
            )
        case ev.SessionRevoked():
            return (
                events_pb2.SessionRevoked(
                    user_id=event.user_id,
                    session_id=event.session_id,
                    expires_at=ts(event.revoked_at + token_life),
                    reason=event.reason,
                ),
                event.user_id,
            )
        case ev.ErasureReported():
            return (
                report_payload(event.user_id, event.service, event.counts, event.requested_by_user_id, event.erased_at),
                event.user_id,
            )
    raise TypeError(f"unknown event {type(event).__name__}")


class UserEventMapper:
    """Builds outbox records for a user document's events; versions continue the document's."""

    def __init__(self, topic: Callable[[str], str], now: Callable[[], datetime], *, token_ttl_seconds: int = 300):
        self._writer = OutboxWriter(PRODUCER, topic, now)
        self._token_ttl = token_ttl_seconds

    def records(
        self,
        aggregate_id: str,
        first_version: int,
        events: Sequence[ev.DomainEvent],
        *,
        aggregate_type: str = "user",
    ) -> list[OutboxRecord]:
        return [
            self._writer.record(
                to_message(event, self._token_ttl)[0],
                # Erasure reports go to their own topic (every service's, parta_common.erasure).
                topic=topics.ERASURE_REPORT if isinstance(event, ev.ErasureReported) else topics.IDENTITY_USER,
                aggregate=Aggregate(aggregate_type, aggregate_id, first_version + offset),
            )
            for offset, event in enumerate(events)
        ]
