"""Consumer of school.membership.v1: who shares a school with whom, and which parent is bound to
which child. Idempotent: each membership is upserted by id and older versions are ignored."""

from __future__ import annotations

import structlog
from parta.common.v1 import envelope_pb2
from parta.school.v1 import events_pb2 as school_pb2
from parta_common.events.consumer import EventConsumer
from parta_common.events.envelope import unpack
from parta_common.kit import Infrastructure
from parta_common.settings import ServiceSettings

from identity.adapters.mongo import MongoMembershipDirectory

log = structlog.get_logger("identity.consumers")

MEMBERSHIP_TOPIC = "school.membership.v1"


class MembershipProjector:
    def __init__(self, directory: MongoMembershipDirectory):
        self._directory = directory

    async def handle(self, envelope: envelope_pb2.EventEnvelope) -> None:
        event_type = envelope.event_type
        if event_type in (
            school_pb2.MemberJoined.DESCRIPTOR.full_name,
            school_pb2.MemberRoleChanged.DESCRIPTOR.full_name,
        ):
            cls = school_pb2.MemberJoined if event_type.endswith("MemberJoined") else school_pb2.MemberRoleChanged
            membership = unpack(envelope, cls).membership  # type: ignore[attr-defined]
            active = True
        elif event_type == school_pb2.MemberLeft.DESCRIPTOR.full_name:
            membership = unpack(envelope, school_pb2.MemberLeft).membership  # type: ignore[attr-defined]
            active = False
        else:
            return  # other membership events (verification, join requests) do not concern identity
        if not membership.membership_id or not membership.user_id or not membership.school_id:
            log.warning("membership_event_incomplete", event_id=envelope.event_id)
            return
        await self._directory.apply(
            membership.membership_id,
            int(envelope.aggregate_version),
            school_id=membership.school_id,
            user_id=membership.user_id,
            active=active,
            is_parent=membership.school_role == school_pb2.SCHOOL_ROLE_PARENT
            or membership.class_role == school_pb2.CLASS_ROLE_PARENT,
            child_user_id=membership.child_user_id,
            is_admin=membership.school_role == school_pb2.SCHOOL_ROLE_ADMIN,
        )


def membership_consumer(
    settings: ServiceSettings, infra: Infrastructure, projector: MembershipProjector, *, group: str
) -> EventConsumer:
    return EventConsumer(
        bootstrap=settings.kafka_bootstrap,
        group_id=f"{settings.kafka_topic_prefix}{group}",
        topics=[settings.topic(MEMBERSHIP_TOPIC)],
        handler=projector.handle,
        dead_letters=infra.producer,
        metrics=infra.metrics,
        tracer=infra.tracer,
        client_id=f"identity-{settings.replica_id or 'main'}",
    )
