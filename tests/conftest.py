"""Shared test fixtures. Tiers come from the path: */unit/*, */integration/*, e2e/* and web/* (e2e),
store/*, containers/*, faults/*.

Integration and e2e tests need the real local Kafka and Mongo-wire store; `make test` starts them
and passes their addresses in PARTA_KAFKA_BOOTSTRAP and PARTA_TEST_MONGODB_URI. A missing address
is an error, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_root = Path(__file__).resolve().parent
    for item in items:
        # Relative to tests/, so a checkout under a directory named e.g. "store" is not a tier.
        path = Path(str(item.fspath)).resolve()
        parts = path.relative_to(tests_root).parts if path.is_relative_to(tests_root) else path.parts
        if "containers" in parts:  # the built images as containers: `make test-containers`, not `make test`
            item.add_marker(pytest.mark.containers)
        elif "faults" in parts:
            # Minutes of killed brokers and replicas: `make test-faults`, not `make test`.
            item.add_marker(pytest.mark.faults)
        elif "e2e" in parts or (parts[:1] == ("web",) and "unit" not in parts):
            # tests/web: the web app in Chromium against real services (its unit/ checks the sources).
            item.add_marker(pytest.mark.e2e)
        elif "integration" in parts or "store" in parts:
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "unit: no infrastructure")


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run through `make test` (deploy/local/testrun.py) to start the infrastructure")
    return value


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return _required_env("PARTA_KAFKA_BOOTSTRAP")


@pytest.fixture(scope="session")
def mongo_uri() -> str:
    return _required_env("PARTA_TEST_MONGODB_URI")


@pytest.fixture
def unique() -> str:
    """A random suffix so tests never share topics, groups or databases."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def mongo_db(mongo_uri: str, unique: str) -> AsyncIterator[Any]:
    from parta_common.mongo import create_mongo_client

    client = create_mongo_client(mongo_uri, app_name="tests")
    name = f"t_{unique}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()
