"""Settings of the audit service (env prefix AUDIT_), validated at start-up."""

from __future__ import annotations

from parta_common.settings import ServiceSettings, service_config
from pydantic import Field


class AuditSettings(ServiceSettings):
    model_config = service_config("AUDIT_")

    grpc_port: int = Field(default=50055, ge=0, le=65535)
    # school's gRPC address (host:port): who administers a school is asked of school. No default: an endpoint.
    school_address: str = Field(min_length=1)
    # Consumer group of the recorder; one chain per school whatever the number of replicas.
    consumer_group: str = "audit.trail"
