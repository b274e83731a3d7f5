"""Reading our exactly-once topics as subscribers must: isolation.level=read_committed."""

from __future__ import annotations

import time

from supplyflow import config
from supplyflow.errors import SupplyflowError


def read_committed_consumer(settings: config.Settings, **overrides):
    """A kafka-python consumer that sees only committed transactional records."""
    from kafka import KafkaConsumer

    opts = dict(
        settings.kafka_client_config(),
        isolation_level="read_committed",  # kafka-python's default is read_uncommitted
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    opts.update(overrides)
    return KafkaConsumer(**opts)


def read_all(settings: config.Settings, topic: str, timeout_s: float = 60.0,
             start: dict[tuple[str, int], int] | None = None) -> list:
    """Every committed record of `topic`, from the beginning (or the offsets in `start`,
    (topic, partition) -> offset) to its current end."""
    from kafka import TopicPartition

    consumer = read_committed_consumer(settings)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise SupplyflowError(f"topic {topic} does not exist: run `supplyflow stack up`")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        for tp in tps:
            if start and (tp.topic, tp.partition) in start:
                consumer.seek(tp, start[(tp.topic, tp.partition)])
        # with read_committed, end offsets are the last stable offsets
        end = consumer.end_offsets(tps)
        records = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise SupplyflowError(f"reading {topic} did not reach its end offsets within {timeout_s:.0f}s")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def end_offsets(settings: config.Settings, topics: list[str]) -> dict[tuple[str, int], int]:
    """(topic, partition) -> current end offset, for every partition of topics."""
    from kafka import TopicPartition

    consumer = read_committed_consumer(settings)
    try:
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        return {(tp.topic, tp.partition): off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def commit_group_offsets(settings: config.Settings, group_id: str, offsets: dict[tuple[str, int], int]) -> None:
    """Commit `offsets` ((topic, partition) -> next offset) for consumer group `group_id`."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    consumer = KafkaConsumer(**settings.kafka_client_config(), group_id=group_id, enable_auto_commit=False)
    try:
        consumer.commit({TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in offsets.items()})
    finally:
        consumer.close()
