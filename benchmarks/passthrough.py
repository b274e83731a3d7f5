"""The limit of `supplyflow bench suite`: a bare Kafka → Flink SQL → Kafka pass-through.

Reads the four input topics as raw bytes and copies every record, unparsed, to one
exactly-once output topic (`bench.passthrough`), with the same source options, checkpoint
interval, state backend and cluster as the suite. Whatever the suite does beyond this —
parsing, validation, dedup, joins, per-key state, the database — is what the suite's
throughput pays for. Submitted like a job: `supplyflow submit passthrough`.
"""

from __future__ import annotations

from connectors import ddl
from supplyflow import config, contracts

NAME = "passthrough"
OUTPUT_TOPIC = "bench.passthrough"


def build(t_env, settings: config.Settings, bounded: bool, name: str = NAME, through=None, watermark: bool = False):
    """Sources: the raw input topics; sink: one exactly-once topic; returns the StatementSet.

    For the floors built on it (benchmarks/keyed_floor.py), as job `name`: `through(t_env,
    records)` turns the union of the sources (record_key, record_value) into the Table
    written instead; `watermark`: the sources have watermarks on the Kafka record time."""
    selects = []
    for i, topic in enumerate(contracts.INPUT_SCHEMAS):
        t_env.execute_sql(ddl.raw_kafka_source(f"raw_{i}", settings.topic(topic), settings,
                                               group_id=group_id(settings, name), bounded=bounded,
                                               watermark=watermark))
        selects.append(f"SELECT record_key, record_value FROM raw_{i}")
    t_env.execute_sql(ddl.kafka_raw_sink("copied", settings.topic(OUTPUT_TOPIC), settings,
                                         transactional_id_prefix=settings.transactional_id_prefix(name, "copied")))
    statements = t_env.create_statement_set()
    if through is None:
        statements.add_insert_sql("INSERT INTO copied " + " UNION ALL ".join(selects))
    else:
        statements.add_insert("copied", through(t_env, t_env.sql_query(" UNION ALL ".join(selects))))
    return statements


def group_id(settings: config.Settings, name: str = NAME) -> str:
    return settings.transactional_id_prefix(name, "source")
