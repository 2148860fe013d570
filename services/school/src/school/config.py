"""School's settings (env prefix SCHOOL_), validated at start-up."""

from __future__ import annotations

from parta_common.settings import Environment, ServiceSettings, service_config
from pydantic import Field, SecretStr, field_validator, model_validator


class SchoolSettings(ServiceSettings):
    model_config = service_config("SCHOOL_")

    grpc_port: int = Field(default=50052, ge=0, le=65535)

    # Operator accounts: E.164 phones matched against the access token's `phone_number` claim.
    operator_phones: str = ""
    # Accounts (identity user ids) of internal clients (bots, e-journal) that may ask about anyone.
    internal_client_ids: str = ""
    # Service key (>= 16 chars): keyed hash of the pending first-admin phone and derivation of invite
    # tokens. Development keeps a generated one in the database; production must set it.
    secret_key: SecretStr | None = None
    # Invite links are `<base><token>`; the apps open them, the QR code carries them.
    invite_base_url: str = "https://parta.local/join/"
    default_timezone: str = "Europe/Moscow"
    default_invite_ttl_seconds: int = Field(default=7 * 86400, ge=60)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    # The in-memory access view (app/access.py): how long an entry may live without a write or an event
    # forgetting it (the bound on staleness while Kafka lags), and how many rows per kind it keeps.
    access_view_ttl_seconds: float = Field(default=30.0, gt=0, le=3600)
    access_view_max_entries: int = Field(default=100_000, ge=100, le=10_000_000)

    @field_validator("invite_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://", "parta://")):
            raise ValueError("INVITE_BASE_URL must be an https:// (or parta://) URL prefix")
        return value

    @model_validator(mode="after")
    def _school_rules(self) -> SchoolSettings:
        if self.environment is Environment.PRODUCTION and self.secret_key is None:
            raise ValueError("SCHOOL_SECRET_KEY is required in production")
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) < 16:
            raise ValueError("SCHOOL_SECRET_KEY must be at least 16 characters")
        return self

    def operators(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.operator_phones.split(",") if p.strip())

    def internal_clients(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.internal_client_ids.split(",") if p.strip())
