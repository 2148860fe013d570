"""The web gateway's settings (env prefix WEB_), validated at start-up."""

from __future__ import annotations

from pathlib import Path

from parta_common.settings import Environment, ProcessSettings, service_config
from pydantic import Field, model_validator

# services/web/app/dist: where the web app's build (npm run build in services/web/app) lands.
DEFAULT_STATIC_DIR = str(Path(__file__).resolve().parents[2] / "app" / "dist")


class WebSettings(ProcessSettings):
    model_config = service_config("WEB_")

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    # The services behind the gateway. No defaults: a gateway that is not told where they are
    # refuses to start rather than guessing.
    identity_address: str
    school_address: str
    chat_address: str
    media_signal_address: str
    audit_address: str

    static_dir: str = DEFAULT_STATIC_DIR
    # The page's own origin(s) for the CSRF check, comma-separated ("https://parta.example.org").
    # Required in production. Empty (development only): the request's Host header is the origin.
    public_origins: str = ""
    # Secure cookies need https; browsers treat http://127.0.0.1 and localhost as secure, so local
    # runs keep it on too. Production refuses false.
    cookie_secure: bool = True
    # How long the browser keeps the session cookies; identity ends idle sessions after 60 days anyway.
    session_cookie_max_age_seconds: int = Field(default=60 * 86_400, ge=300)
    # Refresh the access token this many seconds before it expires.
    refresh_margin_seconds: float = Field(default=30.0, ge=0, le=600)

    # Limits. JSON bodies of unary calls; uploads (20 MiB by default; streamed, so it may be raised up
    # to chat's CHAT_MAX_FILE_BYTES, 256 MiB) plus room for a multipart envelope; the chunk size sent
    # to chat (≤ CHAT_UPLOAD_CHUNK_MAX_BYTES).
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    # A resumable upload (X-Parta-Resumable: 1; the web app's materials): the whole file's size, up to
    # chat's CHAT_MAX_FILE_BYTES (256 MiB) by default, since a broken one goes on where it stopped.
    max_resumable_upload_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    upload_chunk_bytes: int = Field(default=256 * 1024, ge=1024)
    # WebSocket: largest client frame, and messages a client may send per second (burst = 2 s worth).
    ws_max_frame_bytes: int = Field(default=64 * 1024, ge=1024)
    ws_messages_per_second: float = Field(default=20.0, gt=0)
    ws_heartbeat_seconds: float = Field(default=25.0, gt=0)
    # Deadline of one unary call to a service.
    rpc_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    # Slow clients: a request body (JSON or upload) that sends nothing for this long is dropped;
    # a JSON body must arrive whole within body_seconds, an upload within upload_deadline_seconds
    # (also the deadline of chat's UploadFile call). keepalive_seconds closes a connection that
    # sends no (or only part of a) request line and headers for that long.
    upload_idle_seconds: float = Field(default=30.0, gt=0, le=600)
    upload_deadline_seconds: float = Field(default=600.0, gt=0, le=3600)
    body_seconds: float = Field(default=30.0, gt=0, le=600)
    keepalive_seconds: float = Field(default=15.0, gt=0, le=600)
    max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)

    @model_validator(mode="after")
    def _web_rules(self) -> WebSettings:
        if self.environment is Environment.PRODUCTION:
            if not self.cookie_secure:
                raise ValueError("WEB_COOKIE_SECURE=false is refused in production: session cookies need https")
            if self.http_host == "127.0.0.1":
                raise ValueError("WEB_HTTP_HOST must be set explicitly in production")
            if not self.origins():
                raise ValueError(
                    "WEB_PUBLIC_ORIGINS is required in production (the page's https origin): without it the"
                    " same-origin check would trust the Host header"
                )
        if self.upload_chunk_bytes > self.max_message_bytes:
            raise ValueError("WEB_UPLOAD_CHUNK_BYTES must not exceed WEB_MAX_MESSAGE_BYTES")
        return self

    def origins(self) -> tuple[str, ...]:
        return tuple(o.strip().rstrip("/").lower() for o in self.public_origins.split(",") if o.strip())
