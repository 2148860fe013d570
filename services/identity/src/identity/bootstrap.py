"""Composition root: settings → logging → clients → repositories → use cases → servicers, workers."""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import structlog
from parta.identity.v1 import (
    account_pb2,
    account_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    erasure_pb2,
    erasure_pb2_grpc,
    exports_pb2,
    exports_pb2_grpc,
    guardians_pb2,
    guardians_pb2_grpc,
    keys_pb2,
    keys_pb2_grpc,
    profiles_pb2,
    profiles_pb2_grpc,
)
from parta_common.auth import Principal
from parta_common.clock import Clock, SystemClock
from parta_common.events.outbox import OutboxRelay
from parta_common.grpc.server import GrpcServiceRunner, Worker
from parta_common.kit import Infrastructure, build_infrastructure, serve
from parta_common.logging import configure_logging
from parta_common.mongo import ensure_indexes
from parta_common.settings import Environment
from parta_common.workers import PeriodicWorker

from identity.adapters.events import UserEventMapper
from identity.adapters.exports import EXPORTS, MongoExportRepository, export_indexes
from identity.adapters.keys import KeyringHolder, MongoKeyStore, parse_configured_keys
from identity.adapters.mongo import (
    SESSIONS,
    USERS,
    MongoChallengeRepository,
    MongoErasureReports,
    MongoMembershipDirectory,
    MongoRateLimiter,
    MongoSessionRepository,
    MongoUserRepository,
    index_specs,
)
from identity.adapters.sms import DevFileSmsGateway, HttpSmsGateway
from identity.api.account import AccountServicer
from identity.api.consumers import MembershipProjector, membership_consumer
from identity.api.erasure import ErasureReportCollector, ErasureServicer, erasure_report_consumer
from identity.api.exports import ExportServicer
from identity.api.guardians import GuardianServicer
from identity.api.jobs import AgeBandCheck
from identity.api.keys import SigningKeyServicer
from identity.api.profiles import ProfileServicer
from identity.api.sign_in import AuthServicer
from identity.app.account import Accounts
from identity.app.age_bands import AgeBands
from identity.app.erasure import Erasures
from identity.app.exports import Exports
from identity.app.guardians import Guardians
from identity.app.policy import IdentityPolicy
from identity.app.ports import SmsGateway
from identity.app.profiles import Profiles
from identity.app.sign_in import SignIn
from identity.config import IdentitySettings
from identity.domain.challenges import CodePolicy
from identity.domain.hashing import KeyedHasher

log = structlog.get_logger("identity")

SERVICE = "identity"


def _full(descriptor_module: object, name: str) -> str:
    return descriptor_module.DESCRIPTOR.services_by_name[name].full_name  # type: ignore[attr-defined]


AUTH_SERVICE = _full(auth_pb2, "AuthService")
KEYS_SERVICE = _full(keys_pb2, "SigningKeyService")
PUBLIC_METHODS = (
    f"/{AUTH_SERVICE}/RequestCode",
    f"/{AUTH_SERVICE}/VerifyCode",
    f"/{AUTH_SERVICE}/RefreshSession",
    f"/{KEYS_SERVICE}/ListSigningKeys",
)
SERVICE_NAMES = (
    AUTH_SERVICE,
    KEYS_SERVICE,
    _full(profiles_pb2, "ProfileService"),
    _full(guardians_pb2, "GuardianService"),
    _full(account_pb2, "AccountService"),
    _full(exports_pb2, "ExportService"),
    _full(erasure_pb2, "ErasureService"),
)


def policy_from(settings: IdentitySettings) -> IdentityPolicy:
    return IdentityPolicy(
        code=CodePolicy(
            ttl_seconds=settings.code_ttl_seconds,
            max_attempts=settings.code_max_attempts,
            resend_cooldown_seconds=settings.resend_cooldown_seconds,
        ),
        phone_daily_cap=settings.phone_daily_cap,
        address_limit=settings.address_limit,
        address_window_seconds=settings.address_window_seconds,
        session_idle_days=settings.session_idle_days,
        consent_age=settings.consent_age,
        link_code_ttl_seconds=settings.link_code_ttl_seconds,
        child_link_requests_per_day=settings.child_link_requests_per_day,
        guardian_request_ttl_seconds=settings.guardian_request_ttl_seconds,
    )


def sms_gateway_from(settings: IdentitySettings, clock: Clock) -> SmsGateway:
    if settings.dev_sms_file:
        if settings.environment is Environment.PRODUCTION:
            raise ValueError("the development SMS gateway is refused in production")
        return DevFileSmsGateway(Path(settings.dev_sms_file), clock)
    auth = settings.sms_http_auth_header.get_secret_value() if settings.sms_http_auth_header else ""
    return HttpSmsGateway(
        settings.sms_http_url,
        settings.sms_http_body_template,
        content_type=settings.sms_http_content_type,
        auth_header=auth,
        message=settings.sms_message_template,
    )


@dataclass
class IdentityService:
    settings: IdentitySettings
    infra: Infrastructure
    runner: GrpcServiceRunner
    keys: KeyringHolder
    sign_in: SignIn
    profiles: Profiles
    guardians: Guardians
    accounts: Accounts
    relay: OutboxRelay
    directory: MongoMembershipDirectory
    key_store: MongoKeyStore | None = None
    age_bands: AgeBandCheck | None = None
    extra: dict[str, object] = field(default_factory=dict)
    exports: Exports | None = None


