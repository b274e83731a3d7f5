"""A malformed-input flood through the live edge job: more than 10,000 bad records of every
fault kind the generator knows, interleaved with valid traffic. Every bad record reaches
the DLQ once with its code and Kafka coordinates, the job never restarts, and the valid
records pass exactly as the generator's ledger says. Expectations come from the
generator's labels and from the raw topics as the broker stored them, not from the job."""

from __future__ import annotations

import json
from collections import Counter

import psycopg
import pytest

from supplyflow import config, kafka_io, metrics, runner
from supplyflow.produce import produce
from testdata import faults, generator
from tests.helpers import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def flood(ns_settings):
    scenario = generator.generate("faults", seed=21, size=18_000)
    job = runner.submit("edge", ns_settings, bounded=False)  # live: the flood arrives while it runs
    bad = sum(1 for r in scenario.records if r.expect not in ("valid", "duplicate"))
    valid = sum(1 for r in scenario.records if r.expect == "valid")

    def committed_everywhere() -> bool:
        """The table and, read_committed, the DLQ and valid topics hold as many records as
        expected: the live job's last transaction is committed before it is cancelled."""
        with psycopg.connect(**ns_settings.pg_conninfo()) as conn:
            table = conn.execute("select count(*) from scm.dlq_events").fetchone()[0]
        dlq = len(kafka_io.read_all(ns_settings, ns_settings.topic(config.DLQ_TOPIC)))
        passed = sum(len(kafka_io.read_all(ns_settings, ns_settings.topic(t))) for t in config.VALID_TOPICS.values())
        return table >= bad and dlq >= bad and passed >= valid

    try:
        produce(ns_settings, scenario.records, progress=False)
        wait_for(committed_everywhere, "the flood's records in the DLQ table and topics", timeout_s=300)
        report = metrics.job_report(runner.job_name("edge", ns_settings))
    finally:
        job.get_job_client().cancel().result()
    return scenario, report


def _expected_dlq(settings, scenario) -> dict[str, str]:
    """dlq_id -> error code, for every bad record as the broker stored it (topic, partition,
    offset), labelled by the generator."""
    labels: dict[bytes | None, set[str]] = {}
    for r in scenario.records:
        labels.setdefault(r.value, set()).add(r.expect)
    out = {}
    for topic in config.INPUT_TOPICS:
        for rec in kafka_io.read_all(settings, settings.topic(topic)):
            label = labels[rec.value]  # a retry is byte-identical to its original
            if not label <= {"valid", "duplicate"}:
                (out[f"{rec.topic}:{rec.partition}:{rec.offset}"],) = label  # one code per bad value
    return out


def test_the_flood_is_large_and_varied(flood):
    scenario, _ = flood
    bad = [r for r in scenario.records if r.expect not in ("valid", "duplicate")]
    assert len(bad) >= 10_000
    assert len({faults.fault_kind(r.note) for r in bad}) >= 15
    assert sum(1 for r in scenario.records if r.expect == "valid") >= 5_000  # interleaved with valid traffic


def test_every_bad_record_is_dead_lettered_once_with_its_code_and_coordinates(flood, ns_settings):
    scenario, _ = flood
    want = _expected_dlq(ns_settings, scenario)
    with psycopg.connect(**ns_settings.pg_conninfo()) as conn:
        rows = conn.execute("select dlq_id, source_topic, source_partition, source_offset, error_code"
                            " from scm.dlq_events").fetchall()
    assert {r[0]: r[4] for r in rows} == want
    assert all(r[0] == f"{r[1]}:{r[2]}:{r[3]}" for r in rows)
    topic_ids = [json.loads(r.value)["dlq_id"]
                 for r in kafka_io.read_all(ns_settings, ns_settings.topic(config.DLQ_TOPIC))]
    assert len(topic_ids) == len(set(topic_ids)) and set(topic_ids) == set(want)


def test_valid_traffic_passes_unchanged_and_nothing_restarted(flood, ns_settings):
    scenario, report = flood
    for topic, valid_topic in config.VALID_TOPICS.items():
        got = Counter(json.loads(r.value)["event_id"]
                      for r in kafka_io.read_all(ns_settings, ns_settings.topic(valid_topic)))
        assert got == Counter(e["event_id"] for e in scenario.valid_events(topic)), topic
    assert report["restarts"] == 0
    rejected = Counter()
    for key, n in report["rejected"].items():
        rejected[key.split(" ", 1)[1]] += int(n)
    assert rejected == Counter(r.expect for r in scenario.records if r.expect not in ("valid", "duplicate"))
