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
