"""Identity's settings (env prefix IDENTITY_), validated at start-up."""

from __future__ import annotations

from parta_common.settings import Environment, ServiceSettings, service_config
from pydantic import Field, SecretStr, model_validator


class IdentitySettings(ServiceSettings):
    model_config = service_config("IDENTITY_")

    grpc_port: int = Field(default=50051, ge=0, le=65535)

    # Signing keys: production requires them (a JSON file path or base64 JSON list); development
    # generates one and keeps it in the database.
    signing_keys: SecretStr | None = None
    # HMAC key for codes and phone rate-limit keys (base64, >= 16 bytes); same rule as above.
    hash_key: SecretStr | None = None
    # Five minutes: other services refuse revoked sessions within seconds through the revocation
    # feed; if that feed lags (Kafka trouble), this bounds how long a revoked token can live.
    access_token_ttl_seconds: int = Field(default=300, ge=60, le=3600)
    keyring_reload_seconds: float = Field(default=30.0, gt=0)

    # One-time codes and limits. Defaults are strict; tests on 127.0.0.1 raise them.
    code_ttl_seconds: int = Field(default=300, ge=30, le=3600)
    code_max_attempts: int = Field(default=5, ge=1, le=20)
    resend_cooldown_seconds: int = Field(default=60, ge=0, le=3600)
    phone_daily_cap: int = Field(default=10, ge=1)
    address_limit: int = Field(default=30, ge=1)
    address_window_seconds: int = Field(default=3600, ge=1)
    session_idle_days: int = Field(default=60, ge=1, le=365)
    consent_age: int = Field(default=14, ge=0, le=18)
    link_code_ttl_seconds: int = Field(default=600, ge=60, le=86400)
    # Guardian link requests by phone: how many may name one child's phone per day (from anyone),
    # and how long a pending request waits for the child's (or the school's) confirmation.
    child_link_requests_per_day: int = Field(default=10, ge=1)
    guardian_request_ttl_seconds: int = Field(default=7 * 86_400, ge=3600, le=90 * 86_400)
    # How often the age-band check looks for birthdays that crossed the consent age or 18.
    age_band_check_seconds: float = Field(default=86_400.0, gt=0)

    # SMS: the development file gateway, or the HTTP one.
    dev_sms_file: str = ""
    sms_http_url: str = ""
    sms_http_body_template: str = '{"to": "$phone", "text": "$text"}'
    sms_http_content_type: str = "application/json"
    sms_http_auth_header: SecretStr | None = None
    sms_message_template: str = "Parta: your code is $code"

    @model_validator(mode="after")
    def _identity_rules(self) -> IdentitySettings:
        if self.environment is Environment.PRODUCTION:
            if self.dev_sms_file:
                raise ValueError("IDENTITY_DEV_SMS_FILE is refused in production: it writes codes in clear")
            if not self.sms_http_url:
                raise ValueError("IDENTITY_SMS_HTTP_URL is required in production")
            if self.signing_keys is None:
                raise ValueError("IDENTITY_SIGNING_KEYS is required in production")
            if self.hash_key is None:
                raise ValueError("IDENTITY_HASH_KEY is required in production")
        elif not self.dev_sms_file and not self.sms_http_url:
            raise ValueError("set IDENTITY_DEV_SMS_FILE (development) or IDENTITY_SMS_HTTP_URL")
        return self
