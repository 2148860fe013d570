"""One chat world per module: two in-process replicas on the real store and Kafka."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from parta_common.mongo import create_mongo_client

from tests.chat.support import World


@pytest.fixture(scope="module")
async def world(mongo_uri: str, kafka_bootstrap: str) -> AsyncIterator[World]:
    w = World(mongo_uri, kafka_bootstrap, uuid.uuid4().hex[:10])
    await w.start_replica("a")
    await w.start_replica("b")
    try:
        yield w
    finally:
        await w.stop()
        client = create_mongo_client(mongo_uri, app_name="tests")
        await client.drop_database(w.database)
        await client.close()
