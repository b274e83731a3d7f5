"""`supplyflow metrics`: alerts by type and watermark lag per source, from Flink's
Prometheus reporter, for live (unbounded) jobs on the embedded cluster."""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter

import pytest

from jobs.line_events import valid_table
from supplyflow import config, kafka_io, metrics, runner
from tests.helpers import assert_one_line_error, cli, ns_env, produce_and_run

pytestmark = pytest.mark.integration

JOBS = ("eta-exceptions", "shipment-matching")


def _committed_alert_types(settings) -> Counter:
    out: Counter = Counter()
    for topic in (config.ALERTS_ETA, config.ALERTS_MATCHING):
        out.update(json.loads(r.value)["alert_type"] for r in kafka_io.read_all(settings, settings.topic(topic)))
    return out


def test_metrics_without_running_jobs_say_how_to_start_them(ns_settings):
    assert_one_line_error(cli("metrics", env=ns_env(ns_settings)), "no running supplyflow job", "supplyflow run")


def test_alerts_by_type_and_watermark_lag_per_source(namespaces):
    """The per-type alert counters equal the committed alerts by type, and every event-time
    source reports a watermark lag within the span of its events' event times."""
    from testdata import generator

    settings = dataclasses.replace(namespaces(), idle_timeout="1 s")  # quiet partitions release the watermark
    records = generator.generate("smoke", seed=5).records
    produce_and_run(settings, records, ["edge"])
    event_times: dict[str, list[int]] = {}
    for topic, valid_topic in config.VALID_TOPICS.items():
        values = [json.loads(r.value)["event_time"]
                  for r in kafka_io.read_all(settings, settings.topic(valid_topic))]
        event_times[valid_table(topic)] = values
    results = [runner.submit(job, settings, bounded=False) for job in JOBS]
    try:
        names = [runner.job_name(job, settings) for job in JOBS]
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            reports = {name: metrics.job_report(name) for name in names}
            counted = Counter()
            for report in reports.values():
                counted.update({k: int(v) for k, v in report["alerts"].items() if v})
            committed = _committed_alert_types(settings)
            watermarks = all(s["watermark_lag_ms"] is not None for r in reports.values() for s in r["sources"].values())
            # every job reporting its counters: a job not yet running reports none, and its
            # alerts are then not committed yet either, so the two could agree without it
            reporting = all(r["alerts"] for r in reports.values())
            if committed and counted == committed and watermarks and reporting:
                break
            time.sleep(1)  # polling live jobs for a condition, bounded by the deadline
        out = cli("metrics", env=ns_env(settings))
        as_json = cli("metrics", "--json", env=ns_env(settings))
        now_ms = time.time() * 1000
    finally:
        for result in results:
            result.get_job_client().cancel().result()
    assert counted == committed and len(committed) >= 3, (counted, committed)
    eta, matching = reports[names[0]], reports[names[1]]
    assert set(eta["alerts"]) == {"ETA_VARIANCE", "ETA_RECOVERED", "LATE_DELIVERY", "STALE_TRACKING"}
    assert set(matching["alerts"]) == {"ORPHAN_SHIPMENT", "SKU_MISMATCH", "SHIPMENT_ON_CANCELLED_PO", "OVER_SHIPMENT"}
    for report in (eta, matching):
        assert report["restarts"] == 0
        assert set(report["sources"]) == {"valid_purchase_orders", "valid_shipment_events", "valid_inventory_movements"}
        for source, s in report["sources"].items():
            times = event_times[source]
            assert s["watermark_lag_ms"] is not None, source
            assert now_ms - max(times) - 60_000 < s["watermark_lag_ms"] < now_ms - min(times), source
    assert out.returncode == 0, out.stderr
    for name in names:
        assert name in out.stdout
    assert "watermark lag" in out.stdout and "ETA_VARIANCE" in out.stdout
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert sorted(r["job"] for r in lines) == sorted(names)
    print(out.stdout)
