"""`supplyflow doctor`: passes on a prepared namespace, and names what would break
exactly-once — with a fix — when it is not."""

from __future__ import annotations

import pytest

from supplyflow import config, doctor
from tests.helpers import cli, ns_env, why_failed

pytestmark = pytest.mark.integration


def test_doctor_passes_on_a_prepared_namespace(ns_settings):
    out = cli("doctor", env=ns_env(ns_settings))
    assert out.returncode == 0, why_failed(out)
    assert "FAIL" not in out.stdout and ", 0 failed" in out.stdout
    for job in ("shipment-matching", "eta-exceptions", "inventory", "reorder"):  # built and read back
        assert f"ok    {job}/alerts_topic: transactional-id prefix" in out.stdout
    assert "ok    edge/raw_purchase_orders: source reads read_committed" in out.stdout
    assert f"ok    topic {ns_settings.topic(config.INVENTORY_POSITIONS_TOPIC)}: compacted" in out.stdout
    assert "ok    broker transactions v1 (v1 expected)" in out.stdout


def test_a_broker_on_transactions_v2_is_named_by_doctor_and_pinned_back_by_stack_up(ns_settings):
    """Transactions v2 make the Kafka sink's recovery look fenced (kafka_broker.py)."""
    from kafka import KafkaAdminClient

    from supplyflow.stack.kafka_broker import kafka_transaction_version

    admin = KafkaAdminClient(**ns_settings.kafka_client_config())
    try:
        admin.update_features({"transaction.version": 2})
        failed = [c for c in doctor.kafka_checks(ns_settings, {}) if not c.ok]
        out = cli("stack", "up")
        version = kafka_transaction_version(admin)
    finally:
        admin.update_features({"transaction.version": ("SAFE_DOWNGRADE", 1)})
        admin.close()
    assert [c.name for c in failed] == ["broker transactions v2 (v1 expected)"]
    assert "downgrade --feature transaction.version=1" in failed[0].fix
    assert out.returncode == 0 and "transaction.version 2 -> 1" in out.stdout
    assert version == 1


def test_doctor_fails_with_a_fix_when_topics_and_database_are_missing(stack):
    out = cli("doctor", env={"SUPPLYFLOW_NAMESPACE": "nosuchns", "SUPPLYFLOW_PG_DB": "supplyflow_nosuchns"})
    assert out.returncode == 1
    assert "FAIL  PostgreSQL supplyflow@localhost:5432/supplyflow_nosuchns reachable" in out.stdout
    assert "FAIL  topic nosuchns.scm.dlq exists\n        fix: run `supplyflow stack up`" in out.stdout


def test_doctor_names_shared_prefixes_uncommitted_reads_and_long_timeouts(ns_settings):
    sink = {"connector": "kafka", "sink.delivery-guarantee": "exactly-once",
            "sink.transactional-id-prefix": "same", "properties.transaction.timeout.ms": "600000"}
    declared = {"job-a": {"out": sink},
                "job-b": {"out": dict(sink, **{"properties.transaction.timeout.ms": "3600000"}),
                          "src": {"connector": "kafka", "scan.startup.mode": "earliest-offset"}}}
    failed = {c.name: c for c in doctor.kafka_checks(ns_settings, declared) if not c.ok}
    assert set(failed) == {"job-b/out: transactional-id prefix 'same' unique",
                           "job-b/out: transaction timeout 3600000 ms ≤ broker maximum 900000 ms",
                           "job-b/src: source reads read_committed"}
    assert "fence each other" in failed["job-b/out: transactional-id prefix 'same' unique"].fix
    assert failed["job-b/src: source reads read_committed"].detail == "read_uncommitted"
