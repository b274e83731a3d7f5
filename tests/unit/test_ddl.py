"""The guarantees every source and sink declaration carries (connectors/ddl.py)."""

from __future__ import annotations

import dataclasses

import pytest

from connectors import ddl
from connectors.schema_ddl import valid_columns
from supplyflow import config, flinkconf

pytestmark = pytest.mark.unit

SETTINGS = dataclasses.replace(config.Settings(), namespace="ns1")


def _kafka_sinks() -> tuple[str, ...]:
    return (ddl.kafka_json_sink("t", "topic", ["a STRING"], "a", SETTINGS, "p1"),
            ddl.kafka_raw_sink("t", "topic", SETTINGS, "p2"),
            ddl.kafka_upsert_sink("t", "topic", ["a STRING", "b STRING"], ["a", "b"], SETTINGS, "p3"))


def test_kafka_sinks_are_exactly_once_within_the_broker_timeout():
    for sql in _kafka_sinks():
        assert "'sink.delivery-guarantee' = 'exactly-once'" in sql
        assert "'sink.transactional-id-prefix' = 'p" in sql
        assert config.SINK_TRANSACTION_TIMEOUT_MS < config.BROKER_TRANSACTION_MAX_TIMEOUT_MS
        assert f"'properties.transaction.timeout.ms' = '{config.SINK_TRANSACTION_TIMEOUT_MS}'" in sql


def test_kafka_sinks_batch_for_less_than_a_checkpoint():
    """Records are sent in batches (no wake-up of the producer's I/O thread per record),
    waiting far less than a checkpoint interval, after which they are committed anyway."""
    interval = flinkconf.flink_config(SETTINGS)["execution.checkpointing.interval"]
    assert interval.endswith("s") and interval[:-1].isdigit(), interval
    interval_ms = int(interval[:-1]) * 1000
    for sql in _kafka_sinks():
        linger = int(sql.split("'properties.linger.ms' = '")[1].split("'")[0])
        assert 0 < linger <= interval_ms // 100
        assert f"'properties.batch.size' = '{ddl.SINK_BATCH_BYTES}'" in sql


def test_upsert_sink_keys_its_records_by_the_primary_key():
    one = ddl.kafka_upsert_sink("t", "topic", ["a STRING", "b BIGINT"], ["a"], SETTINGS, "p")
    two = ddl.kafka_upsert_sink("t", "topic", ["a STRING", "b STRING"], ["a", "b"], SETTINGS, "p")
    for sql, key_format in ((one, "raw"), (two, "json")):
        assert "'connector' = 'upsert-kafka'" in sql and f"'key.format' = '{key_format}'" in sql
    assert "PRIMARY KEY (a) NOT ENFORCED" in one and "PRIMARY KEY (a, b) NOT ENFORCED" in two


def test_sources_read_committed():
    for sql in (ddl.raw_kafka_source("s", "topic", SETTINGS, "g", bounded=True),
                ddl.valid_events_source("s", "topic", ["event_time BIGINT"], SETTINGS, "g", bounded=False)):
        assert "'properties.isolation.level' = 'read_committed'" in sql


def test_jdbc_sink_upserts_on_its_key_and_has_no_ltz():
    sql = ddl.jdbc_upsert_sink("t", "alerts", ["alert_id STRING", "at TIMESTAMP_LTZ(3)"], ["alert_id"], SETTINGS)
    assert "PRIMARY KEY (alert_id) NOT ENFORCED" in sql and "TIMESTAMP_LTZ" not in sql
    insert = ddl.insert_select("t", ["alert_id STRING", "at TIMESTAMP_LTZ(3)"], "v", jdbc=True)
    assert "CAST(at AS TIMESTAMP(3))" in insert


def test_jdbc_sinks_send_their_batches_as_multi_row_upserts():
    """The driver rewrites a sink's batch into multi-row INSERT … ON CONFLICT statements
    (about 30 % less CPU per event in the suite, benchmarks/README.md). That is safe only
    because every JDBC sink upserts on a key, so its buffer holds one row per key and no
    statement updates a row twice."""
    sql = ddl.jdbc_upsert_sink("t", "alerts", ["alert_id STRING"], ["alert_id"], SETTINGS)
    url = sql.split("'url' = '")[1].split("'")[0]
    assert "reWriteBatchedInserts=true" in url.split("?", 1)[1].split("&")
    assert "PRIMARY KEY (alert_id)" in sql


def test_bounded_end_offsets_are_explicit():
    sql = ddl.raw_kafka_source("s", "topic", SETTINGS, "g", bounded=True, end_offsets={1: 7, 0: 3})
    assert "'scan.bounded.specific-offsets' = 'partition:0,offset:3;partition:1,offset:7'" in sql


def test_raw_source_has_watermarks_on_the_record_time_only_when_asked():
    assert "WATERMARK" not in ddl.raw_kafka_source("s", "topic", SETTINGS, "g", bounded=False)
    sql = ddl.raw_kafka_source("s", "topic", SETTINGS, "g", bounded=False, watermark=True)
    assert "WATERMARK FOR src_timestamp AS src_timestamp" in sql


def test_transactional_ids_are_unique_per_namespace_job_and_sink():
    ids = {SETTINGS.transactional_id_prefix(job, sink) for job in ("edge", "shipment-matching")
           for sink in ("dlq", "alerts_topic")}
    assert len(ids) == 4 and all(i.startswith("ns1-supplyflow-") for i in ids)


def test_valid_columns_follow_the_schemas():
    cols = valid_columns(config.PURCHASE_ORDERS)
    assert "`event_time` BIGINT" in cols and "`ordered_qty` BIGINT" in cols and "`po_line` INT" in cols
    assert "`lead_time_days` DOUBLE" in valid_columns(config.REORDER_POLICIES)


def test_committed_catalog_is_the_generated_one(monkeypatch):
    """sql/flink/catalog.sql is the catalog `supplyflow sql` declares for the local
    stack's defaults, password replaced: regenerate it with `supplyflow sql --catalog`."""
    import os

    from supplyflow import sql_client

    for name in [n for n in os.environ if n.startswith("SUPPLYFLOW_")]:
        monkeypatch.delenv(name)
    settings = config.settings()
    text = sql_client.printable_catalog(settings)
    assert sql_client.CATALOG_FILE.read_text() == text, \
        "sql/flink/catalog.sql is stale: run `supplyflow sql --catalog > sql/flink/catalog.sql`"
    passwords = {line.strip() for line in text.splitlines() if "'password'" in line}
    assert passwords == {"'password' = '<SUPPLYFLOW_PG_PASSWORD>',"}  # no credentials in the repo
    for table in config.TABLES:
        assert f"CREATE TEMPORARY TABLE `{table}`" in text
