"""Issue 13: readiness is honest about Kafka — a real broker round trip with a short timeout, not
cached metadata (which stayed "up" through a 43 s outage)."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from parta_common.events.outbox import READY_TIMEOUT_SECONDS, KafkaProducerHandle

from tests.chaos import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local"))
import infra

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(unique: str) -> Any:
    node = infra.KafkaNode(name=f"kafka-ready-{unique}", port=free_port(), controller_port=free_port())
    node.up()
    yield node
    node.down(kill=True)
    shutil.rmtree(node.data, ignore_errors=True)


async def _until(check: Any, expected: bool, timeout: float) -> float:
    started = time.monotonic()
    while await check() is not expected:
        if time.monotonic() - started > timeout:
            raise AssertionError(f"is_up() did not become {expected} in {timeout}s")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def test_readiness_follows_the_broker_down_and_back(broker: Any) -> None:
    handle = KafkaProducerHandle(broker.bootstrap, "ready-probe")
    try:
        assert await handle.is_up()
        await asyncio.to_thread(broker.down, kill=True)  # a crash; infra's probes run their own loop
        # The producer's cached metadata still lists the broker; the probe must not believe it.
        assert handle._producer is not None and handle._producer.client.cluster.brokers()
        started = time.monotonic()
        assert not await handle.is_up()
        assert time.monotonic() - started <= READY_TIMEOUT_SECONDS + 1.0
        await asyncio.to_thread(broker.up)
        await _until(handle.is_up, True, timeout=60)
    finally:
        await handle.close()
