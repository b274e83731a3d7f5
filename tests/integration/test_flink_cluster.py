"""`supplyflow stack up --flink-cluster`: a standalone JobManager + TaskManager from the wheel."""

from __future__ import annotations

import pytest

from supplyflow.stack.flink_cluster import FlinkCluster
from tests.helpers import cli

pytestmark = pytest.mark.cluster


def test_flink_cluster_starts_serves_rest_and_stops(stack):
    cluster = FlinkCluster(stack)
    out = cli("stack", "up", "--flink-cluster")
    try:
        assert out.returncode == 0, out.stderr
        assert "flink       started" in out.stdout or "flink       already running" in out.stdout
        overview = cluster.overview()
        assert overview is not None and overview["taskmanagers"] == 1
        assert overview["slots-total"] == 4  # flink-conf/config.yaml taskmanager.numberOfTaskSlots
        assert cli("stack", "status").stdout.count("REST http://localhost:8081") == 1
    finally:
        cluster.stop()
    assert cluster.overview() is None
    assert cluster.status()[0] == "stopped"


def _snapshot(settings):
    """Every output table without its wall-clock columns, in key order."""
    import psycopg

    queries = {
        "po_lines": "select po_id, po_line, status, version, shipped_qty, delivered_qty, received_qty, open_qty,"
                    " fulfillment_status, last_event_time from scm.po_lines order by 1, 2",
        "shipment_status": "select shipment_id, match_status, status, current_eta, delivered_time,"
                           " eta_variance_minutes, eta_severity from scm.shipment_status order by 1",
        "inventory_positions": "select sku, warehouse_id, on_hand, on_order, position, last_event_time"
                               " from scm.inventory_positions order by 1, 2",
        "inventory_flow_hourly": "select * from scm.inventory_flow_hourly order by 1, 2, 3",
        "alerts": "select alert_id, severity, event_time, trigger_event_id, message, details"
                  " from scm.alerts order by 1",
        # dlq_id starts with the (namespaced) topic name
        "dlq_events": "select regexp_replace(dlq_id, '^[^.]*[.]', ''), error_code, error_detail"
                      " from scm.dlq_events order by 1",
    }
    with psycopg.connect(**settings.pg_conninfo()) as conn:
        return {name: conn.execute(q).fetchall() for name, q in queries.items()}


def test_submit_all_to_the_standalone_cluster_at_parallelism_2_equals_the_embedded_run(namespaces):
    """`supplyflow submit all` (flink run, parallelism 2) on the standalone cluster writes the
    same tables and alerts as the embedded run at parallelism 1."""
    from supplyflow import runner
    from supplyflow.produce import produce
    from testdata import generator
    from tests.helpers import ns_env

    records = generator.generate("smoke", seed=11).records
    embedded, submitted = namespaces(), namespaces()
    for settings in (embedded, submitted):
        produce(settings, records, progress=False)
    runner.run(list(runner.JOB_MODULES), embedded, bounded=True)
    cluster = FlinkCluster(submitted)
    assert cli("stack", "up", "--flink-cluster").returncode == 0
    try:
        out = cli("submit", "all", "--bounded", "--parallelism", "2", "--jobmanager", "localhost:8081",
                  env=ns_env(submitted), timeout=900)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.count(" finished") == len(runner.JOB_MODULES)
    finally:
        cluster.stop()
    want, got = _snapshot(embedded), _snapshot(submitted)
    assert all(want[t] for t in ("po_lines", "shipment_status", "inventory_positions", "alerts", "dlq_events"))
    assert got == want
