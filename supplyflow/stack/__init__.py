"""`supplyflow stack up|down|status`: the local Kafka broker, PostgreSQL, topics,
migrations and, on request, a standalone Flink cluster."""

from __future__ import annotations

from supplyflow import config
from supplyflow.stack.flink_cluster import FlinkCluster
from supplyflow.stack.kafka_broker import KafkaBroker, pin_transaction_version
from supplyflow.stack.migrations import migrate
from supplyflow.stack.postgres import Postgres
from supplyflow.stack.topics import ensure_topics, partition_counts


def up(settings: config.Settings, flink_cluster: bool = False) -> None:
    """Start what is not running yet, create missing topics, apply pending migrations."""
    broker = KafkaBroker(settings)
    print(f"kafka       {broker.start()}", flush=True)
    if broker.is_local():
        pinned = pin_transaction_version(settings)
        if pinned:
            print(f"kafka       {pinned} (see supplyflow/stack/kafka_broker.py)", flush=True)
    print(f"postgres    {Postgres(settings).start()}", flush=True)
    created = ensure_topics(settings)
    print(f"topics      {len(created)} created, {len(config.ALL_TOPICS)} in place", flush=True)
    applied = migrate(settings)
    print(f"migrations  {', '.join(applied) if applied else 'up to date'}", flush=True)
    if flink_cluster:
        print(f"flink       {FlinkCluster(settings).start()}", flush=True)


def create_namespace(settings: config.Settings, namespace: str) -> config.Settings:
    """Settings of a new, isolated namespace on the running stack: its own topics
    (`<namespace>.scm.*`) and its own migrated database (`supplyflow_<namespace>`)."""
    import dataclasses

    import psycopg

    ns_settings = dataclasses.replace(settings, namespace=namespace, pg_db=f"supplyflow_{namespace}")
    with psycopg.connect(**settings.pg_conninfo(), autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (ns_settings.pg_db,)).fetchone():
            conn.execute(f'create database "{ns_settings.pg_db}"')
    ensure_topics(ns_settings)
    migrate(ns_settings)
    return ns_settings


def in_namespace(topic: str, namespace: str) -> bool:
    """Whether `topic` belongs to the throw-away `namespace`: it is named `<namespace>.*`, or
    it is an internal topic a stream processor made for one of those, as Quix Streams does
    for the benchmark's peer (`changelog__<group>--<namespace>.<topic>--<store>`, and
    `repartition__…` likewise)."""
    return topic.startswith(f"{namespace}.") or (
        topic.startswith(("changelog__", "repartition__")) and f"--{namespace}." in topic)


def drop_namespace(settings: config.Settings, ns_settings: config.Settings) -> list[str]:
    """Remove a namespace made by create_namespace: its database and its topics (every
    topic `in_namespace`, also those a benchmark or its peer added). Returns the topics
    deleted. Never the default namespace: it has no prefix to tell its topics apart."""
    import psycopg
    from kafka import KafkaAdminClient

    if not ns_settings.namespace:
        raise ValueError("the default namespace is not a throw-away namespace")
    with psycopg.connect(**settings.pg_conninfo(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{ns_settings.pg_db}" with (force)')
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="supplyflow-stack")
    try:
        mine = sorted(t for t in admin.list_topics() if in_namespace(t, ns_settings.namespace))
        if mine:
            admin.delete_topics(mine)
        return mine
    finally:
        admin.close()


def down(settings: config.Settings) -> None:
    """Stop what `up` started. Data directories are never deleted."""
    print(f"flink       {FlinkCluster(settings).stop()}", flush=True)
    print(f"postgres    {Postgres(settings).stop()}", flush=True)
    print(f"kafka       {KafkaBroker(settings).stop()}", flush=True)


def status(settings: config.Settings) -> bool:
    """Print what runs where; True when Kafka and PostgreSQL both run."""
    rows = [
        ("kafka", *KafkaBroker(settings).status()),
        ("postgres", *Postgres(settings).status()),
        ("flink", *FlinkCluster(settings).status()),
    ]
    for name, state, where in rows:
        print(f"{name:<10}  {state:<8}  {where}")
    kafka_ok, pg_ok = rows[0][1] in ("running", "reachable"), rows[1][1] == "running"
    if kafka_ok:
        counts = partition_counts(settings)
        missing = [t for t in (settings.topic(n) for n in config.ALL_TOPICS) if t not in counts]
        print(f"{'topics':<10}  {len(counts)} present" + (f", missing: {', '.join(missing)}" if missing else ""))
    return kafka_ok and pg_ok
