"""Settings base for every service: environment only, validated at start-up, no production secrets."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from parta_common.grpc.forwarded import Network, parse_networks


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ProcessSettings(BaseSettings):
    """What every Parta process shares, whether or not it owns data: environment, logging, metrics,
    trusted proxies, drain time. ServiceSettings adds the store, Kafka and gRPC serving; the web
    gateway (services/web) has none of those and builds on this directly."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: Environment = Environment.DEVELOPMENT
    metrics_port: int = Field(default=0, ge=0, le=65535, description="0 disables the HTTP metrics endpoint")
    # Loopback by default; Kubernetes sets 0.0.0.0 so Prometheus can scrape the pod (NetworkPolicy limits who).
    metrics_host: str = "127.0.0.1"
    log_level: str = "info"
    # Proxies whose forwarded client address (X-Forwarded-For / Forwarded) is believed: comma-
    # separated CIDRs or addresses, e.g. the ingress controller's pod network. Empty: none; the
    # TCP peer is the client.
    trusted_proxies: str = ""
    grace_seconds: float = Field(default=10.0, gt=0, le=300)
    replica_id: str = ""

    @model_validator(mode="after")
    def _trusted_proxies_parse(self) -> ProcessSettings:
        try:
            self.trusted_networks()
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES must be comma-separated CIDRs: {exc}") from exc
        return self

    def trusted_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies.split(","))


class ServiceSettings(ProcessSettings):
    """Common settings. Subclasses set `model_config = service_config("CHAT_")`.

    Endpoints (Mongo, Kafka) have no defaults at all: a service that is not told where its
    dependencies are refuses to start rather than guessing.
    """

    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    mongodb_uri: SecretStr
    mongodb_database: str
    kafka_bootstrap: str
    kafka_topic_prefix: str = ""
    # Verifying access tokens: identity's address for signing keys, and the expected audience.
    identity_address: str = ""
    auth_issuer: str = "parta-identity"
    auth_audience: str = "parta"
    # Verified access tokens remembered per replica (issue 18); 0 turns the cache off.
    auth_token_cache_size: int = Field(default=10_000, ge=0, le=1_000_000)
    # The revocation deny-set (parta_common.revocation): how far back the feed reads identity's
    # events at start (at least the longest access-token life, identity allows up to 3600 s), how
    # long without hearing Kafka a replica stays ready, and a cap against floods.
    revocation_horizon_seconds: float = Field(default=3600.0, ge=60, le=86_400)
    revocation_max_lag_seconds: float = Field(default=30.0, gt=0, le=3600)
    revocation_max_entries: int = Field(default=200_000, ge=1000)
    max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Count store commands by name (parta_store_commands_total): the per-call cost `make bench`
    # prints. Off by default because every command then pays a listener call.
    mongodb_command_metrics: bool = False

    @model_validator(mode="after")
    def _production_needs_explicit_endpoints(self) -> ServiceSettings:
        if self.environment is Environment.PRODUCTION and self.grpc_host == "127.0.0.1":
            # Loopback in production means no pod can reach us; almost always a missing variable.
            raise ValueError("GRPC_HOST must be set explicitly in production")
        return self

    def topic(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}{name}"


def service_config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", frozen=True)
