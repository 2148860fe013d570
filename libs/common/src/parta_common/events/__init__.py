"""Domain events on Kafka: topic names (`topics`), the envelope (`envelope`), the one outbox
record writer (`writer`), the outbox and its relay (`outbox`), typed dispatch of consumed events
(`router`) and the idempotent consumer runner (`consumer`)."""
