"""audit benchmark: entries per second appended to one school's chain (1 writer, 4 racing writers on
their own clients: the seq claim and head catch-up under contention), and entries per second through
the recorder — staff–student direct messages published to Kafka, consumed by the audit service's
recorder, submitted to the record log (audit.record.v1) and appended by its chainer, all in this
process as the service runs them (audit.bootstrap.recording), until the last one is in the chain.

    python tests/bench/bench_audit.py      # env PARTA_KAFKA_BOOTSTRAP, PARTA_TEST_MONGODB_URI
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaProducer  # noqa: E402
from audit.adapters.mongo import ENTRIES, MongoChains, indexes  # noqa: E402
from audit.bootstrap import recording  # noqa: E402
from audit.domain.chain import Record  # noqa: E402
from parta.chat.v1 import events_pb2 as chat_pb2  # noqa: E402
from parta.identity.v1 import events_pb2 as identity_pb2  # noqa: E402
from parta.school.v1 import events_pb2 as school_pb2  # noqa: E402
from parta_common.events import topics  # noqa: E402
from parta_common.events.envelope import make_envelope  # noqa: E402
from parta_common.events.outbox import KafkaProducerHandle  # noqa: E402
from parta_common.mongo import create_mongo_client, ensure_indexes  # noqa: E402
from pymongo import AsyncMongoClient, monitoring  # noqa: E402

APPENDS = int(os.environ.get("PARTA_BENCH_AUDIT_APPENDS", "600"))
MESSAGES = int(os.environ.get("PARTA_BENCH_AUDIT_MESSAGES", "1000"))


def _now() -> datetime:
    return datetime.now(UTC)


def _record(school: str, i: int) -> Record:
    return Record(
        school_id=school,
        kind="chat.direct_message",
        actor="t",
        subjects=("s",),
        occurred_at=_now(),
        source=f"ev-{i}",
        source_type="parta.chat.v1.MessagePosted",
        attrs={"chat_id": "dm-1", "seq": str(i), "pair": "staff-student"},
    )


class _NoAdmins:
    async def is_admin(self, user_id: str, school_id: str, credentials: str) -> bool:
        return False


class _Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


async def _appends(uri: str, db_name: str, writers: int, commands: _Commands | None = None) -> float:
    clients = [
        AsyncMongoClient(uri, event_listeners=[commands] if commands else [], tz_aware=True) for _ in range(writers)
    ]
    chains = [MongoChains(c[db_name]) for c in clients]
    school = f"s-{writers}"
    await chains[0].append(_record(school, -1), _now())  # the head exists before the clock starts
    if commands is not None:
        commands.count = 0
    try:
        start = time.perf_counter()

        async def writer(k: int) -> None:
            for i in range(k, APPENDS, writers):
                await chains[k].append(_record(school, i), _now())

        await asyncio.gather(*(writer(k) for k in range(writers)))
        return APPENDS / (time.perf_counter() - start)
    finally:
        for c in clients:
            await c.close()


def _env(payload: Any, aggregate: str, version: int) -> Any:
    return make_envelope(
        payload,
        aggregate_type="bench",
        aggregate_id=aggregate,
        aggregate_version=version,
        producer="bench",
        occurred_at=_now(),
        traceparent="",
    )


async def _through_consumer(env: dict[str, str], db: Any) -> float:
    bootstrap, prefix = env["PARTA_KAFKA_BOOTSTRAP"], f"b{uuid.uuid4().hex[:8]}."
    school = "s-consumer"
    people = [
        (topics.SCHOOL_MEMBERSHIP, _env(school_pb2.MemberJoined(membership=school_pb2.MembershipSnapshot(
            membership_id=f"m-{u}", school_id=school, user_id=u, school_role=role)), school, n))
        for n, (u, role) in enumerate((("t", school_pb2.SCHOOL_ROLE_TEACHER), ("s", school_pb2.SCHOOL_ROLE_STUDENT)), 1)
    ] + [
        (topics.IDENTITY_USER, _env(identity_pb2.ProfileCreated(profile=identity_pb2.ProfileSnapshot(
            user_id=u, age_band=band)), u, 1))
        for u, band in (("t", identity_pb2.AGE_BAND_ADULT), ("s", identity_pb2.AGE_BAND_MINOR))
    ]  # fmt: skip
    chat = chat_pb2.ChatSnapshot(
        chat_id="dm-b", school_id=school, kind=chat_pb2.CHAT_KIND_DIRECT, created_by_user_id="s,t"
    )
    messages = [(topics.CHAT_MESSAGE, _env(chat_pb2.ChatCreated(chat=chat), "dm-b", 1))]
    for i in range(MESSAGES):
        m = chat_pb2.MessageSnapshot(
            chat_id="dm-b", message_id=f"m{i}", seq=i + 1, sender_user_id="t", school_id=school
        )
        messages.append((topics.CHAT_MESSAGE, _env(chat_pb2.MessagePosted(message=m), "dm-b", i + 2)))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        for topic, e in people + messages:
            await producer.send(prefix + topic, e.SerializeToString(), key=e.aggregate_id.encode())
        await producer.flush()
    finally:
        await producer.stop()
    kafka = KafkaProducerHandle(bootstrap, f"bench-audit-{prefix}")
    pipeline = recording(
        db,
        _NoAdmins(),
        bootstrap=bootstrap,
        topic=lambda t: prefix + t,
        group_id=f"{prefix}audit",
        client_id="bench-audit",
        producer=kafka,
    )
    expected = 2 + MESSAGES  # two member_joined, then every message
    start = time.perf_counter()
    await pipeline.start()
    try:
        deadline = start + 600
        while await db[ENTRIES].count_documents({"school_id": school}) < expected:
            if time.perf_counter() > deadline:
                raise TimeoutError("the recorder and the chainer did not finish in 600 s")
            await asyncio.sleep(0.2)
        return expected / (time.perf_counter() - start)
    finally:
        await pipeline.stop()
        await kafka.close()


async def run(env: dict[str, str]) -> list[tuple[str, str]]:
    uri = env["PARTA_TEST_MONGODB_URI"]
    client = create_mongo_client(uri, app_name="bench-audit")
    name = f"bench_audit_{uuid.uuid4().hex[:8]}"
    db = client[name]
    await ensure_indexes(db, indexes())
    rows: list[tuple[str, str]] = []
    try:
        counted = _Commands()
        rate = await _appends(uri, name, 1, counted)
        rows.append((f"appends to one school's chain, 1 writer ({APPENDS})", f"{rate:.0f}/s"))
        rows.append(("  store commands per append, 1 writer", f"{counted.count / APPENDS:.2f}"))
        rows.append(
            (f"appends to one school's chain, 4 racing writers ({APPENDS})", f"{await _appends(uri, name, 4):.0f}/s")
        )
        rate = await _through_consumer(env, db)
        rows.append((f"entries through recorder, record log and chainer ({MESSAGES} DMs)", f"{rate:.0f}/s"))
    finally:
        await client.drop_database(name)
        await client.close()
    return rows


if __name__ == "__main__":
    for row in asyncio.run(run(dict(os.environ))):
        print(f"{row[0]:70} {row[1]}")
