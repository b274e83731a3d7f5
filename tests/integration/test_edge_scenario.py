"""The edge job over a whole generated scenario: every fault kind of SPEC §3 interleaved
with valid traffic. Expectations come from the generator's own labels, not the job's code."""

from __future__ import annotations

import json
from collections import Counter

import psycopg
import pytest

from supplyflow import config, kafka_io, runner
from supplyflow.produce import produce
from testdata import generator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def faults_run(ns_settings):
    scenario = generator.generate("faults", seed=11)
    produce(ns_settings, scenario.records, progress=False)
    runner.run(["edge"], ns_settings, bounded=True, parallelism=2)
    return scenario


def _value_text(raw: bytes | None) -> str | None:
    import base64

    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode()


def test_every_invalid_record_is_in_the_dlq_table_with_its_code(faults_run, ns_settings):
    want = Counter((ns_settings.topic(r.topic), r.expect, _value_text(r.value))
                   for r in faults_run.records if r.expect not in ("valid", "duplicate"))
    with psycopg.connect(**ns_settings.pg_conninfo()) as conn:
        rows = conn.execute("select source_topic, error_code, value from scm.dlq_events").fetchall()
    assert Counter(rows) == want
    assert len(set(c for _, c, _ in rows)) == 8  # every SPEC §3 code occurs


def test_dlq_topic_holds_the_same_records_once(faults_run, ns_settings):
    records = kafka_io.read_all(ns_settings, ns_settings.topic(config.DLQ_TOPIC))
    ids = [json.loads(r.value)["dlq_id"] for r in records]
    assert len(ids) == len(set(ids)) == sum(1 for r in faults_run.records if r.expect not in ("valid", "duplicate"))


def test_valid_records_flow_and_duplicates_are_dropped(faults_run, ns_settings):
    for topic, valid_topic in config.VALID_TOPICS.items():
        got = Counter(json.loads(r.value)["event_id"]
                      for r in kafka_io.read_all(ns_settings, ns_settings.topic(valid_topic)))
        want = Counter(e["event_id"] for e in faults_run.valid_events(topic))
        assert got == want, topic
        assert all(n == 1 for n in got.values())
