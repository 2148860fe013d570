"""Regression guard, not a timed test: the store commands CheckPermission costs on the common path.

Counted with the kit's StoreCommandCounter (PyMongo command monitoring, attributed to the RPC that
sent each command) on the real store: the count is the code's, not the store's speed. The ceiling
is today's count (issue 18, 2026-12-02); CheckPermission is being moved onto a projection, so lower
the constant with the change that cuts the path, never raise it without saying why in docs/school.md.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from parta.school.v1 import school_pb2 as pb
from parta_common.mongo import create_mongo_client

from tests.school.integration.conftest import Env
from tests.school.integration.world import build_world
from tests.school.support import OPERATOR_PHONE, Mint, Stubs, settings_for

# Store commands per CheckPermission (a student of the class asking to post in its chat).
# Measured 2026-12-02: 3 find. Target from issue 18: served from a projection, so 0.
CHECK_PERMISSION_MAX_COMMANDS = 3
CALLS = 20


@pytest.fixture(scope="module")
async def env(mongo_uri: str, kafka_bootstrap: str) -> AsyncIterator[Env]:
    from school.bootstrap import build

    run = uuid.uuid4().hex[:10]
    mint = Mint()
    prefix = f"t{run}."
    database = f"school_{run}"
    settings = settings_for(mongo_uri, database, kafka_bootstrap, prefix, mongodb_command_metrics=True)
    service = await build(settings, key_source=mint.mint.source())
    port = await service.runner.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    client = create_mongo_client(mongo_uri, app_name="tests")
    try:
        yield Env(
            service, Stubs(channel), mint, mint.user(OPERATOR_PHONE), prefix, client[database], f"127.0.0.1:{port}"
        )
    finally:
        await channel.close()
        await service.runner.stop()
        await client.drop_database(database)
        await client.close()


async def test_check_permission_stays_within_its_store_command_ceiling(env: Env) -> None:
    w = await build_world(env)
    request = pb.CheckPermissionRequest(
        user_id=w.student.user_id,
        school_id=w.school.school_id,
        class_id=w.c5a.class_id,
        action=pb.ACTION_POST_CLASS_CHAT,
    )
    first = await env.stubs.members.CheckPermission(request, metadata=w.admin.md)  # warm-up
    counter = env.service.infra.store_commands
    counter.reset()
    for _ in range(CALLS):
        reply = await env.stubs.members.CheckPermission(request, metadata=w.admin.md)
        assert reply.allowed == first.allowed
    per_call = counter.total("rpc:CheckPermission") / CALLS
    assert per_call <= CHECK_PERMISSION_MAX_COMMANDS, (
        f"CheckPermission: {per_call:.1f} store commands per call; {counter.counts}"
    )
