"""Creates every topic of SPEC §2 and §5 that does not exist yet."""

from __future__ import annotations

import time

from supplyflow import config
from supplyflow.errors import SupplyflowError


def topic_specs(settings: config.Settings) -> dict[str, dict[str, str]]:
    """Physical topic name -> topic configs, for every topic the suite reads or writes."""
    specs: dict[str, dict[str, str]] = {}
    for topic in config.ALL_TOPICS:
        cfg = {"cleanup.policy": "compact"} if topic in config.COMPACTED_TOPICS else {}
        specs[settings.topic(topic)] = cfg
    return specs


def ensure_topics(settings: config.Settings, extra: dict[str, dict[str, str]] | None = None) -> list[str]:
    """Create missing topics; returns the names created. Existing topics are checked, not changed."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    wanted = topic_specs(settings)
    wanted.update(extra or {})
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="supplyflow-stack")
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            try:
                admin.create_topics([
                    NewTopic(t, num_partitions=config.TOPIC_PARTITIONS, replication_factor=1, topic_configs=wanted[t])
                    for t in missing
                ])
            except TopicAlreadyExistsError:
                pass  # raced with another `stack up`; the check below still holds
        # a new topic's metadata reaches the broker's cache shortly after creation
        deadline = time.monotonic() + 30
        while True:
            failed = [d for d in admin.describe_topics(list(wanted)) if d.get("error_code", 0)]
            if not failed:
                return missing
            if time.monotonic() > deadline:
                d = failed[0]
                raise SupplyflowError(f"topic {d.get('name', d.get('topic'))} could not be created "
                                      f"(Kafka error {d['error_code']}): see the broker log")
            time.sleep(0.2)
    finally:
        admin.close()


def partition_counts(settings: config.Settings) -> dict[str, int]:
    """Topic -> number of partitions, for the suite's topics that exist."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="supplyflow-status")
    try:
        names = [t for t in topic_specs(settings) if t in set(admin.list_topics())]
        if not names:
            return {}
        return {d.get("name", d.get("topic")): len(d["partitions"]) for d in admin.describe_topics(names)}
    finally:
        admin.close()
