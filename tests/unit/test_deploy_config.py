"""The production Flink configuration and the Kubernetes manifests say what the local
stack proves: exactly-once checkpoints, RocksDB, a restart strategy that cannot loop, and
one deployment per job of the suite."""

from __future__ import annotations

import yaml

from supplyflow import config, flinkconf, runner

PRODUCTION = config.ROOT / "flink-conf" / "production.yaml"
MANIFEST = config.ROOT / "flink-conf" / "kubernetes" / "supplyflow.yaml"


def test_production_and_local_configs_agree_on_the_guarantees():
    prod = flinkconf._flatten(yaml.safe_load(PRODUCTION.read_text()))
    local = flinkconf._flatten(yaml.safe_load((config.ROOT / "flink-conf" / "config.yaml").read_text()))
    for conf in (prod, local):
        assert conf["execution.checkpointing.mode"] == "EXACTLY_ONCE"
        assert conf["state.backend.type"] == "rocksdb"
        assert conf["restart-strategy.type"] == "exponential-delay"  # rides out an outage
        assert int(conf["restart-strategy.exponential-delay.attempts-before-reset-backoff"]) <= 20  # not forever
        assert conf["table.exec.uid.generation"] == "ALWAYS"
        assert conf["table.local-time-zone"] == "UTC"
    interval_s = int(prod["execution.checkpointing.interval"].rstrip("s"))
    assert interval_s * 1000 * 10 <= config.SINK_TRANSACTION_TIMEOUT_MS  # transactions outlive checkpoints


def test_kubernetes_manifest_deploys_every_job_from_the_cluster_entry():
    docs = list(yaml.safe_load_all(MANIFEST.read_text()))
    assert all(d["kind"] == "FlinkDeployment" and d["spec"]["job"]["upgradeMode"] == "savepoint" for d in docs)
    deployed = [d["spec"]["job"]["args"][-1] for d in docs]
    assert deployed == list(runner.ALL)  # what `submit all` deploys, the edge first
    for d in docs:
        args = d["spec"]["job"]["args"]
        assert args[:2] == ["-py", "/opt/supplyflow/jobs/cluster_entry.py"]
        assert (config.ROOT / "jobs" / "cluster_entry.py").is_file()


def test_every_deployed_job_shares_rows_among_its_chained_consumers():
    """Object reuse, where a row fans out to many chained sinks (the edge's verdicts, core's
    typed outputs): without it Flink copies each row per consumer, which the benchmark
    measured (benchmarks/README.md). Both jobs' operators are SQL, conversions or sinks."""
    settings = config.settings()
    for name in runner.ALL:
        assert runner.job_overrides(name, settings)["pipeline.object-reuse"] == "true", name
