"""An in-process identity on port 0 against the real local store and Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from identity.bootstrap import IdentityService, build
from identity.config import IdentitySettings
from parta_common.testing.fakes import FakeClock

from tests.identity.fakes import FakeSms


@dataclass
class Running:
    service: IdentityService
    channel: grpc.aio.Channel
    sms: FakeSms
    settings: IdentitySettings
    clock: FakeClock | None = None  # set where a test drives time by hand


def settings_for(mongo_uri: str, kafka_bootstrap: str, unique: str, **overrides: object) -> IdentitySettings:
    values: dict[str, object] = {
        "mongodb_uri": mongo_uri,
        "mongodb_database": f"t_{unique}",
        "kafka_bootstrap": kafka_bootstrap,
        "kafka_topic_prefix": f"t{unique}.",
        "grpc_port": 0,
        "dev_sms_file": "/dev/null",  # the fake gateway below replaces it
        "address_limit": 10_000,
        "resend_cooldown_seconds": 0,
        **overrides,
    }
    return IdentitySettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def identity(mongo_uri: str, kafka_bootstrap: str, unique: str, mongo_db) -> AsyncIterator[Running]:
    settings = settings_for(mongo_uri, kafka_bootstrap, unique)
    sms = FakeSms()
    service = await build(settings, sms=sms)
    port = await service.runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Running(service, channel, sms, settings)
    finally:
        await channel.close()
        await service.runner.stop()
