"""Consumer of school.membership.v1: who shares a school with whom, and which parent is bound to
which child. Idempotent: each membership is upserted by id and older versions are ignored."""

from __future__ import annotations

import structlog
from parta.common.v1 import envelope_pb2
from parta.school.v1 import events_pb2 as school_pb2
from parta_common.events import topics
from parta_common.events.consumer import EventConsumer
from parta_common.events.router import EventRouter
from parta_common.kit import Infrastructure
from parta_common.settings import ServiceSettings

from identity.app.ports import MembershipFact, MembershipProjection

log = structlog.get_logger("identity.consumers")

MembershipEvent = school_pb2.MemberJoined | school_pb2.MemberRoleChanged | school_pb2.MemberLeft


class MembershipProjector:
    def __init__(self, projection: MembershipProjection):
        self._projection = projection

    def router(self) -> EventRouter:
        # Other membership events (verification, join requests) do not concern identity.
        router = EventRouter()
        router.register(school_pb2.MemberJoined, self.on_membership)
        router.register(school_pb2.MemberRoleChanged, self.on_membership)
        router.register(school_pb2.MemberLeft, self.on_membership)
        return router

    async def on_membership(self, event: MembershipEvent, envelope: envelope_pb2.EventEnvelope) -> None:
        m = event.membership
        if not m.membership_id or not m.user_id or not m.school_id:
            log.warning("membership_event_incomplete", event_id=envelope.event_id)
            return
        fact = MembershipFact(
            membership_id=m.membership_id,
            school_id=m.school_id,
            user_id=m.user_id,
            active=not isinstance(event, school_pb2.MemberLeft),
            is_parent=m.school_role == school_pb2.SCHOOL_ROLE_PARENT or m.class_role == school_pb2.CLASS_ROLE_PARENT,
            child_user_id=m.child_user_id,
            is_admin=m.school_role == school_pb2.SCHOOL_ROLE_ADMIN,
        )
        await self._projection.apply(fact, int(envelope.aggregate_version))


def membership_consumer(
    settings: ServiceSettings, infra: Infrastructure, projector: MembershipProjector, *, group: str
) -> EventConsumer:
    return EventConsumer(
        bootstrap=settings.kafka_bootstrap,
        group_id=f"{settings.kafka_topic_prefix}{group}",
        topics=[settings.topic(topics.SCHOOL_MEMBERSHIP)],
        handler=projector.router(),
        dead_letters=infra.producer,
        metrics=infra.metrics,
        tracer=infra.tracer,
        client_id=f"identity-{settings.replica_id or 'main'}",
    )
