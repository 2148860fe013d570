"""Chat's settings (env prefix CHAT_), validated at start-up."""

from __future__ import annotations

from parta_common.settings import Environment, ServiceSettings, service_config
from pydantic import Field, model_validator


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

    @model_validator(mode="after")
    def _chat_rules(self) -> ChatSettings:
        if self.environment is Environment.PRODUCTION and self.dev_clock_file:
            raise ValueError("CHAT_DEV_CLOCK_FILE is for development only")
        return self
