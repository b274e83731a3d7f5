"""One place for every name and setting the suite shares.

Topic and table names, partitions, paths, connection settings and the environment
variables that override them live here and nowhere else (SPEC §2, §5, §7).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLINK_VERSION = "2.2.1"

# --- topics (SPEC §2 inputs, §5 outputs) -------------------------------------------------
PURCHASE_ORDERS = "scm.purchase-orders"
SHIPMENT_EVENTS = "scm.shipment-events"
INVENTORY_MOVEMENTS = "scm.inventory-movements"
REORDER_POLICIES = "scm.reorder-policies"
INPUT_TOPICS = (PURCHASE_ORDERS, SHIPMENT_EVENTS, INVENTORY_MOVEMENTS, REORDER_POLICIES)

SHIPMENT_STATUS_TOPIC = "scm.shipment-status"
INVENTORY_POSITIONS_TOPIC = "scm.inventory-positions"
ALERTS_ETA = "scm.alerts.eta"
ALERTS_MATCHING = "scm.alerts.matching"
ALERTS_INVENTORY = "scm.alerts.inventory"
ALERTS_REORDER = "scm.alerts.reorder"
DLQ_TOPIC = "scm.dlq"
OUTPUT_TOPICS = (
    SHIPMENT_STATUS_TOPIC,
    INVENTORY_POSITIONS_TOPIC,
    ALERTS_ETA,
    ALERTS_MATCHING,
    ALERTS_INVENTORY,
    ALERTS_REORDER,
    DLQ_TOPIC,
)
# Internal: each input topic's accepted, normalized, de-duplicated events, written
# exactly-once by the `edge` job and read (read_committed) by every other job.
VALID_TOPICS = {t: t.replace("scm.", "scm.valid.", 1) for t in INPUT_TOPICS}
ALL_TOPICS = INPUT_TOPICS + tuple(VALID_TOPICS.values()) + OUTPUT_TOPICS
COMPACTED_TOPICS = frozenset({REORDER_POLICIES, SHIPMENT_STATUS_TOPIC, INVENTORY_POSITIONS_TOPIC})
TOPIC_PARTITIONS = 4

# --- PostgreSQL tables (SPEC §5), all in schema `scm` ------------------------------------
PG_SCHEMA = "scm"
TABLES = (
    "po_lines",
    "shipment_status",
    "inventory_positions",
    "inventory_flow_hourly",
    "alerts",
    "dlq_events",
)

# --- exactly-once settings (DEVELOPERS.md traps) -----------------------------------------
# The broker allows transactions up to 15 minutes; our producers ask for 10, which is
# far above the checkpoint interval, so a transaction never times out between commits.
BROKER_TRANSACTION_MAX_TIMEOUT_MS = 900_000
SINK_TRANSACTION_TIMEOUT_MS = 600_000

# The SPEC's job names (SPEC §7); supplyflow/runner.py maps the implemented ones to jobs/.
JOBS = ("shipment-matching", "eta-exceptions", "inventory", "reorder")


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    """Connection settings; every field can be overridden by the environment variable
    named in its comment (SPEC §7). Secrets are read here and never printed."""

    kafka_bootstrap: str = field(default_factory=lambda: _env("SUPPLYFLOW_KAFKA_BOOTSTRAP", "localhost:9092"))
    pg_host: str = field(default_factory=lambda: _env("SUPPLYFLOW_PG_HOST", "localhost"))
    pg_port: int = field(default_factory=lambda: int(_env("SUPPLYFLOW_PG_PORT", "5432")))
    pg_db: str = field(default_factory=lambda: _env("SUPPLYFLOW_PG_DB", "supplyflow"))
    pg_user: str = field(default_factory=lambda: _env("SUPPLYFLOW_PG_USER", "supplyflow"))
    pg_password: str = field(default_factory=lambda: _env("SUPPLYFLOW_PG_PASSWORD", "supplyflow"), repr=False)
    # SUPPLYFLOW_DATA_DIR: broker log dirs, PostgreSQL cluster, checkpoints (never deleted)
    data_dir: Path = field(default_factory=lambda: Path(_env("SUPPLYFLOW_DATA_DIR", str(ROOT / ".data"))))
    # SUPPLYFLOW_NAMESPACE: prefixes every topic and transactional id ("<ns>.scm.dlq"), so
    # several suites (tests, a demo, a second team) can share one broker.
    namespace: str = field(default_factory=lambda: _env("SUPPLYFLOW_NAMESPACE", ""))
    # SUPPLYFLOW_DEDUP_WINDOW_MINUTES: how long an accepted event_id is remembered (SPEC §3)
    dedup_window_minutes: int = field(default_factory=lambda: int(_env("SUPPLYFLOW_DEDUP_WINDOW_MINUTES", "10")))
    # SUPPLYFLOW_MATCHING_TTL_DAYS: event-time days a closed PO line's state is kept
    matching_ttl_days: int = field(default_factory=lambda: int(_env("SUPPLYFLOW_MATCHING_TTL_DAYS", "30")))
    # SUPPLYFLOW_ETA_THRESHOLDS_HOURS: "MEDIUM,HIGH,CRITICAL" lateness in hours (SPEC §6)
    eta_thresholds_hours: str = field(default_factory=lambda: _env("SUPPLYFLOW_ETA_THRESHOLDS_HOURS", "2,24,72"))
    # SUPPLYFLOW_STALE_AFTER_HOURS: event-time silence before STALE_TRACKING (SPEC §6)
    stale_after_hours: float = field(default_factory=lambda: float(_env("SUPPLYFLOW_STALE_AFTER_HOURS", "12")))
    # SUPPLYFLOW_ORPHAN_AFTER_HOURS: grace before a shipment without PO line is ORPHAN (SPEC §6)
    orphan_after_hours: float = field(default_factory=lambda: float(_env("SUPPLYFLOW_ORPHAN_AFTER_HOURS", "24")))
    # SUPPLYFLOW_IDLE_TIMEOUT: a source partition without records for this long no longer
    # holds back event time (Flink duration, e.g. "30 s"; empty: flink-conf/config.yaml's)
    idle_timeout: str = field(default_factory=lambda: _env("SUPPLYFLOW_IDLE_TIMEOUT", ""))
    # SUPPLYFLOW_CHECKPOINT_INTERVAL: how often a job checkpoints, and so commits its Kafka
    # transactions: the floor of an alert's latency (Flink duration, e.g. "1 s"; empty:
    # flink-conf/config.yaml's 5 s)
    checkpoint_interval: str = field(default_factory=lambda: _env("SUPPLYFLOW_CHECKPOINT_INTERVAL", ""))
    # SUPPLYFLOW_CACHE_DIR: resolved jars (re-creatable)
    cache_dir: Path = field(default_factory=lambda: Path(_env("SUPPLYFLOW_CACHE_DIR", str(ROOT / ".cache"))))

    def topic(self, name: str) -> str:
        """The physical name of topic `name` (one of the constants above) in this namespace."""
        return f"{self.namespace}.{name}" if self.namespace else name

    def transactional_id_prefix(self, job: str, sink: str) -> str:
        """Unique per namespace, job and sink: two writers never fence each other."""
        return "-".join(filter(None, [self.namespace, "supplyflow", job, sink]))

    @property
    def jars_dir(self) -> Path:
        return self.cache_dir / "jars"

    @property
    def flink_jars(self) -> list[Path]:
        """Connector jars for jobs (the SQL gateway jar is only for the SQL client)."""
        return sorted(p for p in (self.jars_dir / "flink").glob("*.jar") if "sql-gateway" not in p.name)

    @property
    def jdbc_url(self) -> str:
        # stringtype=unspecified lets PostgreSQL cast Flink's strings into jsonb columns.
        # reWriteBatchedInserts: the driver sends a JDBC sink's batch of upserts as
        # multi-row INSERT … ON CONFLICT statements instead of one statement per row (the
        # sink's buffer holds one row per key, so no statement updates a row twice).
        return (f"jdbc:postgresql://{self.pg_host}:{self.pg_port}/{self.pg_db}"
                "?stringtype=unspecified&reWriteBatchedInserts=true")

    def pg_conninfo(self, dbname: str | None = None) -> dict[str, object]:
        return {
            "host": self.pg_host,
            "port": self.pg_port,
            "dbname": dbname or self.pg_db,
            "user": self.pg_user,
            "password": self.pg_password,
        }

    def kafka_client_config(self) -> dict[str, object]:
        """kafka-python settings, with SASL/SSL passed through from the environment:
        SUPPLYFLOW_KAFKA_SECURITY_PROTOCOL, _SASL_MECHANISM, _SASL_USERNAME, _SASL_PASSWORD,
        _SSL_CAFILE."""
        cfg: dict[str, object] = {"bootstrap_servers": self.kafka_bootstrap.split(",")}
        for key in ("security_protocol", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password", "ssl_cafile"):
            env_name = "SUPPLYFLOW_KAFKA_" + key.upper().replace("SASL_PLAIN_", "SASL_")
            if os.environ.get(env_name):
                cfg[key] = os.environ[env_name]
        return cfg

    def kafka_flink_properties(self) -> dict[str, str]:
        """The same pass-through as Kafka client properties for Flink's connectors."""
        props = {"bootstrap.servers": self.kafka_bootstrap}
        proto = os.environ.get("SUPPLYFLOW_KAFKA_SECURITY_PROTOCOL")
        if proto:
            props["security.protocol"] = proto
        mech = os.environ.get("SUPPLYFLOW_KAFKA_SASL_MECHANISM")
        if mech:
            props["sasl.mechanism"] = mech
            user = os.environ.get("SUPPLYFLOW_KAFKA_SASL_USERNAME", "")
            pwd = os.environ.get("SUPPLYFLOW_KAFKA_SASL_PASSWORD", "")
            module = "org.apache.kafka.common.security.plain.PlainLoginModule"
            if mech.upper().startswith("SCRAM"):
                module = "org.apache.kafka.common.security.scram.ScramLoginModule"
            props["sasl.jaas.config"] = f'{module} required username="{user}" password="{pwd}";'
        return props


def settings() -> Settings:
    """Settings read from the environment now."""
    return Settings()