async def build(
    settings: IdentitySettings, *, clock: Clock | None = None, sms: SmsGateway | None = None
) -> IdentityService:
    clock = clock or SystemClock()
    holder: KeyringHolder | None = None
    key_store: MongoKeyStore | None = None

    # The verifier's key source is the keyring itself; it is filled in once the keyring is loaded.
    class _LateKeys:
        async def fetch(self):  # type: ignore[no-untyped-def]
            assert holder is not None
            return await holder.fetch()

    infra = build_infrastructure(SERVICE, settings, key_source=_LateKeys())
    db = infra.database
    await ensure_indexes(db, index_specs())
    await ensure_indexes(db, export_indexes())

    if settings.signing_keys is not None:
        ring = parse_configured_keys(settings.signing_keys.get_secret_value())
    else:
        key_store = MongoKeyStore(db, clock)
        ring = await key_store.load_or_create_keyring()
    holder = KeyringHolder(
        ring,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
        clock=clock,
    )
    if settings.hash_key is not None:
        hash_key = base64.b64decode(settings.hash_key.get_secret_value())
    else:
        hash_key = await (key_store or MongoKeyStore(db, clock)).load_or_create_hash_key()
    hasher = KeyedHasher(hash_key)

    policy = policy_from(settings)
    relay = infra.relay([USERS, SESSIONS, EXPORTS])
    mapper = UserEventMapper(settings.topic, clock.now, token_ttl_seconds=settings.access_token_ttl_seconds)
    users = MongoUserRepository(db, mapper, on_events=relay.notify)
    sessions = MongoSessionRepository(db, mapper, on_events=relay.notify)
    directory = MongoMembershipDirectory(db)
    sign_in = SignIn(
        users=users,
        challenges=MongoChallengeRepository(db),
        sessions=sessions,
        limiter=MongoRateLimiter(db),
        sms=sms or sms_gateway_from(settings, clock),
        tokens=holder,
        hasher=hasher,
        clock=clock,
        policy=policy,
    )
    profiles = Profiles(users=users, directory=directory, clock=clock, policy=policy)
    guardians = Guardians(
        users=users, directory=directory, limiter=MongoRateLimiter(db), hasher=hasher, clock=clock, policy=policy
    )
    accounts = Accounts(users=users, sessions=sessions, clock=clock, policy=policy)
    exports = Exports(
        users=users,
        exports=MongoExportRepository(db, settings.topic, clock.now, on_events=relay.notify),
        clock=clock,
        policy=policy,
    )
    erasures = Erasures(users, accounts, MongoErasureReports(db), clock, policy)
    age_bands = AgeBandCheck(
        AgeBands(users=users, clock=clock, policy=policy), settings.age_band_check_seconds, infra.metrics.registry
    )

    async def principal_check(principal: Principal) -> None:
        await sign_in.check_session(principal.user_id, principal.session_id)

    def register(server: object) -> None:
        auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(sign_in), server)
        keys_pb2_grpc.add_SigningKeyServiceServicer_to_server(SigningKeyServicer(holder), server)
        profiles_pb2_grpc.add_ProfileServiceServicer_to_server(ProfileServicer(profiles, clock), server)
        guardians_pb2_grpc.add_GuardianServiceServicer_to_server(GuardianServicer(guardians, clock), server)
        account_pb2_grpc.add_AccountServiceServicer_to_server(AccountServicer(accounts, clock), server)
        exports_pb2_grpc.add_ExportServiceServicer_to_server(ExportServicer(exports), server)
        erasure_pb2_grpc.add_ErasureServiceServicer_to_server(ErasureServicer(erasures), server)

    workers: list[Worker] = [relay, infra.revocation_feed]
    workers.append(membership_consumer(settings, infra, MembershipProjector(directory), group="identity-memberships"))
    workers.append(age_bands)
    workers.append(erasure_report_consumer(settings, infra, ErasureReportCollector(erasures)))
    if key_store is not None:
        interval = settings.keyring_reload_seconds
        reload_keys = partial(holder.reload_from, key_store)
        workers.append(PeriodicWorker("keyring-reloader", reload_keys, interval, first_delay=interval))
    runner = infra.runner(
        registrars=[register],
        service_names=SERVICE_NAMES,
        interceptors=[infra.edge(PUBLIC_METHODS, principal_check)],
        workers=workers,
    )
    return IdentityService(
        settings,
        infra,
        runner,
        holder,
        sign_in,
        profiles,
        guardians,
        accounts,
        relay,
        directory,
        key_store,
        age_bands,
        exports=exports,
    )


async def _serve(settings: IdentitySettings) -> None:
    service = await build(settings)
    await serve(service.runner, service.infra, metrics_port=settings.metrics_port)


async def _rotate(settings: IdentitySettings) -> None:
    if settings.signing_keys is not None:
        raise SystemExit("keys come from IDENTITY_SIGNING_KEYS: rotate them in the configuration")
    infra = build_infrastructure(SERVICE, settings, key_source=_NoKeys())
    try:
        ring = await MongoKeyStore(infra.database, SystemClock()).rotate(settings.access_token_ttl_seconds)
        print(f"current key {ring.current().key_id}; published {len(ring.keys)}")
    finally:
        await infra.close()


class _NoKeys:
    async def fetch(self) -> list[object]:
        return []


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m identity")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "rotate-keys"])
    args = parser.parse_args(argv)
    settings = IdentitySettings()  # type: ignore[call-arg]  # from the environment
    configure_logging(SERVICE, settings.log_level, stream=sys.stdout)
    if args.command == "rotate-keys":
        asyncio.run(_rotate(settings))
    else:
        asyncio.run(_serve(settings))
