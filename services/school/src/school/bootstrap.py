"""Composition root: settings → logging → clients → repositories → use cases → servicers, workers."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

import structlog
from parta.school.v1 import school_pb2, school_pb2_grpc, timetable_pb2, timetable_pb2_grpc
from parta_common import exports
from parta_common.auth import KeySource
from parta_common.clock import Clock, SystemClock
from parta_common.erasure import ERASURES, MongoErasureLedger
from parta_common.events import topics
from parta_common.events.consumer import EventConsumer
from parta_common.events.outbox import OutboxRelay
from parta_common.events.writer import OutboxWriter
from parta_common.grpc.server import GrpcServiceRunner
from parta_common.kit import Infrastructure, build_infrastructure, serve
from parta_common.logging import configure_logging
from parta_common.mongo import ensure_indexes

from school.adapters.events import EventMapper
from school.adapters.identity import GrpcProfileLookup
from school.adapters.mongo import (
    CLASSES,
    INVITES,
    JOIN_REQUESTS,
    MEMBERSHIPS,
    OUTBOX_COLLECTIONS,
    SCHOOLS,
    MongoClassRepository,
    MongoGuardianDirectory,
    MongoInviteRepository,
    MongoJoinRequestRepository,
    MongoMembershipRepository,
    MongoProfileDirectory,
    MongoSchoolRepository,
    decode_class,
    decode_invite,
    decode_join_request,
    decode_membership,
    decode_school,
    index_specs,
    load_or_create_key,
)
from school.adapters.mongo_info import MongoSchoolInfoRepository
from school.adapters.mongo_timetables import (
    TIMETABLES,
    MongoHolidayRepository,
    MongoTimetableRepository,
    timetable_indexes,
)
from school.adapters.qr import SegnoQrRenderer
from school.adapters.view_feed import AccessViewFeed
from school.api.classes import ClassServicer
from school.api.consumers import IdentityEventHandler
from school.api.erasure import ErasureHandler
from school.api.info import SchoolInfoServicer
from school.api.invites import InviteServicer
from school.api.join_requests import JoinRequestServicer
from school.api.memberships import MembershipServicer
from school.api.schools import SchoolServicer
from school.api.timetables import TimetableServicer
from school.app.access import AccessView
from school.app.common import Deps, Policy
from school.app.erasure import Erasure
from school.app.exports import ExportParts
from school.app.info import SchoolInfos
from school.app.service import SchoolApp, build_app
from school.app.timetables import Timetables
from school.config import SchoolSettings
from school.domain.secrets import Secrets

log = structlog.get_logger("school")

SERVICE = "school"


def _full(name: str) -> str:
    return school_pb2.DESCRIPTOR.services_by_name[name].full_name


SERVICE_NAMES = (
    *(
        _full(n)
        for n in (
            "SchoolService",
            "ClassService",
            "MembershipService",
            "InviteService",
            "JoinRequestService",
            "SchoolInfoService",
        )
    ),
    timetable_pb2.DESCRIPTOR.services_by_name["TimetableService"].full_name,
)
PUBLIC_METHODS = (f"/{_full('InviteService')}/PreviewInvite",)


@dataclass
class SchoolService:
    settings: SchoolSettings
    infra: Infrastructure
    runner: GrpcServiceRunner
    relays: dict[str, OutboxRelay]
    deps: Deps
    app: SchoolApp
    consumer: EventConsumer
    view: AccessView
    timetables: Timetables
    infos: SchoolInfos


async def build(
    settings: SchoolSettings, *, key_source: KeySource | None = None, clock: Clock | None = None
) -> SchoolService:
    clock = clock or SystemClock()
    infra = build_infrastructure(SERVICE, settings, key_source=key_source)
    db = infra.database
    await ensure_indexes(db, index_specs())
    await ensure_indexes(db, timetable_indexes())
    key = (
        settings.secret_key.get_secret_value().encode()
        if settings.secret_key is not None
        else await load_or_create_key(db)
    )
    # One relay per collection, woken only by writes to it: a burst of acceptances (memberships) does not
    # make the relay search the four other collections twice per wake-up.
    relays = {
        name: infra.relay([name], poll_interval=settings.outbox_poll_seconds)
        for name in (*OUTBOX_COLLECTIONS, TIMETABLES, ERASURES)
    }
    mapper = EventMapper(settings.topic, clock.now)

    changed: list[AccessView] = []  # the view is built from the repositories it listens to

    def repo(cls, name, decode):  # type: ignore[no-untyped-def]
        return cls(db, name, mapper, decode, relays[name].notify, lambda entity: changed[0].changed(entity))

    schools_repo = repo(MongoSchoolRepository, SCHOOLS, decode_school)
    classes_repo = repo(MongoClassRepository, CLASSES, decode_class)
    memberships_repo = repo(MongoMembershipRepository, MEMBERSHIPS, decode_membership)
    invites_repo = repo(MongoInviteRepository, INVITES, decode_invite)
    profiles = MongoProfileDirectory(db)
    view = AccessView(
        schools_repo,
        classes_repo,
        memberships_repo,
        invites_repo,
        profiles,
        now=time.monotonic,
        max_entries=settings.access_view_max_entries,
        ttl_seconds=settings.access_view_ttl_seconds,
    )
    changed.append(view)
    profile_lookup = GrpcProfileLookup(settings.identity_address)
    deps = Deps(
        schools=schools_repo,
        classes=classes_repo,
        memberships=memberships_repo,
        invites=invites_repo,
        join_requests=repo(MongoJoinRequestRepository, JOIN_REQUESTS, decode_join_request),
        guardians=MongoGuardianDirectory(db),
        qr=SegnoQrRenderer(),
        secrets=Secrets(key),
        clock=clock,
        policy=Policy(
            operator_phones=settings.operators(),
            internal_clients=settings.internal_clients(),
            invite_base_url=settings.invite_base_url,
            default_timezone=settings.default_timezone,
            default_invite_ttl_seconds=settings.default_invite_ttl_seconds,
        ),
        profiles=profiles,
        profile_lookup=profile_lookup,
        view=view,
    )
    app = build_app(deps)
    timetables = Timetables(
        deps,
        MongoTimetableRepository(db, mapper, relays[TIMETABLES].notify),
        MongoHolidayRepository(db),
    )
    infos = SchoolInfos(deps, MongoSchoolInfoRepository(db))

    erasure = Erasure(
        MongoErasureLedger(db, SERVICE, settings.topic(topics.ERASURE_REPORT), OutboxWriter(SERVICE, now=clock.now)),
        app.memberships,
        memberships_repo,
        profiles,
        clock,
    )
    consumer = EventConsumer(
        bootstrap=settings.kafka_bootstrap,
        group_id=f"{settings.kafka_topic_prefix}school-identity",
        topics=[settings.topic(topics.IDENTITY_USER)],
        handler=IdentityEventHandler(app.memberships, deps.guardians, deps.profiles, ErasureHandler(erasure)).router(),
        dead_letters=infra.producer,
        metrics=infra.metrics,
        tracer=infra.tracer,
        client_id=f"school-{settings.replica_id or 'main'}",
    )

    export_workers = exports.part_workers(
        "school",
        settings,
        infra,
        part=exports.MEMBERSHIPS,
        list_key="memberships",
        build=ExportParts(deps).memberships_part,
    )

    feed = AccessViewFeed(
        settings.kafka_bootstrap,
        [settings.topic(t) for t in (*topics.SCHOOL_DIRECTORY, topics.IDENTITY_USER)],
        view,
        client_id=f"school-view-{settings.replica_id or 'main'}",
    )

    def register(server):  # type: ignore[no-untyped-def]
        school_pb2_grpc.add_SchoolServiceServicer_to_server(SchoolServicer(app), server)
        school_pb2_grpc.add_ClassServiceServicer_to_server(ClassServicer(app.classes), server)
        school_pb2_grpc.add_MembershipServiceServicer_to_server(
            MembershipServicer(app.memberships, app.classes), server
        )
        school_pb2_grpc.add_InviteServiceServicer_to_server(InviteServicer(app.invites), server)
        school_pb2_grpc.add_JoinRequestServiceServicer_to_server(JoinRequestServicer(app.join_requests), server)
        timetable_pb2_grpc.add_TimetableServiceServicer_to_server(TimetableServicer(timetables), server)
        school_pb2_grpc.add_SchoolInfoServiceServicer_to_server(SchoolInfoServicer(infos), server)

    runner = infra.runner(
        registrars=[register],
        service_names=SERVICE_NAMES,
        interceptors=[infra.edge(PUBLIC_METHODS)],
        workers=[*relays.values(), consumer, feed, infra.revocation_feed, *export_workers],
        closers=[profile_lookup.close],
    )
    return SchoolService(settings, infra, runner, relays, deps, app, consumer, view, timetables, infos)


async def _serve(settings: SchoolSettings) -> None:
    service = await build(settings)
    await serve(service.runner, service.infra, metrics_port=settings.metrics_port)


def main() -> None:
    settings = SchoolSettings()  # type: ignore[call-arg]
    configure_logging(SERVICE, settings.log_level, stream=sys.stdout)
    log.info("starting", grpc_port=settings.grpc_port, operators=len(settings.operators()))
    asyncio.run(_serve(settings))
