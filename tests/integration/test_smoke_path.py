"""The foundation's exactly-once path end to end: Kafka → Flink (MiniCluster) → Kafka + PostgreSQL."""

from __future__ import annotations

import base64
import json

import psycopg
import pytest

from supplyflow import config, kafka_io, runner

pytestmark = pytest.mark.integration

# (topic, key, value, expected error_detail or None when accepted) — one edge case each
CASES = [
    (config.INVENTORY_MOVEMENTS, b"SKU1|WH1", b'{"event_id": "ok-1"}', None),                # a JSON object passes
    (config.INVENTORY_MOVEMENTS, b"SKU1|WH1", b"not json", "record value is not parseable JSON"),
    (config.INVENTORY_MOVEMENTS, None, b'{"event_id": "trunc', "record value is not parseable JSON"),
    (config.PURCHASE_ORDERS, b"PO-1", b"\xff\xfe{}", "record value is not UTF-8"),             # kept as base64
    (config.PURCHASE_ORDERS, b"PO-1", None, "record has no value (tombstone)"),
    (config.SHIPMENT_EVENTS, b"SH-1", b"", "record value is empty"),
    (config.SHIPMENT_EVENTS, b"SH-1", b"[1, 2]", "record value is JSON but not an object"),
    (config.REORDER_POLICIES, b"SKU1|WH1", b"42", "record value is JSON but not an object"),
    (config.REORDER_POLICIES, b"SKU1|WH1", b'{"event_id": "ok-2", "x": [1]}', None),        # nested object passes
]


def _produce(settings: config.Settings) -> dict[tuple[str, int, int], tuple]:
    """Produce CASES; returns (topic, partition, offset) -> case."""
    from kafka import KafkaProducer

    producer = KafkaProducer(**settings.kafka_client_config(), acks="all")
    sent = {}
    for case in CASES:
        topic, key, value, _ = case
        meta = producer.send(settings.topic(topic), key=key, value=value).get(timeout=30)
        sent[(meta.topic, meta.partition, meta.offset)] = case
    producer.close()
    return sent


@pytest.fixture(scope="module")
def smoke_run(ns_settings):
    sent = _produce(ns_settings)
    runner.run(["smoke"], ns_settings, bounded=True, parallelism=1)
    return sent


def _expected(sent) -> dict[str, dict]:
    expected = {}
    for (topic, partition, offset), (_, key, value, detail) in sent.items():
        if detail is None:
            continue
        try:
            text, encoding = (value.decode("utf-8"), None) if value is not None else (None, None)
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(value).decode(), "base64"
        expected[f"{topic}:{partition}:{offset}"] = {
            "source_topic": topic, "source_partition": partition, "source_offset": offset,
            "key": key.decode() if key is not None else None, "value": text, "value_encoding": encoding,
            "error_code": "INVALID_JSON", "error_detail": detail,
        }
    return expected


def test_dlq_topic_has_each_rejected_record_exactly_once(smoke_run, ns_settings):
    records = kafka_io.read_all(ns_settings, ns_settings.topic(config.DLQ_TOPIC))
    expected = _expected(smoke_run)
    got = [json.loads(r.value) for r in records]
    assert sorted(g["dlq_id"] for g in got) == sorted(expected)  # exactly once each, nothing else
    for record, value in zip(records, got):
        assert record.key.decode() == value["source_topic"]  # SPEC §3: key = source topic
        want = expected[value["dlq_id"]]
        assert {k: value[k] for k in want} == want
        assert value["detected_at"].endswith("Z") and value["source_timestamp"] > 0


def test_dlq_table_matches_topic(smoke_run, ns_settings):
    expected = _expected(smoke_run)
    with psycopg.connect(**ns_settings.pg_conninfo()) as conn:
        rows = conn.execute(
            "select dlq_id, source_topic, source_partition, source_offset, key, value, value_encoding,"
            " error_code, error_detail from scm.dlq_events"
        ).fetchall()
    assert {r[0]: dict(zip(
        ["source_topic", "source_partition", "source_offset", "key", "value", "value_encoding",
         "error_code", "error_detail"], r[1:])) for r in rows} == expected


def test_bounded_rerun_is_idempotent_in_postgres(smoke_run, ns_settings):
    """A replay from the earliest offset rewrites the same rows: upsert on dlq_id."""
    runner.run(["smoke"], ns_settings, bounded=True, parallelism=2)
    with psycopg.connect(**ns_settings.pg_conninfo()) as conn:
        count, distinct = conn.execute("select count(*), count(distinct dlq_id) from scm.dlq_events").fetchone()
    assert count == distinct == len(_expected(smoke_run))
