"""Composition root: settings → logging → clients → repositories → use cases → servicers, workers."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from datetime import timedelta

import structlog
from parta.chat.v1 import chat_pb2, chat_pb2_grpc
from parta_common.auth import KeySource
from parta_common.clock import Clock, SystemClock
from parta_common.events.consumer import EventConsumer
from parta_common.events.outbox import OutboxRelay
from parta_common.grpc.server import GrpcServiceRunner, ServerSpec
from parta_common.kit import Infrastructure, build_infrastructure
from parta_common.logging import configure_logging
from parta_common.mongo import ensure_indexes
from parta_common.policy_sync import PolicySync
from parta_common.safety import PolicyBook

from chat.adapters.clock import FileClock
from chat.adapters.files import GridFsStorage
from chat.adapters.mongo import (
    CHAT_TOPIC,
    OUTBOX_COLLECTIONS,
    EventRecords,
    MongoChatStore,
    MongoProjections,
    index_specs,
)
from chat.adapters.pb import chat_pb, message_pb
from chat.api.consumers import IDENTITY_TOPIC, MEDIA_TOPIC, SCHOOL_TOPICS, ProvisioningHandler
from chat.api.files import FileServicer
from chat.api.live import LiveHub, LiveReader
from chat.api.servicers import ChatServicer, add_chat_service
from chat.api.workers import Housekeeper
from chat.app.chats import ChatPolicy, Chats
from chat.app.files import FileLimits, Files
from chat.app.provisioning import Provisioning
from chat.config import ChatSettings

log = structlog.get_logger("chat")

SERVICE = "chat"
SERVICE_NAMES = tuple(chat_pb2.DESCRIPTOR.services_by_name[n].full_name for n in ("ChatService", "FileService"))


@dataclass
class ChatService:
    settings: ChatSettings
    infra: Infrastructure
    runner: GrpcServiceRunner
    relay: OutboxRelay
    store: MongoChatStore
    chats: Chats
    files: Files
    storage: GridFsStorage
    provisioning: Provisioning
    consumer: EventConsumer
    hub: LiveHub
    housekeeper: Housekeeper


async def build(
    settings: ChatSettings, *, key_source: KeySource | None = None, clock: Clock | None = None
) -> ChatService:
    if clock is None:
        clock = FileClock(settings.dev_clock_file) if settings.dev_clock_file else SystemClock()
    infra = build_infrastructure(SERVICE, settings, key_source=key_source)
    db = infra.database
    await ensure_indexes(db, index_specs())
    relay = infra.relay(OUTBOX_COLLECTIONS, poll_interval=settings.outbox_poll_seconds)
    store = MongoChatStore(db, EventRecords(settings.topic, clock.now))
    projections = MongoProjections(db)
    policy = ChatPolicy(
        max_text_chars=settings.max_text_chars,
        edit_window=timedelta(seconds=settings.edit_window_seconds),
        default_timezone=settings.default_timezone,
    )
    policies = PolicyBook()
    chats = Chats(store, clock, relay.notify, policy, policies)
    storage = GridFsStorage(db)
    files = Files(
        storage,
        store,
        clock,
        FileLimits(settings.max_file_bytes, settings.user_quota_bytes, settings.upload_chunk_max_bytes),
    )
    provisioning = Provisioning(store, projections, clock, relay.notify, policies)
    policy_sync = PolicySync(policies, projections.policies_since, interval=settings.policy_sync_seconds)

    async def gap_fill(chat_id: str, low: int, high: int) -> list[chat_pb2.ChatEvent]:
        found = [
            chat_pb2.ChatEvent(chat_id=chat_id, update_seq=m.update_seq, message=message_pb(m))
            for m in await store.messages_in_update_range(chat_id, low, high)
        ]
        chat = await store.get_chat(chat_id)
        if chat is not None and low < chat.update_seq < high:
            found.append(chat_pb2.ChatEvent(chat_id=chat_id, update_seq=chat.update_seq, chat=chat_pb(chat)))
        # Burned numbers come back as empty events: the hub skips them without delivering anything.
        found += [
            chat_pb2.ChatEvent(chat_id=chat_id, update_seq=s) for s in await store.burned_in_range(chat_id, low, high)
        ]
        return sorted(found, key=lambda e: e.update_seq)

    hub = LiveHub(gap_fill, gap_wait=settings.gap_wait_ms / 1000)
    replica = settings.replica_id or "main"
    live = LiveReader(settings.kafka_bootstrap, settings.topic(CHAT_TOPIC), hub, client_id=f"chat-live-{replica}")
    consumer = EventConsumer(
        bootstrap=settings.kafka_bootstrap,
        group_id=f"{settings.kafka_topic_prefix}chat-provisioning",
        topics=[settings.topic(t) for t in (*SCHOOL_TOPICS, IDENTITY_TOPIC, MEDIA_TOPIC)],
        handler=ProvisioningHandler(provisioning).handle,
        dead_letters=infra.producer,
        metrics=infra.metrics,
        tracer=infra.tracer,
        client_id=f"chat-{replica}",
    )
    housekeeper = Housekeeper(
        chats, files, interval=settings.quiet_release_poll_seconds, upload_timeout=timedelta(hours=1)
    )
    infra.metrics.gauge("chat_live_subscribers", "live subscriptions on this replica").labels(SERVICE).set_function(
        lambda: hub.subscriber_count
    )

    def register(server):  # type: ignore[no-untyped-def]
        add_chat_service(ChatServicer(chats, store, hub, clock, queue_limit=settings.subscriber_queue), server)
        chat_pb2_grpc.add_FileServiceServicer_to_server(FileServicer(files), server)

    runner = GrpcServiceRunner(
        ServerSpec(
            name=SERVICE,
            host=settings.grpc_host,
            port=settings.grpc_port,
            registrars=[register],
            service_names=SERVICE_NAMES,
            interceptors=[infra.edge()],
            readiness=infra.readiness(),
            workers=[policy_sync, relay, live, consumer, housekeeper, infra.revocation_feed],
            closers=[infra.close],
            grace_seconds=settings.grace_seconds,
            max_message_bytes=settings.max_message_bytes,
        )
    )
    return ChatService(
        settings, infra, runner, relay, store, chats, files, storage, provisioning, consumer, hub, housekeeper
    )


async def _serve(settings: ChatSettings) -> None:
    service = await build(settings)
    if settings.metrics_port:
        service.infra.metrics.serve(settings.metrics_port)
    await service.runner.serve_until_signal()


def main() -> None:
    settings = ChatSettings()  # type: ignore[call-arg]
    configure_logging(SERVICE, settings.log_level, stream=sys.stdout)
    log.info("starting", grpc_port=settings.grpc_port, replica=settings.replica_id)
    asyncio.run(_serve(settings))
