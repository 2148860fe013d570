"""Composition root of media-signal: settings → logging → clients → repositories → use cases →
servicers, hub and consumers. No logic here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from parta.media_signal.v1 import media_signal_pb2, media_signal_pb2_grpc
from parta_common import exports
from parta_common.auth import KeySource
from parta_common.clock import Clock, SystemClock
from parta_common.erasure import ERASURES, MongoErasureLedger
from parta_common.events import topics
from parta_common.events.consumer import EventConsumer
from parta_common.events.writer import OutboxWriter
from parta_common.grpc.server import GrpcServiceRunner
from parta_common.ids import new_id
from parta_common.kit import Infrastructure, build_infrastructure
from parta_common.kit import serve as kit_serve
from parta_common.logging import configure_logging
from parta_common.mongo import ensure_indexes, idempotent_id
from parta_common.policy_sync import PolicySync
from parta_common.safety import PolicyBook
from parta_common.workers import PeriodicWorker

from media_signal.adapters import mongo
from media_signal.adapters.catalog import MongoLessonCatalog, MongoRoomCatalog, catalog_indexes, lesson_indexes
from media_signal.adapters.exports import MongoAttendedLessons, export_indexes
from media_signal.adapters.janus import JanusSfu
from media_signal.adapters.mongo_erasure import MongoRoomErasure
from media_signal.adapters.mongo_timetables import MongoTimetableLessons, MongoTimetablePlans, timetable_indexes
from media_signal.adapters.owners import GrpcOwnerReplicas
from media_signal.adapters.tokens import HmacJoinTokenCodec, TurnIceServers
from media_signal.api.attendance import AttendanceServicer
from media_signal.api.consumers import TOPICS, Projections
from media_signal.api.erasure import ErasureHandler
from media_signal.api.rooms import RoomServicer
from media_signal.api.signals import SignalServicer
from media_signal.api.timetables import TOPICS as TIMETABLE_TOPICS
from media_signal.api.timetables import TimetableEvents
from media_signal.app.attendance import AttendanceUseCases
from media_signal.app.erasure import Erasure
from media_signal.app.exports import ExportParts
from media_signal.app.hub import SignalHub
from media_signal.app.listing import RoomListing
from media_signal.app.rooms import RoomUseCases
from media_signal.app.sfu_rooms import SfuRoomSweeper
from media_signal.app.timetables import LessonPlanner
from media_signal.config import MediaSignalSettings
from media_signal.domain.attendance import Graces

SERVICE = "media-signal"
SERVICE_NAMES = [
    media_signal_pb2.DESCRIPTOR.services_by_name["RoomService"].full_name,
    media_signal_pb2.DESCRIPTOR.services_by_name["SignalService"].full_name,
    media_signal_pb2.DESCRIPTOR.services_by_name["AttendanceService"].full_name,
]


@dataclass
class App:
    runner: GrpcServiceRunner
    hub: SignalHub
    rooms: RoomUseCases
    metrics_port: int
    infra: Infrastructure


class _Started:
    """Wraps a coroutine pair as a kit Worker."""

    def __init__(self, start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]):
        self._start, self._stop = start, stop

    async def start(self) -> None:
        await self._start()

    async def stop(self) -> None:
        await self._stop()


def build(settings: MediaSignalSettings, *, key_source: KeySource | None = None, clock: Clock | None = None) -> App:
    clock = clock or SystemClock()
    infra = build_infrastructure(SERVICE, settings, key_source=key_source)
    # The erasure ledger carries each erased account's report until relayed (parta_common.erasure).
    relay = infra.relay([mongo.ROOMS, ERASURES], poll_interval=0.5)
    room_repo = mongo.MongoRoomRepository(
        infra.database, settings.topic(topics.MEDIA_SIGNAL_ROOM), on_write=relay.notify
    )
    directory = mongo.MongoMembershipDirectory(infra.database)
    policies = PolicyBook()  # each school's communication policy, in memory
    tokens = HmacJoinTokenCodec(settings.join_token_secret.get_secret_value().encode())
    turn_secret = settings.turn_secret.get_secret_value().encode()
    if settings.turn_uri_list() and not turn_secret:
        raise ValueError("TURN_SECRET is required when TURN_URIS is set")
    ice = TurnIceServers(settings.turn_uri_list(), turn_secret, settings.turn_ttl_seconds, settings.stun_uri_list())
    # Janus rooms are tagged with the database name: the sweep judges them against this store only.
    sfu = JanusSfu(settings.janus_url, namespace=settings.mongodb_database)
    address = settings.advertise_address or f"{settings.grpc_host}:{settings.grpc_port}"
    replica = settings.replica_id or address
    owners = GrpcOwnerReplicas(replica)
    hub = SignalHub(
        rooms=room_repo,
        tokens=tokens,
        sfu=sfu,
        clock=clock,
        new_id=new_id,
        replica=replica,
        address=address,
        keepalive_timeout=settings.keepalive_timeout_seconds,
        lease_seconds=settings.room_lease_seconds,
    )
    listing = RoomListing(catalog=MongoRoomCatalog(infra.database), directory=directory)
    rooms = RoomUseCases(
        rooms=room_repo,
        directory=directory,
        tokens=tokens,
        ice=ice,
        clock=clock,
        room_ids=idempotent_id,
        live=hub,
        join_token_ttl=timedelta(seconds=settings.join_token_ttl_seconds),
        signal_address=address,
        owners=owners,
        replica=replica,
        sfu=sfu,
        policies=policies,
    )
    attendance = AttendanceUseCases(
        rooms=room_repo,
        catalog=MongoLessonCatalog(infra.database),
        directory=directory,
        clock=clock,
        graces=Graces(
            late=timedelta(seconds=settings.attendance_late_grace_seconds),
            early_leave=timedelta(seconds=settings.attendance_early_leave_grace_seconds),
        ),
    )
    policy_sync = PolicySync(policies, mongo.MongoSchoolPolicies(infra.database).policies_since)
    sweeper = SfuRoomSweeper(sfu=sfu, rooms=room_repo, interval=settings.sfu_sweep_seconds)
    erasure = Erasure(
        MongoErasureLedger(
            infra.database, SERVICE, settings.topic(topics.ERASURE_REPORT), OutboxWriter(mongo.PRODUCER, now=clock.now)
        ),
        MongoRoomErasure(infra.database),
        clock,
    )
    consumer = EventConsumer(
        bootstrap=settings.kafka_bootstrap,
        group_id=f"{settings.kafka_topic_prefix}media-signal.memberships",
        topics=[settings.topic(t) for t in TOPICS],
        handler=Projections(mongo.MongoDirectoryProjection(infra.database), policies, ErasureHandler(erasure)),
        dead_letters=infra.producer,
        metrics=infra.metrics,
        tracer=infra.tracer,
        client_id=f"{SERVICE}-{replica}",
    )

    planner = LessonPlanner(
        plans=MongoTimetablePlans(infra.database),
        lessons=MongoTimetableLessons(infra.database),
        rooms=room_repo,
        clock=clock,
    )
    timetables = EventConsumer(
        bootstrap=settings.kafka_bootstrap,
        group_id=f"{settings.kafka_topic_prefix}media-signal.timetables",
        topics=[settings.topic(t) for t in TIMETABLE_TOPICS],
        handler=TimetableEvents(planner).router(),
        dead_letters=infra.producer,
        metrics=infra.metrics,
        tracer=infra.tracer,
        client_id=f"{SERVICE}-{replica}-timetables",
    )
    export_workers = exports.part_workers(
        SERVICE,
        settings,
        infra,
        part=exports.ATTENDANCE,
        list_key="lessons",
        build=ExportParts(MongoAttendedLessons(infra.database), clock, attendance.graces).attendance_part,
    )
    horizon = PeriodicWorker("timetable-horizon", planner.tick, settings.timetable_pass_seconds, first_delay=1.0)

    async def prepare() -> None:
        await ensure_indexes(infra.database, mongo.indexes())
        await ensure_indexes(infra.database, {mongo.ROOMS: [*catalog_indexes(), *lesson_indexes()]})
        await ensure_indexes(infra.database, timetable_indexes())
        await ensure_indexes(infra.database, export_indexes())

    async def nothing() -> None:
        return None

    def register(server: object) -> None:
        media_signal_pb2_grpc.add_RoomServiceServicer_to_server(RoomServicer(rooms, listing), server)
        media_signal_pb2_grpc.add_SignalServiceServicer_to_server(SignalServicer(hub), server)
        media_signal_pb2_grpc.add_AttendanceServiceServicer_to_server(AttendanceServicer(attendance), server)

    infra.metrics.gauge("media_signal_live_rooms", "Rooms live on this replica").labels(SERVICE).set_function(
        hub.live_rooms
    )
    infra.metrics.gauge("media_signal_participants", "Participants connected to this replica").labels(
        SERVICE
    ).set_function(hub.participants)
    runner = infra.runner(
        registrars=[register],
        service_names=SERVICE_NAMES,
        interceptors=[infra.edge()],
        readiness=[*infra.readiness(), sfu.ready],
        workers=[
            _Started(prepare, nothing),
            policy_sync,
            relay,
            consumer,
            hub,
            sweeper,
            infra.revocation_feed,
            timetables,
            horizon,
            *export_workers,
        ],
        closers=[owners.close, sfu.close],
    )
    return App(runner=runner, hub=hub, rooms=rooms, metrics_port=settings.metrics_port, infra=infra)


async def serve(settings: MediaSignalSettings) -> None:
    app = build(settings)
    # Before the graceful stop the hub tells every signalling stream REPLICA_DRAINING (they would
    # otherwise outlive the grace period).
    await kit_serve(app.runner, app.infra, metrics_port=app.metrics_port, before_stop=app.hub.drain)


def main() -> None:
    settings = MediaSignalSettings()  # type: ignore[call-arg]  # from the environment
    configure_logging(SERVICE, settings.log_level)
    asyncio.run(serve(settings))
