"""Settings of media-signal (env prefix MEDIA_SIGNAL_)."""

from __future__ import annotations

from parta_common.settings import ServiceSettings, service_config
from pydantic import Field, SecretStr, field_validator


class MediaSignalSettings(ServiceSettings):
    model_config = service_config("MEDIA_SIGNAL_")

    grpc_port: int = Field(default=50054, ge=0, le=65535)
    # Janus HTTP API, e.g. http://127.0.0.1:8088/janus. No default: an endpoint.
    janus_url: str
    # Comma-separated TURN URIs handed to clients, e.g. "turn:turn.example.org:3478?transport=udp".
    turn_uris: str = ""
    stun_uris: str = ""
    # coturn's static-auth-secret (TURN REST API credentials); required when turn_uris is set.
    turn_secret: SecretStr = SecretStr("")
    turn_ttl_seconds: int = Field(default=600, ge=30, le=86_400)
    # HS256 key for join grants, shared by every media-signal replica. No default.
    join_token_secret: SecretStr
    join_token_ttl_seconds: int = Field(default=120, ge=10, le=3600)
    keepalive_timeout_seconds: float = Field(default=15.0, gt=0.2, le=300)
    room_lease_seconds: float = Field(default=30.0, ge=1, le=600)
    # What other replicas and clients are told when this replica owns a room (host:port).
    advertise_address: str = ""
    # How often a replica sweeps Janus for rooms of ended (or unknown) rooms; 0 turns it off.
    sfu_sweep_seconds: float = Field(default=300.0, ge=0, le=86_400)
    # Attendance (docs/media-signal.md "Attendance"): joining within this long after a lesson's
    # start is on time; leaving within this long before its end is not leaving early.
    attendance_late_grace_seconds: int = Field(default=300, ge=0, le=3600)
    attendance_early_leave_grace_seconds: int = Field(default=120, ge=0, le=3600)

    @field_validator("join_token_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode()) < 32:
            raise ValueError("JOIN_TOKEN_SECRET must be at least 32 bytes")
        return value

    def turn_uri_list(self) -> list[str]:
        return [u.strip() for u in self.turn_uris.split(",") if u.strip()]

    def stun_uri_list(self) -> list[str]:
        return [u.strip() for u in self.stun_uris.split(",") if u.strip()]
