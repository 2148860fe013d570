"""Chat's settings (env prefix CHAT_), validated at start-up."""

from __future__ import annotations

from parta_common.settings import Environment, ServiceSettings, service_config
from pydantic import Field, SecretStr, model_validator

from chat.domain.sealing import MIN_KEY_BYTES, Sealer


class ChatSettings(ServiceSettings):
    model_config = service_config("CHAT_")

    grpc_port: int = Field(default=50053, ge=0, le=65535)

    max_text_chars: int = Field(default=4096, ge=1, le=65536)
    edit_window_seconds: int = Field(default=48 * 3600, ge=0)
    # Files: per-file size limit (room for a lesson's video: ~20 min of 720p) and the default
    # per-person quota (sum of stored files); docs/chat.md "Files".
    max_file_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    user_quota_bytes: int = Field(default=1024 * 1024 * 1024, ge=1)
    upload_chunk_max_bytes: int = Field(default=1024 * 1024, ge=1024)
    # How long an interrupted resumable upload keeps its data, from its start (docs/chat.md "Files").
    resumable_upload_hours: int = Field(default=24, ge=1, le=24 * 14)
    # The bounds within which a school's admins set their people's quota (SetFileQuota).
    school_quota_min_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    school_quota_max_bytes: int = Field(default=10 * 1024 * 1024 * 1024, ge=1)
    # Live delivery: how many undelivered events a subscriber may have before its stream ends
    # with RESYNC_REQUIRED, and how long an out-of-order event waits for a predecessor that is
    # neither stored nor marked burned (only a replica crash between allocation and write).
    subscriber_queue: int = Field(default=2000, ge=10)
    gap_wait_ms: int = Field(default=2000, ge=0, le=10000)
    # Live delivery is reported degraded to subscribers after this long without a broker round
    # trip (the live reader probes every second, each probe waiting at most half of this).
    live_degraded_after_seconds: float = Field(default=5.0, ge=1.0, le=60.0)
    quiet_release_poll_seconds: float = Field(default=1.0, gt=0)
    # How often a replica reloads the school policies other replicas' consumers projected.
    policy_sync_seconds: float = Field(default=1.0, gt=0)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    default_timezone: str = "Europe/Moscow"
    # Urgent messages a parent may send across quiet hours per school-local day (docs/chat.md).
    urgent_per_day: int = Field(default=2, ge=0, le=50)
    # Development/e2e only: a file holding an ISO-8601 instant the service treats as "now"
    # (quiet-hours tests move it forward). Refused in production.
    dev_clock_file: str = ""
    # Retention of ended academic years (docs/chat.md "Retention"): how often the job runs (0 = never
    # on this replica), and how many messages or files one run removes at most.
    retention_interval_seconds: float = Field(default=3600.0, ge=0)
    retention_batch: int = Field(default=2000, ge=1, le=100_000)
    # Sealing deleted messages (docs/audit.md, "Sealed deletions"): MessageDeleted carries an
    # HMAC-SHA256 of the deleted text and file ids under this key (>= 32 bytes; a secret, never
    # logged). Required in production; without it (development) deletions carry no seal. The id names
    # the key in each seal, so a rotated key's seals stay checkable with the old key kept offline.
    sealing_key: SecretStr | None = None
    sealing_key_id: str = Field(default="k1", min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")

    @model_validator(mode="after")
    def _chat_rules(self) -> ChatSettings:
        if self.environment is Environment.PRODUCTION and self.dev_clock_file:
            raise ValueError("CHAT_DEV_CLOCK_FILE is for development only")
        if self.environment is Environment.PRODUCTION and self.sealing_key is None:
            raise ValueError("CHAT_SEALING_KEY is required in production")
        if self.sealing_key is not None and len(self.sealing_key.get_secret_value().encode()) < MIN_KEY_BYTES:
            raise ValueError(f"CHAT_SEALING_KEY must be at least {MIN_KEY_BYTES} bytes")
        return self

    def sealer(self) -> Sealer | None:
        if self.sealing_key is None:
            return None
        return Sealer(self.sealing_key.get_secret_value().encode(), self.sealing_key_id)
