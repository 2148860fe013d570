"""An in-process school service per test module: real store and Kafka, tokens minted locally."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from parta_common.mongo import create_mongo_client

from tests.school.support import OPERATOR_PHONE, FakeIdentityProfiles, Mint, Stubs, User, settings_for


@dataclass
class Env:
    service: Any
    stubs: Stubs
    mint: Mint
    operator: User
    prefix: str
    db: Any
    address: str
    identity: FakeIdentityProfiles


@pytest.fixture(scope="module")
async def env(mongo_uri: str, kafka_bootstrap: str) -> AsyncIterator[Env]:
    from school.bootstrap import build

    run = uuid.uuid4().hex[:10]
    mint = Mint()
    prefix = f"t{run}."
    database = f"school_{run}"
    identity = FakeIdentityProfiles()
    identity_address = await identity.start()
    service = await build(
        settings_for(mongo_uri, database, kafka_bootstrap, prefix, identity_address=identity_address),
        key_source=mint.mint.source(),
    )
    port = await service.runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    client = create_mongo_client(mongo_uri, app_name="tests")
    try:
        yield Env(
            service,
            Stubs(channel),
            mint,
            mint.user(OPERATOR_PHONE),
            prefix,
            client[database],
            f"127.0.0.1:{port}",
            identity,
        )
    finally:
        await channel.close()
        await service.runner.stop()
        await identity.stop()
        await client.drop_database(database)
        await client.close()
