"""Keeps this replica's access view honest about other replicas' writes: tails school's own topics and
identity.user.v1 from the end (no consumer group: every replica reads every partition) and forgets the
rows each event names. It only ever forgets, so a lost or repeated record costs a store read at most;
the view's expiry bounds staleness while Kafka is away."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaConsumer
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity_pb2
from parta.school.v1 import events_pb2 as ev
from parta_common.events.envelope import parse_envelope
from parta_common.events.router import EventRouter

from school.app.access import AccessView
from school.domain.profiles import ProfileFacts, ProfileState

log = structlog.get_logger("school.view_feed")

Envelope = envelope_pb2.EventEnvelope
_STAFF = {ev.SCHOOL_ROLE_ADMIN, ev.SCHOOL_ROLE_TEACHER}
_AWAITING = identity_pb2.CONSENT_STATE_AWAITING_GUARDIAN


class ViewForgetter:
    """What each event names, forgotten from this replica's access view; other events pass by."""

    def __init__(self, view: AccessView):
        self._view = view

    def router(self) -> EventRouter:
        router = EventRouter()
        router.register(ev.MemberJoined, self.on_membership)
        router.register(ev.MemberRoleChanged, self.on_membership)
        router.register(ev.MemberLeft, self.on_membership)
        router.register(ev.StaffVerified, self.on_staff_verified)
        router.register(ev.SchoolCreated, self.on_school)
        router.register(ev.SchoolUpdated, self.on_school)
        router.register(ev.AdminSeatVacated, self.on_school)
        router.register(ev.AdminSeatFilled, self.on_school)
        router.register(ev.AcademicYearStarted, self.on_school)
        router.register(ev.ClassCreated, self.on_class)
        router.register(ev.ClassUpdated, self.on_class)
        router.register(ev.ClassArchived, self.on_class)
        router.register(identity_pb2.AccountDeleted, self.on_account_deleted)
        router.register(identity_pb2.ProfileCreated, self.on_profile)
        router.register(identity_pb2.ProfileUpdated, self.on_profile)
        # Both carry the consent state that follows the change.
        router.register(identity_pb2.ConsentChanged, self.on_consent)
        router.register(identity_pb2.ProfileAgeBandChanged, self.on_consent)
        return router

    async def on_membership(
        self, event: ev.MemberJoined | ev.MemberRoleChanged | ev.MemberLeft, envelope: Envelope
    ) -> None:
        m = event.membership
        self._view.forget_member(m.user_id, m.school_id)
        if m.school_role in _STAFF:
            # The admin and verification lists live on the school document and change (without a school
            # event) only together with staff seats; student and parent seats leave the school cached.
            self._view.forget_school(m.school_id)

    async def on_staff_verified(self, verified: ev.StaffVerified, envelope: Envelope) -> None:
        self._view.forget_member(verified.user_id, verified.school_id)
        self._view.forget_school(verified.school_id)

    async def on_school(
        self,
        event: ev.SchoolCreated | ev.SchoolUpdated | ev.AdminSeatVacated | ev.AdminSeatFilled | ev.AcademicYearStarted,
        envelope: Envelope,
    ) -> None:
        self._view.forget_school(event.school.school_id)

    async def on_class(self, event: ev.ClassCreated | ev.ClassUpdated | ev.ClassArchived, envelope: Envelope) -> None:
        self._view.forget_class(getattr(event, "class").class_id)  # a Python keyword as a field name

    async def on_account_deleted(self, deleted: identity_pb2.AccountDeleted, envelope: Envelope) -> None:
        self._view.forget_user(deleted.user_id)
        facts = ProfileFacts(ProfileState.DELETED, False, int(envelope.aggregate_version))
        self._view.learned_profile(deleted.user_id, facts)

    async def on_profile(
        self, event: identity_pb2.ProfileCreated | identity_pb2.ProfileUpdated, envelope: Envelope
    ) -> None:
        awaiting = event.profile.consent_state == _AWAITING
        facts = ProfileFacts(ProfileState.PRESENT, awaiting, int(envelope.aggregate_version))
        self._view.learned_profile(event.profile.user_id, facts)

    async def on_consent(
        self, fact: identity_pb2.ConsentChanged | identity_pb2.ProfileAgeBandChanged, envelope: Envelope
    ) -> None:
        awaiting = fact.consent_state == _AWAITING
        self._view.learned_profile(
            fact.user_id, ProfileFacts(ProfileState.PRESENT, awaiting, int(envelope.aggregate_version))
        )


async def forget_for(view: AccessView, raw: bytes) -> None:
    """Forget what one record names; records of other kinds pass by."""
    await ViewForgetter(view).router()(parse_envelope(raw))


class AccessViewFeed:
    def __init__(self, bootstrap: str, topics: Sequence[str], view: AccessView, *, client_id: str):
        self._bootstrap = bootstrap
        self._topics = list(topics)
        self._view = view
        self._forget = ViewForgetter(view).router()
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
                        await self._forget(parse_envelope(record.value))
                    except Exception:  # a record we cannot read names nothing we could forget
                        log.warning("access_view_feed_unreadable", topic=record.topic, offset=record.offset)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
