"""Domain events on Kafka: the envelope, the outbox and its relay, the idempotent consumer runner."""
