"""`supplyflow stack`: idempotent start, status, and one-line errors for what users get wrong."""

from __future__ import annotations

import dataclasses
import socket
import subprocess

import pytest

from supplyflow import config
from supplyflow.errors import SupplyflowError
from supplyflow.stack.postgres import Postgres
from tests.helpers import assert_one_line_error, cli

pytestmark = pytest.mark.integration


def test_up_is_idempotent_and_status_reports_everything(stack):
    out = cli("stack", "up")
    assert out.returncode == 0, out.stderr
    assert "kafka       already running" in out.stdout
    assert "postgres    already running" in out.stdout
    assert "0 created" in out.stdout and "migrations  up to date" in out.stdout
    status = cli("stack", "status")
    assert status.returncode == 0, status.stderr
    assert f"{len(config.ALL_TOPICS)} present" in status.stdout
    assert "localhost:9092" in status.stdout


def test_topics_have_partitions_and_compaction(stack):
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(**stack.kafka_client_config())
    try:
        described = {d["name"]: d for d in admin.describe_topics(list(config.INPUT_TOPICS))}
        assert {t: len(d["partitions"]) for t, d in described.items()} == {t: 4 for t in config.INPUT_TOPICS}
        resources = [ConfigResource(ConfigResourceType.TOPIC, t) for t in config.ALL_TOPICS]
        # kafka-python 3 answers {"topic": {name: {config: {"value": ...}}}} with non-defaults
        configs = admin.describe_configs(resources)["topic"]
        policies = {name: cfg.get("cleanup.policy", {}).get("value", "delete") for name, cfg in configs.items()}
    finally:
        admin.close()
    assert {t for t, p in policies.items() if p == "compact"} == set(config.COMPACTED_TOPICS)


def test_every_spec_table_exists(stack):
    import psycopg

    with psycopg.connect(**stack.pg_conninfo()) as conn:
        rows = conn.execute(
            "select table_name from information_schema.tables where table_schema = 'scm'").fetchall()
    assert set(config.TABLES) <= {r[0] for r in rows}


def test_port_taken_gives_a_one_line_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("localhost", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = cli("stack", "up", env={"SUPPLYFLOW_DATA_DIR": str(tmp_path),
                                      "SUPPLYFLOW_KAFKA_BOOTSTRAP": f"localhost:{port}"})
    assert_one_line_error(out, f"port {port} is already taken", "SUPPLYFLOW_KAFKA_BOOTSTRAP")
    assert not (tmp_path / "kafka" / "logs").exists()  # nothing formatted, nothing started


def test_missing_java_gives_a_one_line_error(tmp_path):
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        free = probe.getsockname()[1]
    out = cli("stack", "up", env={"SUPPLYFLOW_DATA_DIR": str(tmp_path),
                                  "SUPPLYFLOW_KAFKA_BOOTSTRAP": f"localhost:{free}",
                                  "PATH": "/nonexistent"})
    assert_one_line_error(out, "Java not found", "install")


def test_postgres_refusing_the_user_is_explained(stack, tmp_path):
    """A server already on the port that refuses our role: say so, change nothing."""
    other = dataclasses.replace(stack, data_dir=tmp_path, pg_user="nobody_here", pg_password="wrong")
    with pytest.raises(SupplyflowError) as err:
        Postgres(other).start()
    message = str(err.value)
    assert "refuses user 'nobody_here'" in message and "SUPPLYFLOW_PG_USER" in message
    assert "wrong" not in message  # never echo a password
    assert not (tmp_path / "postgres" / "data").exists()


def test_missing_maven_gives_a_one_line_error(tmp_path):
    out = subprocess.run(
        ["make", "-s", "jars", "MVN=mvn-not-installed", f"JARS_DIR={tmp_path}/jars"],
        cwd=config.ROOT, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0
    assert "Maven (mvn-not-installed) not found: install it" in out.stderr


def test_a_dropped_namespace_leaves_neither_topics_nor_database(stack):
    """What a test or benchmark namespace made — its topics, a benchmark's extra topic, the
    changelog topic its Quix Streams peer adds, its database — is gone after
    drop_namespace; the default namespace's topics, and another namespace's, stay."""
    import uuid

    import psycopg
    from kafka import KafkaAdminClient

    from supplyflow.stack import create_namespace, drop_namespace, ensure_topics
    from tests.helpers import wait_for

    ns = create_namespace(stack, f"t{uuid.uuid4().hex[:8]}")
    other = f"t{uuid.uuid4().hex[:8]}"

    def changelog(namespace: str) -> str:  # as Quix Streams names a store's changelog
        return f"changelog__{namespace}-peer--{namespace}.peer.by-line--default"

    ensure_topics(ns, extra={ns.topic("bench.passthrough"): {}, changelog(ns.namespace): {},
                             changelog(other): {}})
    admin = KafkaAdminClient(**stack.kafka_client_config(), client_id="test-stack")
    try:
        def topics_of(namespace: str) -> set[str]:
            return {t for t in admin.list_topics() if t.startswith(f"{namespace}.") or t == changelog(namespace)}

        made = topics_of(ns.namespace)
        assert {ns.topic("bench.passthrough"), changelog(ns.namespace)} <= made
        assert len(made) == len(config.ALL_TOPICS) + 2
        assert sorted(drop_namespace(stack, ns)) == sorted(made)
        wait_for(lambda: not topics_of(ns.namespace), f"the topics of {ns.namespace} to go")
        assert stack.topic(config.PURCHASE_ORDERS) in admin.list_topics()
        assert changelog(other) in admin.list_topics()  # not this namespace's
        admin.delete_topics([changelog(other)])
    finally:
        admin.close()
    with psycopg.connect(**stack.pg_conninfo()) as conn:
        assert conn.execute("select 1 from pg_database where datname = %s", (ns.pg_db,)).fetchone() is None
    with pytest.raises(ValueError):
        drop_namespace(stack, dataclasses.replace(stack, namespace=""))
