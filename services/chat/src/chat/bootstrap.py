"""Composition root: settings → logging → clients → repositories → use cases → servicers, workers."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from datetime import timedelta

import structlog
from parta.chat.v1 import chat_pb2, chat_pb2_grpc, exports_pb2, exports_pb2_grpc
from parta_common.auth import KeySource
from parta_common.clock import Clock, SystemClock
from parta_common.erasure import ERASURES, MongoErasureLedger
from parta_common.events import topics
from parta_common.events.consumer import EventConsumer
from parta_common.events.outbox import OutboxRelay
from parta_common.events.writer import OutboxWriter
from parta_common.grpc.server import GrpcServiceRunner
from parta_common.kit import Infrastructure, build_infrastructure
from parta_common.logging import configure_logging
from parta_common.mongo import ensure_indexes
from parta_common.policy_sync import PolicySync
from parta_common.safety import PolicyBook
from parta_common.workers import PeriodicWorker

from chat.adapters.clock import FileClock
from chat.adapters.events import EventRecords
from chat.adapters.files import GridFsStorage, MongoFileQuotas
from chat.adapters.kafka_live import KafkaLiveReader
from chat.adapters.mongo import OUTBOX_COLLECTIONS, index_specs
from chat.adapters.mongo.announcements import MongoAnnouncementRepository
from chat.adapters.mongo.chats import MongoChatRepository
from chat.adapters.mongo.erasure import MongoErasureContent, MongoErasureWorks
from chat.adapters.mongo.exports import EXPORTS, MongoAuthoredMessages, MongoExportRepository, export_indexes
from chat.adapters.mongo.materials import MongoMaterialRepository
from chat.adapters.mongo.members import MongoMemberRepository
from chat.adapters.mongo.messages import MongoMessageRepository
from chat.adapters.mongo.polls import MongoPollRepository
from chat.adapters.mongo.preferences import MongoPreferences
from chat.adapters.mongo.projections import MongoProjections
from chat.adapters.mongo.reports import MongoReportRepository
from chat.adapters.mongo.retention import MongoRetention
from chat.adapters.mongo.sequences import Sequences
from chat.adapters.mongo.urgent import MongoUrgentAllowance
from chat.api.announcements import AnnouncementServicer
from chat.api.consumers import TOPICS, ProvisioningHandler
from chat.api.erasure import ErasureHandler
from chat.api.exports import TOPICS as EXPORT_TOPICS
from chat.api.exports import ExportEvents, ExportServicer
from chat.api.files import FileServicer
from chat.api.materials import MaterialServicer
from chat.api.polls import PollServicer
from chat.api.retention import RetentionServicer
from chat.api.servicers import ChatServicer, add_chat_service
from chat.api.workers import Housekeeper
from chat.app.announcements import build_announcements
from chat.app.erasure import Erasure
from chat.app.exports import Exports
from chat.app.files import FileLimits, Files
from chat.app.live import GapFill, LiveFeed, LiveHub
from chat.app.materials import build_materials
from chat.app.messages import ChatPolicy
from chat.app.polls import build_polls
from chat.app.retention import RetentionAdmin, RetentionClocks, RetentionJob
from chat.app.service import ChatApp, ChatPorts, build_app
from chat.config import ChatSettings
from chat.pb import PbLiveEncoder

log = structlog.get_logger("chat")

SERVICE = "chat"
SERVICE_NAMES = (
    *(
        chat_pb2.DESCRIPTOR.services_by_name[n].full_name
        for n in (
            "ChatService",
            "FileService",
            "AnnouncementService",
            "PollService",
            "MaterialService",
            "RetentionService",
        )
    ),
    exports_pb2.DESCRIPTOR.services_by_name["ExportService"].full_name,
)


@dataclass
class ChatService:
    settings: ChatSettings
    infra: Infrastructure
    runner: GrpcServiceRunner
    relay: OutboxRelay
    ports: ChatPorts
    app: ChatApp
    storage: GridFsStorage
    consumer: EventConsumer
    hub: LiveHub
    housekeeper: Housekeeper
    retention: RetentionJob

    @property
    def store(self) -> MongoProjections:
        """The projections (tests wait on them: a profile projected before they send)."""
        assert isinstance(self.ports.facts, MongoProjections)
        return self.ports.facts

    @property
    def files(self) -> Files:
        return self.app.files


async def build(
    settings: ChatSettings, *, key_source: KeySource | None = None, clock: Clock | None = None
) -> ChatService:
    if clock is None:
        clock = FileClock(settings.dev_clock_file) if settings.dev_clock_file else SystemClock()
    infra = build_infrastructure(SERVICE, settings, key_source=key_source)
    db = infra.database
    await ensure_indexes(db, index_specs())
    await ensure_indexes(db, export_indexes())
    # The erasure ledger carries each erased account's report until relayed (parta_common.erasure).
    relay = infra.relay((*OUTBOX_COLLECTIONS, ERASURES, EXPORTS), poll_interval=settings.outbox_poll_seconds)
    records = EventRecords(OutboxWriter(SERVICE, settings.topic, clock.now))
    sequences = Sequences(db)
    projections = MongoProjections(db)
    storage = GridFsStorage(db)
    policies = PolicyBook()
    ports = ChatPorts(
        chats=MongoChatRepository(db, records, sequences),
        members=MongoMemberRepository(db, records),
        messages=MongoMessageRepository(db, records, sequences),
        reports=MongoReportRepository(db, records),
        files=storage,
        facts=projections,
        projections=projections,
        policies=policies,
        file_quotas=MongoFileQuotas(db),
        preferences=MongoPreferences(db),
        urgent_uses=MongoUrgentAllowance(db),
    )
    app = build_app(
        ports,
        clock,
        relay.notify,
        policy=ChatPolicy(
            max_text_chars=settings.max_text_chars,
            edit_window=timedelta(seconds=settings.edit_window_seconds),
            default_timezone=settings.default_timezone,
            urgent_per_day=settings.urgent_per_day,
            sealer=settings.sealer(),
        ),
        file_limits=FileLimits(
            settings.max_file_bytes,
            settings.user_quota_bytes,
            settings.upload_chunk_max_bytes,
            min_quota_bytes=settings.school_quota_min_bytes,
            max_quota_bytes=settings.school_quota_max_bytes,
            resumable_window=timedelta(hours=settings.resumable_upload_hours),
        ),
    )
    announcements = build_announcements(
        MongoAnnouncementRepository(db, records), app.chats, app.messages, clock, relay.notify
    )
    polls = build_polls(MongoPollRepository(db, records), app.messages, clock, relay.notify)
    materials = build_materials(MongoMaterialRepository(db), ports.files, app.messages.access, clock)
    retention_store = MongoRetention(db, records, OutboxWriter(SERVICE, settings.topic, clock.now))
    retention_admin = RetentionAdmin(retention_store, app.messages.access)
    retention = RetentionJob(retention_store, clock, batch=settings.retention_batch)

    async def also_readable(user_id: str, file_id: str) -> bool:
        # A material's audience, or the school's admins for a retention archive.
        return await materials.may_read_file(user_id, file_id) or await retention_admin.may_read_archive(
            user_id, file_id
        )

    app.files.also_readable = also_readable
    materials.announce = app.provisioning.material_published
    erasure = Erasure(
        MongoErasureLedger(db, SERVICE, settings.topic(topics.ERASURE_REPORT), OutboxWriter(SERVICE, now=clock.now)),
        MongoErasureContent(db),
        MongoErasureWorks(db),
        ports.messages,
        ports.members,
        ports.facts,
        app.files,
        app.provisioning,
        clock,
        relay.notify,
    )
    policy_sync = PolicySync(policies, projections.policies_since, interval=settings.policy_sync_seconds)
    hub = LiveHub(GapFill(ports.chats, ports.messages, PbLiveEncoder()), gap_wait=settings.gap_wait_ms / 1000)
    feed = LiveFeed(hub, ports.members, ports.chats, ports.messages, clock, settings.subscriber_queue)
    replica = settings.replica_id or "main"
    live = KafkaLiveReader(
        settings.kafka_bootstrap,
        settings.topic(topics.CHAT_MESSAGE),
        hub,
        client_id=f"chat-live-{replica}",
        degraded_after=settings.live_degraded_after_seconds,
    )
    consumer = EventConsumer(
        bootstrap=settings.kafka_bootstrap,
        group_id=f"{settings.kafka_topic_prefix}chat-provisioning",
        topics=[settings.topic(t) for t in TOPICS],
        handler=ProvisioningHandler(app.provisioning, ErasureHandler(erasure), RetentionClocks(retention_store)).handle,
        dead_letters=infra.producer,
        metrics=infra.metrics,
        tracer=infra.tracer,
        client_id=f"chat-{replica}",
    )
    exports = Exports(
        MongoExportRepository(db, settings.topic, clock.now),
        MongoAuthoredMessages(db),
        storage,
        ports.chats,
        projections,
        clock,
        relay.notify,
    )
    export_consumer = EventConsumer(
        bootstrap=settings.kafka_bootstrap,
        group_id=f"{settings.kafka_topic_prefix}chat-exports",
        topics=[settings.topic(t) for t in EXPORT_TOPICS],
        handler=ExportEvents(exports).router(),
        dead_letters=infra.producer,
        metrics=infra.metrics,
        tracer=infra.tracer,
        client_id=f"chat-exports-{replica}",
    )
    # Exports an assembler's dead replica (or a dead-lettered record) left undelivered.
    export_resume = PeriodicWorker("export-resume", exports.resume, 60.0, first_delay=60.0)
    housekeeper = Housekeeper(
        app.messages, app.files, interval=settings.quiet_release_poll_seconds, upload_timeout=timedelta(hours=1)
    )
    infra.metrics.gauge("chat_live_subscribers", "live subscriptions on this replica").labels(SERVICE).set_function(
        lambda: hub.subscriber_count
    )

    def register(server):  # type: ignore[no-untyped-def]
        add_chat_service(ChatServicer(app, feed), server)
        chat_pb2_grpc.add_FileServiceServicer_to_server(FileServicer(app.files), server)
        chat_pb2_grpc.add_AnnouncementServiceServicer_to_server(AnnouncementServicer(announcements), server)
        chat_pb2_grpc.add_PollServiceServicer_to_server(PollServicer(polls), server)
        chat_pb2_grpc.add_MaterialServiceServicer_to_server(MaterialServicer(materials), server)
        chat_pb2_grpc.add_RetentionServiceServicer_to_server(RetentionServicer(retention_admin), server)
        exports_pb2_grpc.add_ExportServiceServicer_to_server(ExportServicer(exports), server)

    runner = infra.runner(
        registrars=[register],
        service_names=SERVICE_NAMES,
        interceptors=[infra.edge()],
        workers=[
            policy_sync,
            relay,
            live,
            consumer,
            housekeeper,
            infra.revocation_feed,
            export_consumer,
            export_resume,
            # The first run waits for the consumers to settle (at most 30 s; sooner with a short interval).
            PeriodicWorker(
                "chat-retention",
                retention.tick,
                settings.retention_interval_seconds,
                first_delay=min(30.0, settings.retention_interval_seconds),
            ),
        ],
    )
    return ChatService(settings, infra, runner, relay, ports, app, storage, consumer, hub, housekeeper, retention)


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
