"""`supplyflow bench suite` end to end, small: the SQL pass-through on the standalone
cluster through the real harness (rate steps, committed lag, read_committed latency, CPU
and memory from /proc, checkpointed state) and the report it writes. Only that the
harness measures; the figures themselves belong to benchmarks/README.md, not to tests."""

from __future__ import annotations

import json

import pytest

from benchmarks import harness, suite
from tests.helpers import cli

pytestmark = pytest.mark.integration


def test_bench_suite_measures_the_passthrough_step_by_step_and_writes_its_report(stack, tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "WARMUP_S", 5.0)
    from supplyflow.stack.flink_cluster import FlinkCluster

    assert cli("stack", "up", "--flink-cluster").returncode == 0
    checkpoints = FlinkCluster(stack).checkpoints()
    kept = set(checkpoints.glob("*"))
    results = suite.main(stack, ["passthrough"], rates=[100, 200], seconds=20, latency_rate=200, out_dir=tmp_path)
    # its outputs were read read_committed (below), so it checkpointed; the run removed them
    assert set(checkpoints.glob("*")) <= kept

    system = results["systems"]["passthrough"]
    assert [s["rate"] for s in system["steps"]] == [100, 200]
    for step in system["steps"]:
        assert step["achieved_rate"] >= 95 * step["rate"] / 100  # the producer kept the pace
        # every copied event reaches a read_committed consumer, within a few checkpoints
        assert step["p50_ms"] is not None and 0 < step["p50_ms"] <= step["p99_ms"] < 60_000
        assert step["cpu_s_per_million"] > 0 and step["peak_rss_mb"] > 100  # the cluster's JVMs
        # the broker took part (every record crossed it) and the machine did more than the system
        services = step["services_cpu_s_per_million"]
        assert services["Kafka"] > 0
        assert step["machine_cpu_s_per_million"] > step["cpu_s_per_million"] + sum(services.values())
    assert system["sustained_rate"] >= 100  # a copy keeps up with 100 events/s
    for when in ("before", "after"):  # the host's speed around the steps
        assert system["machine_speed"][when]["loop_s"] > 0 and system["machine_speed"][when]["chase_s"] > 0

    assert json.loads((tmp_path / "suite.json").read_text())["systems"]["passthrough"]["steps"] == system["steps"]
    report = (tmp_path / "suite.md").read_text()
    assert "| passthrough | 100 | " in report and "| passthrough | 200 | " in report
    assert "passthrough loop " in report and "memory chase" in report
    assert (tmp_path / "suite.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_edge_floor_passes_every_record_through_the_edges_sinks_without_python(namespaces):
    """benchmarks/edge_floor.py, bounded: the edge's sources, dedup and exactly-once sinks
    around a constant verdict. Every record reaches a valid topic, invalid ones and
    producer retries too (its event_id is the record's offset), none the DLQ, and the
    run commits its end offsets to a consumer group of its own, not the edge's."""
    from kafka import KafkaAdminClient

    from benchmarks import edge_floor
    from jobs import edge
    from supplyflow import config, kafka_io, runner
    from tests.integration.test_edge import CASES, produce_cases

    settings = namespaces()
    sent = produce_cases(settings)
    runner.run([edge_floor.NAME], settings, bounded=True, parallelism=1)

    passed = {}
    for topic, valid in config.VALID_TOPICS.items():
        records = kafka_io.read_all(settings, settings.topic(valid))
        assert len(records) == sum(1 for t, _, _ in CASES if t == topic)
        for record in records:
            passed[record.value] = passed.get(record.value, 0) + 1
    assert sum(passed.values()) == len(sent) == len(CASES)
    assert passed[b"not json"] == 1 and passed[CASES[0][1]] == 2  # an invalid record; a retried one, twice
    assert kafka_io.read_all(settings, settings.topic(config.DLQ_TOPIC), timeout_s=5) == []

    admin = KafkaAdminClient(**settings.kafka_client_config())
    try:
        def committed(group: str) -> dict:
            offsets = admin.list_group_offsets(group).get(group, {})
            return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}

        ends = kafka_io.end_offsets(settings, [settings.topic(t) for t in config.INPUT_TOPICS])
        assert committed(edge_floor.group_id(settings)) == ends and sum(ends.values()) == len(CASES)
        assert edge_floor.group_id(settings) != edge.group_id(settings)
        assert committed(edge.group_id(settings)) == {}
    finally:
        admin.close()


def _multi_input_operators(build) -> list[str]:
    """The operators of a job's plan that read more than one input: none of them can be
    chained to what feeds it, so each record reaches it through Flink's network stack."""
    from pyflink.table import ExplainDetail

    from supplyflow import config, runner

    settings = config.settings()
    plan = build(runner.table_env(settings), settings).explain(ExplainDetail.JSON_EXECUTION_PLAN)
    nodes = json.loads(plan[plan.index("{", plan.index("== Physical Execution Plan ==")):])["nodes"]
    return [n["type"] for n in nodes if len(n.get("predecessors", [])) > 1]


def test_the_edge_floor_has_the_edges_shape_one_verdict_operator_above_the_union():
    """The floor stands for the edge without Python only if its plan has the edge's
    shape: the four topics' union read by one verdict operator, every consumer of the
    verdicts (DLQ, dedup, 40 counters) chained behind it. A verdict from a plain
    projection was planned as 42 operators behind the union, each sent every record."""
    from benchmarks import edge_floor
    from jobs import edge

    assert [t.split("[")[0] for t in _multi_input_operators(lambda t, s: edge.build(t, s, False))] == \
        ["PythonCorrelate"]
    assert [t.split("[")[0] for t in _multi_input_operators(lambda t, s: edge_floor.build(t, s, False))] == \
        ["Correlate"]
