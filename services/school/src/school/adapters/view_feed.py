"""Keeps this replica's access view honest about other replicas' writes: tails school's own topics and
identity.user.v1 from the end (no consumer group: every replica reads every partition) and forgets the
rows each event names. It only ever forgets, so a lost or repeated record costs a store read at most;
the view's expiry bounds staleness while Kafka is away."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer
from parta.identity.v1 import events_pb2 as identity_pb2
from parta.school.v1 import events_pb2 as ev
from parta_common.events.envelope import parse_envelope, unpack

from school.app.access import AccessView
from school.domain.profiles import ProfileFacts, ProfileState

log = structlog.get_logger("school.view_feed")

_MEMBERSHIP = {
    ev.MemberJoined.DESCRIPTOR.full_name: ev.MemberJoined,
    ev.MemberRoleChanged.DESCRIPTOR.full_name: ev.MemberRoleChanged,
    ev.MemberLeft.DESCRIPTOR.full_name: ev.MemberLeft,
}
_PROFILE = {
    identity_pb2.ProfileCreated.DESCRIPTOR.full_name: identity_pb2.ProfileCreated,
    identity_pb2.ProfileUpdated.DESCRIPTOR.full_name: identity_pb2.ProfileUpdated,
}
# Both carry the consent state that follows the change.
_CONSENT = {
    identity_pb2.ConsentChanged.DESCRIPTOR.full_name: identity_pb2.ConsentChanged,
    identity_pb2.ProfileAgeBandChanged.DESCRIPTOR.full_name: identity_pb2.ProfileAgeBandChanged,
}


def _awaiting(message: Any) -> bool:
    return bool(message.consent_state == identity_pb2.CONSENT_STATE_AWAITING_GUARDIAN)


_STAFF = {ev.SCHOOL_ROLE_ADMIN, ev.SCHOOL_ROLE_TEACHER}
_SCHOOL = {
    ev.SchoolCreated.DESCRIPTOR.full_name: ev.SchoolCreated,
    ev.SchoolUpdated.DESCRIPTOR.full_name: ev.SchoolUpdated,
    ev.AdminSeatVacated.DESCRIPTOR.full_name: ev.AdminSeatVacated,
    ev.AdminSeatFilled.DESCRIPTOR.full_name: ev.AdminSeatFilled,
    ev.AcademicYearStarted.DESCRIPTOR.full_name: ev.AcademicYearStarted,
}
_CLASS = {
    ev.ClassCreated.DESCRIPTOR.full_name: ev.ClassCreated,
    ev.ClassUpdated.DESCRIPTOR.full_name: ev.ClassUpdated,
    ev.ClassArchived.DESCRIPTOR.full_name: ev.ClassArchived,
}


def forget_for(view: AccessView, raw: bytes) -> None:
    """Forget what one record names; records of other kinds pass by."""
    envelope = parse_envelope(raw)
    kind = envelope.event_type
    version = int(envelope.aggregate_version)
    if kind in _MEMBERSHIP:
        m = unpack(envelope, _MEMBERSHIP[kind]).membership  # type: ignore[attr-defined]
        view.forget_member(m.user_id, m.school_id)
        if m.school_role in _STAFF:
            # The admin and verification lists live on the school document and change (without a school
            # event) only together with staff seats; student and parent seats leave the school cached.
            view.forget_school(m.school_id)
    elif kind == ev.StaffVerified.DESCRIPTOR.full_name:
        verified = unpack(envelope, ev.StaffVerified)
        view.forget_member(verified.user_id, verified.school_id)  # type: ignore[attr-defined]
        view.forget_school(verified.school_id)  # type: ignore[attr-defined]
    elif kind in _SCHOOL:
        view.forget_school(unpack(envelope, _SCHOOL[kind]).school.school_id)  # type: ignore[attr-defined]
    elif kind in _CLASS:
        view.forget_class(getattr(unpack(envelope, _CLASS[kind]), "class").class_id)
    elif kind == identity_pb2.AccountDeleted.DESCRIPTOR.full_name:
        user_id = unpack(envelope, identity_pb2.AccountDeleted).user_id  # type: ignore[attr-defined]
        view.forget_user(user_id)
        view.learned_profile(user_id, ProfileFacts(ProfileState.DELETED, False, version))
    elif kind in _PROFILE:
        profile = unpack(envelope, _PROFILE[kind]).profile  # type: ignore[attr-defined]
        view.learned_profile(profile.user_id, ProfileFacts(ProfileState.PRESENT, _awaiting(profile), version))
    elif kind in _CONSENT:
        fact = unpack(envelope, _CONSENT[kind])
        view.learned_profile(fact.user_id, ProfileFacts(ProfileState.PRESENT, _awaiting(fact), version))  # type: ignore[attr-defined]


class AccessViewFeed:
    def __init__(self, bootstrap: str, topics: Sequence[str], view: AccessView, *, client_id: str):
        self._bootstrap = bootstrap
        self._topics = list(topics)
        self._view = view
        self._client_id = client_id
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            metadata_max_age_ms=5000,  # topics created after start (a fresh deployment) are found soon
            client_id=self._client_id,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="school-access-view-feed")

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=1000, max_records=500)
            except asyncio.CancelledError:
                raise
            except Exception:  # the view expires entries meanwhile; keep tailing
                log.exception("access_view_feed_failed")
                await asyncio.sleep(1.0)
                continue
            for records in batch.values():
                for record in records:
                    try:
                        forget_for(self._view, record.value)
                    except Exception:  # a record we cannot read names nothing we could forget
                        log.warning("access_view_feed_unreadable", topic=record.topic, offset=record.offset)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
