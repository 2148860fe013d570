"""The per-replica readers (revocations, chat's live feed) assign every partition of their topic.
Under load a just-created topic can be missing from the broker's metadata for seconds; the reader
then has to fail and be retried, not guess "partition 0" and report itself caught up (CI, stop 24:
a late replica read one partition of three and never saw the revocation)."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from parta_common.events.revocations import TopicNotReady, start_assigned_reader

pytestmark = pytest.mark.integration


async def test_an_unknown_topic_is_refused_rather_than_guessed(kafka_bootstrap: str, unique: str) -> None:
    with pytest.raises(TopicNotReady):
        await start_assigned_reader(kafka_bootstrap, f"{unique}.nowhere", "test-assigned", metadata_wait_seconds=0)


async def test_every_partition_of_a_known_topic_is_assigned(kafka_bootstrap: str, unique: str) -> None:
    topic = f"{unique}.three"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        await admin.close()
    consumer, tps = await start_assigned_reader(kafka_bootstrap, topic, "test-assigned", metadata_wait_seconds=30)
    try:
        assert sorted(tp.partition for tp in tps) == [0, 1, 2]
        assert consumer.assignment() == set(tps)
    finally:
        await consumer.stop()
