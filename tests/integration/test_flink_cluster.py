"""`supplyflow stack up --flink-cluster`: a standalone JobManager + TaskManagers from the wheel."""

from __future__ import annotations

import pytest

from supplyflow.stack.flink_cluster import TASKMANAGERS, FlinkCluster
from tests.helpers import cli, output_snapshot, wait_for, why_failed

pytestmark = pytest.mark.cluster


def test_flink_cluster_starts_serves_rest_and_stops(stack):
    cluster = FlinkCluster(stack)
    out = cli("stack", "up", "--flink-cluster")
    try:
        assert out.returncode == 0, out.stderr
        assert "flink       started" in out.stdout or "flink       already running" in out.stdout
        overview = cluster.overview()
        assert overview is not None and overview["taskmanagers"] == TASKMANAGERS == 3
        assert overview["slots-total"] == 6  # 3 x flink-conf/config.yaml taskmanager.numberOfTaskSlots
        assert cli("stack", "status").stdout.count("REST http://localhost:8081") == 1
    finally:
        cluster.stop()
    assert cluster.overview() is None
    assert cluster.status()[0] == "stopped"


def test_submit_all_to_the_standalone_cluster_at_parallelism_2_equals_the_embedded_run(namespaces):
    """`supplyflow submit all` (flink run, parallelism 2: the edge and core) on the standalone
    cluster writes the same tables and alerts as the five jobs apart, embedded at parallelism 1."""
    from jobs import core
    from supplyflow import runner
    from supplyflow.produce import produce
    from testdata import generator
    from tests.helpers import ns_env

    records = generator.generate("smoke", seed=11).records
    embedded, submitted = namespaces(), namespaces()
    for settings in (embedded, submitted):
        produce(settings, records, progress=False)
    runner.run(["edge"] + [job.NAME for job in core.JOBS], embedded, bounded=True)
    cluster = FlinkCluster(submitted)
    assert cli("stack", "up", "--flink-cluster").returncode == 0
    try:
        out = cli("submit", "all", "--bounded", "--parallelism", "2", "--jobmanager", "localhost:8081",
                  env=ns_env(submitted), timeout=900)
        assert out.returncode == 0, why_failed(out)
        assert out.stdout.count(" finished") == len(runner.ALL)
    finally:
        cluster.stop()
    want, got = output_snapshot(embedded), output_snapshot(submitted)
    assert all(want[t] for t in ("po_lines", "shipment_status", "inventory_positions", "alerts", "dlq_events"))
    assert got == want


TICK_TAGS = ("TICK", "ZZEND")  # watermark ticks' SKUs begin with these (tests/helpers.watermark_ticks)


def _position_records(settings):
    import json
    from collections import Counter

    from supplyflow import config, kafka_io

    records = kafka_io.read_all(settings, settings.topic(config.INVENTORY_POSITIONS_TOPIC))
    docs = [json.loads(r.value) for r in records]
    return Counter(json.dumps({k: v for k, v in d.items() if k != "updated_at"}, sort_keys=True)
                   for d in docs if not d["sku"].startswith(TICK_TAGS))


def test_stop_with_savepoint_and_resume_at_another_parallelism_loses_and_repeats_nothing(namespaces, monkeypatch):
    """The inventory job runs unbounded on the cluster at parallelism 1, is stopped with a
    savepoint halfway, and resumes from it at parallelism 2: its committed position updates
    and alerts equal, one for one, a bounded embedded run over the same events."""
    import json

    import psycopg

    from supplyflow import config, kafka_io, runner
    from supplyflow.produce import produce
    from tests.helpers import ns_env, watermark_ticks
    from tests.integration.test_inventory import EVENTS, T0, H

    # no source idleness: a partition declared idle would let the watermark pass events
    # its side still holds (a PO line's on-order change waits in the per-line stage for
    # its input's watermark), which would then apply later than in the bounded run. A
    # tick in every partition of every input moves each watermark instead; the last
    # ticks' own events wait for a watermark that never comes, so ticks are left out.
    split = T0 + 4 * H + 30 * 60_000
    part1 = [r for r in EVENTS if json.loads(r.value)["event_time"] < split] + watermark_ticks(split, "TICK")
    part2 = [r for r in EVENTS if json.loads(r.value)["event_time"] >= split] + watermark_ticks(T0 + 30 * H, "ZZEND")
    reference, live = namespaces(), namespaces()
    produce(reference, part1 + part2, progress=False)
    runner.run(["edge", "inventory"], reference, bounded=True)

    monkeypatch.setenv("SUPPLYFLOW_IDLE_TIMEOUT", "0 ms")
    env = {**ns_env(live), "SUPPLYFLOW_IDLE_TIMEOUT": "0 ms"}
    cluster = FlinkCluster(live)
    assert cli("stack", "up", "--flink-cluster").returncode == 0
    try:
        produce(live, part1, progress=False)
        runner.run(["edge"], live, bounded=True)
        out = cli("submit", "inventory", "--parallelism", "1", env=env)
        assert out.returncode == 0, why_failed(out)
        alerts_topic = live.topic(config.ALERTS_INVENTORY)
        wait_for(lambda: len(kafka_io.read_all(live, alerts_topic)) >= 2, "the first half's COUNT_VARIANCE alerts")
        out = cli("savepoint", "inventory", env=env)
        assert out.returncode == 0, why_failed(out)
        path = out.stdout.split("savepoint: ", 1)[1].split()[0]
        produce(live, part2, progress=False)
        runner.run(["edge"], live, bounded=True)
        out = cli("submit", "inventory", "--parallelism", "2", "--from-savepoint", path, env=env)
        assert out.returncode == 0, why_failed(out)
        not_ticks = " and ".join(f"sku not like '{tag}%'" for tag in TICK_TAGS)
        positions = ("select sku, warehouse_id, on_hand, on_order, position from scm.inventory_positions"
                     f" where {not_ticks} order by 1, 2")
        with psycopg.connect(**reference.pg_conninfo()) as conn:
            want = conn.execute(positions).fetchall()

        def caught_up():
            with psycopg.connect(**live.pg_conninfo()) as conn:
                return conn.execute(positions).fetchall() == want

        wait_for(caught_up, "the resumed job to catch up")
        cli("savepoint", "inventory", env=env)  # stop it (committing its last transaction)
    finally:
        cluster.stop()
    ids = sorted(json.loads(r.value)["alert_id"] for r in kafka_io.read_all(live, alerts_topic))
    assert ids == sorted(json.loads(r.value)["alert_id"]
                         for r in kafka_io.read_all(reference, reference.topic(config.ALERTS_INVENTORY)))
    assert _position_records(live) == _position_records(reference)
