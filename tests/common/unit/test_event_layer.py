"""The kit's typed event layer: the router keyed by message class, the one outbox writer, and
the topic names declared once."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from parta.common.v1 import envelope_pb2
from parta.identity.v1 import events_pb2 as identity_pb2
from parta.school.v1 import events_pb2 as school_pb2
from parta_common.events import topics
from parta_common.events.envelope import MalformedEvent, make_envelope, parse_envelope, unpack
from parta_common.events.router import EventRouter
from parta_common.events.writer import Aggregate, OutboxWriter, no_prefix
from parta_common.grpc.context import current_correlation_id

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
WHEN = datetime(2026, 9, 1, 8, 30, tzinfo=UTC)


def _envelope(payload: school_pb2.ClassCreated | identity_pb2.ConsentChanged, version: int = 3):
    return make_envelope(
        payload,
        aggregate_type="class",
        aggregate_id="c1",
        aggregate_version=version,
        producer="test",
        occurred_at=WHEN,
    )


async def test_router_hands_the_typed_message_and_its_envelope_to_the_registered_handler():
    seen: list[tuple[str, int]] = []

    async def on_class(message: school_pb2.ClassCreated, envelope: envelope_pb2.EventEnvelope) -> None:
        seen.append((getattr(message, "class").title, envelope.aggregate_version))

    router = EventRouter()
    router.register(school_pb2.ClassCreated, on_class)
    created = school_pb2.ClassCreated(**{"class": school_pb2.ClassSnapshot(class_id="c1", title="5А")})
    await router(_envelope(created, version=7))
    assert seen == [("5А", 7)]
    assert router.handles(school_pb2.ClassCreated) and not router.handles(school_pb2.ClassUpdated)


async def test_router_ignores_event_types_nobody_registered():
    called = []

    async def on_class(message: school_pb2.ClassCreated, envelope: envelope_pb2.EventEnvelope) -> None:
        called.append(message)

    router = EventRouter()
    router.register(school_pb2.ClassCreated, on_class)
    await router(_envelope(identity_pb2.ConsentChanged(user_id="u1")))
    assert called == []


async def test_one_handler_serves_several_message_types_each_unpacked_as_its_own():
    seen: list[str] = []

    async def on_member(
        message: school_pb2.MemberJoined | school_pb2.MemberLeft, envelope: envelope_pb2.EventEnvelope
    ) -> None:
        seen.append(f"{type(message).__name__}:{message.membership.user_id}")

    router = EventRouter()
    router.register(school_pb2.MemberJoined, on_member)
    router.register(school_pb2.MemberLeft, on_member)
    snapshot = school_pb2.MembershipSnapshot(user_id="u9")
    await router(_envelope(school_pb2.MemberJoined(membership=snapshot)))
    await router(_envelope(school_pb2.MemberLeft(membership=snapshot)))
    assert seen == ["MemberJoined:u9", "MemberLeft:u9"]
    assert router.event_types == {"parta.school.v1.MemberJoined", "parta.school.v1.MemberLeft"}


async def test_a_class_has_one_handler_and_included_routers_may_not_overlap():
    async def handler(message: school_pb2.ClassCreated, envelope: envelope_pb2.EventEnvelope) -> None:
        return None

    router = EventRouter()
    router.register(school_pb2.ClassCreated, handler)
    with pytest.raises(ValueError, match="ClassCreated"):
        router.register(school_pb2.ClassCreated, handler)
    other = EventRouter()
    other.register(school_pb2.ClassCreated, handler)
    with pytest.raises(ValueError):
        router.include(other)
    merged = EventRouter()
    merged.include(other)
    assert merged.handles(school_pb2.ClassCreated)


async def test_a_payload_that_does_not_match_its_declared_type_is_malformed():
    async def handler(message: school_pb2.ClassCreated, envelope: envelope_pb2.EventEnvelope) -> None:
        return None

    router = EventRouter()
    router.register(school_pb2.ClassCreated, handler)
    lying = _envelope(identity_pb2.ConsentChanged(user_id="u1"))
    lying.event_type = "parta.school.v1.ClassCreated"
    with pytest.raises(MalformedEvent):
        await router(lying)


def test_writer_builds_the_record_of_an_event_and_its_aggregate():
    writer = OutboxWriter(producer="school", topic=lambda name: f"dev.{name}", now=lambda: WHEN)
    token = current_correlation_id.set("corr-1")
    try:
        record = writer.record(
            school_pb2.ClassCreated(**{"class": school_pb2.ClassSnapshot(class_id="c1", school_id="s1")}),
            topic=topics.SCHOOL_CLASS,
            aggregate=Aggregate("class", "c1", 4),
            key="s1",
        )
    finally:
        current_correlation_id.reset(token)
    assert record.topic == "dev.school.class.v1"
    assert record.key == "s1"
    envelope = parse_envelope(record.envelope)
    assert envelope.event_id == record.event_id
    assert envelope.event_type == "parta.school.v1.ClassCreated"
    assert (envelope.aggregate_type, envelope.aggregate_id, envelope.aggregate_version) == ("class", "c1", 4)
    assert (envelope.producer, envelope.correlation_id) == ("school", "corr-1")
    assert envelope.occurred_at.ToDatetime(UTC) == WHEN
    assert getattr(unpack(envelope, school_pb2.ClassCreated), "class").school_id == "s1"
    assert record.to_document() == {
        "id": record.event_id,
        "topic": "dev.school.class.v1",
        "key": "s1",
        "envelope": record.envelope,
    }


def test_writer_keys_by_aggregate_by_default_and_takes_an_explicit_time():
    writer = OutboxWriter(producer="identity", topic=no_prefix, now=lambda: WHEN)
    later = datetime(2026, 9, 2, tzinfo=UTC)
    record = writer.record(
        identity_pb2.ConsentChanged(user_id="u1"),
        topic=topics.IDENTITY_USER,
        aggregate=Aggregate("user", "u1", 2),
        occurred_at=later,
    )
    assert (record.topic, record.key) == ("identity.user.v1", "u1")
    assert parse_envelope(record.envelope).occurred_at.ToDatetime(UTC) == later
    assert parse_envelope(record.envelope).correlation_id == ""


def test_topics_are_declared_once_and_deployed():
    assert len(set(topics.ALL)) == len(topics.ALL)
    assert topics.dead_letter(topics.SCHOOL_CLASS) == "school.class.v1.dlq"
    manifest = (ROOT / "deploy/k8s/base/kafka/topics.yaml").read_text()
    for topic in topics.ALL:
        assert topic in manifest, f"{topic} is not created by deploy/k8s/base/kafka/topics.yaml"


# A topic name, alone or after a prefix ("t1.", "{prefix}" in an f-string), with or without ".dlq".
TOPIC_LITERAL = re.compile(r"(?:^|\.)(?:" + "|".join(re.escape(t) for t in topics.ALL) + r")(?:\.dlq)?$")
# Where topic names must come from parta_common.events.topics: the kit, the services on the event
# layer and their tests. chat moves on its own branch (issue 12, h-chat-recut).
ON_THE_KIT = (
    "libs",
    "services/identity",
    "services/school",
    "services/media-signal",
    "services/audit",
    "tests/identity",
    "tests/school",
    "tests/media_signal",
    "tests/audit",
    "tests/deploy",
)
DECLARED = ROOT / "libs/common/src/parta_common/events/topics.py"


@pytest.mark.parametrize("tree", ON_THE_KIT)
def test_topic_names_are_spelled_only_where_they_are_declared(tree: str):
    offenders = []
    for path in (ROOT / tree).rglob("*.py"):
        if path == DECLARED or ".venv" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and TOPIC_LITERAL.search(node.value):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not offenders, "use parta_common.events.topics:\n" + "\n".join(offenders)
