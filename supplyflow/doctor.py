"""`supplyflow doctor`: preflight checks for what silently breaks exactly-once.

Each check prints `ok` or `FAIL` with the fix. The Kafka checks read the DDL the jobs
really declare: every job is built (not run) in a TableEnvironment of its own and its
tables are read back with SHOW CREATE TABLE, so what is checked is what would run.

- the broker's transaction.max.timeout.ms ≥ every sink's transaction.timeout.ms, and that
  timeout well above the checkpoint interval (a transaction must outlive a checkpoint);
- the broker runs transactions v1 (see kafka_broker.TRANSACTION_VERSION);
- every Kafka sink is exactly-once, with a transactional-id prefix no other sink shares;
- every Kafka source of ours, and our kafka-python consumers, read read_committed;
- every topic exists with its partitions, compacted where the SPEC says;
- PostgreSQL is reachable and the user may select, insert and update every output table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from supplyflow import config, flinkconf, kafka_io, runner
from supplyflow.stack.kafka_broker import kafka_transaction_version


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    fix: str = ""


def _options(ddl_text: str) -> dict[str, str]:
    return dict(re.findall(r"'([^']+)'\s*=\s*'([^']*)'", ddl_text.split("WITH (", 1)[-1]))


def declared_kafka_tables(settings: config.Settings) -> dict[str, dict[str, dict[str, str]]]:
    """job -> table -> WITH options, for every Kafka table each job declares."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for name in runner.JOB_MODULES:
        module = runner.job_module(name)
        t_env = runner.table_env(settings, 1, dict(getattr(module, "job_config", lambda s: {})(settings)))
        module.build(t_env, settings, bounded=False)
        tables = {}
        for table in sorted(set(t_env.list_temporary_tables()) - set(t_env.list_temporary_views())):
            with t_env.execute_sql(f"SHOW CREATE TABLE `{table}`").collect() as rows:
                text = "".join(str(r[0]) for r in rows)
            options = _options(text)
            if options.get("connector") == "kafka":
                tables[table] = options
        out[name] = tables
    return out


def _duration_ms(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*(ms|s|min|h)?\s*", text)
    if not m:
        return 0
    return int(m[1]) * {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, None: 1}[m[2]]


def kafka_checks(settings: config.Settings, declared) -> list[Check]:
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    checks = []
    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="supplyflow-doctor")
    try:
        broker = admin.describe_cluster()["brokers"][0]["broker_id"]
        described = admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, str(broker))],
                                           config_filter="all")
        broker_max = _broker_config(described, "transaction.max.timeout.ms")
        existing = set(admin.list_topics())
        partitions = {d.get("name", d.get("topic")): len(d["partitions"])
                      for d in admin.describe_topics([t for t in _topics(settings) if t in existing])}
        topic_cfg = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t)
                                            for t in _topics(settings) if t in existing], config_filter="all")
        txn_version = kafka_transaction_version(admin)
    finally:
        admin.close()

    checks.append(Check(
        f"broker transactions v{txn_version} (v1 expected)", txn_version <= 1, "",
        "on the local stack `supplyflow stack up` sets it; elsewhere `kafka-features.sh --bootstrap-server HOST:PORT "
        "downgrade --feature transaction.version=1`. With v2 the Kafka sink's recovery re-commits an already "
        "committed transaction, is refused as fenced and logs possible data loss"))
    interval = _duration_ms(flinkconf.flink_config(settings).get("execution.checkpointing.interval", "0"))
    prefixes: dict[str, str] = {}
    for job, tables in declared.items():
        for table, opts in tables.items():
            where = f"{job}/{table}"
            if "sink.delivery-guarantee" in opts:
                timeout = int(opts.get("properties.transaction.timeout.ms", "3600000"))
                checks.append(Check(f"{where}: exactly-once sink", opts["sink.delivery-guarantee"] == "exactly-once",
                                    opts["sink.delivery-guarantee"], "set 'sink.delivery-guarantee' = 'exactly-once'"))
                checks.append(Check(
                    f"{where}: transaction timeout {timeout} ms ≤ broker maximum {broker_max} ms",
                    broker_max is not None and timeout <= broker_max, "",
                    "lower properties.transaction.timeout.ms (config.SINK_TRANSACTION_TIMEOUT_MS) or raise the "
                    "broker's transaction.max.timeout.ms, or the producer fails to start"))
                checks.append(Check(
                    f"{where}: transaction timeout ≥ 10 × checkpoint interval ({interval} ms)",
                    timeout >= 10 * interval, "",
                    "raise the timeout or shorten execution.checkpointing.interval: a transaction that times out "
                    "before its checkpoint completes is aborted and its records are lost"))
                prefix = opts.get("sink.transactional-id-prefix", "")
                clash = prefixes.get(prefix)
                checks.append(Check(f"{where}: transactional-id prefix {prefix!r} unique", bool(prefix) and not clash,
                                    f"also used by {clash}" if clash else "",
                                    "give every sink its own prefix (Settings.transactional_id_prefix): two "
                                    "producers with one prefix fence each other and lose data silently"))
                prefixes.setdefault(prefix, where)
            else:
                level = opts.get("properties.isolation.level", "read_uncommitted")
                checks.append(Check(f"{where}: source reads read_committed", level == "read_committed", level,
                                    "set 'properties.isolation.level' = 'read_committed', or aborted "
                                    "transactions' records are read as if they happened"))
    consumer = kafka_io.read_committed_consumer(settings)
    try:
        level = consumer.config.get("isolation_level")
    finally:
        consumer.close()
    checks.append(Check("supplyflow's kafka-python consumers read read_committed", level == "read_committed", level,
                        "pass isolation_level='read_committed' (kafka-python's default is read_uncommitted)"))

    compacted = {settings.topic(t) for t in config.COMPACTED_TOPICS}
    policies = {name: cfg.get("cleanup.policy") for name, cfg in _topic_configs(topic_cfg).items()}
    for topic in _topics(settings):
        if topic not in existing:
            checks.append(Check(f"topic {topic} exists", False, "", "run `supplyflow stack up` (or create it with "
                                f"{config.TOPIC_PARTITIONS} partitions)"))
            continue
        checks.append(Check(f"topic {topic}: {config.TOPIC_PARTITIONS} partitions",
                            partitions.get(topic) == config.TOPIC_PARTITIONS, f"has {partitions.get(topic)}",
                            "recreate the topic with the expected partition count (keys route by partition)"))
        if topic in compacted:
            checks.append(Check(f"topic {topic}: compacted", policies.get(topic) == "compact",
                                f"cleanup.policy={policies.get(topic)}",
                                f"kafka-configs --alter --entity-type topics --entity-name {topic} "
                                f"--add-config cleanup.policy=compact"))
    return checks


def _topics(settings: config.Settings) -> list[str]:
    return [settings.topic(t) for t in config.ALL_TOPICS]


def _broker_config(described, key: str) -> int | None:
    for cfg in _topic_configs(described).values():
        if key in cfg:
            return int(cfg[key])
    return None


def _topic_configs(described) -> dict[str, dict[str, str]]:
    """kafka-python 3's describe_configs answer as {resource: {config: value}}."""
    out: dict[str, dict[str, str]] = {}
    items = described.items() if isinstance(described, dict) else []
    for _kind, resources in items:
        for resource, configs in resources.items():
            out[resource] = {k: (v.get("value") if isinstance(v, dict) else v) for k, v in configs.items()}
    return out


def database_checks(settings: config.Settings) -> list[Check]:
    import psycopg

    where = f"{settings.pg_user}@{settings.pg_host}:{settings.pg_port}/{settings.pg_db}"
    try:
        conn = psycopg.connect(**settings.pg_conninfo(), connect_timeout=5)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [Check(f"PostgreSQL {where} reachable", False, reason,
                      "start it (`supplyflow stack up`) or set SUPPLYFLOW_PG_HOST/_PORT/_DB/_USER/_PASSWORD")]
    checks = [Check(f"PostgreSQL {where} reachable", True)]
    with conn:
        for table in config.TABLES:
            row = conn.execute("select to_regclass(%s) is not null, "
                               "case when to_regclass(%s) is null then false else "
                               "has_table_privilege(%s, 'SELECT') and has_table_privilege(%s, 'INSERT') and "
                               "has_table_privilege(%s, 'UPDATE') end",
                               [f"{config.PG_SCHEMA}.{table}"] * 5).fetchone()
            checks.append(Check(f"table {config.PG_SCHEMA}.{table}: exists, select/insert/update allowed",
                                bool(row[0] and row[1]), "missing" if not row[0] else "privilege missing",
                                "run `supplyflow stack up` (migrations)" if not row[0] else
                                f"grant select, insert, update on {config.PG_SCHEMA}.{table} to {settings.pg_user}"))
    return checks


def main(settings: config.Settings) -> int:
    """Run every check; print them; 1 when any failed."""
    from kafka.errors import KafkaError

    checks = database_checks(settings)
    try:
        checks += kafka_checks(settings, declared_kafka_tables(settings))
    except KafkaError as exc:  # an unreachable broker is a finding, not a crash
        checks.append(Check(f"Kafka {settings.kafka_bootstrap} reachable", False, type(exc).__name__,
                            "start it (`supplyflow stack up`) or set SUPPLYFLOW_KAFKA_BOOTSTRAP"))
    for c in checks:
        if c.ok:
            print(f"ok    {c.name}")
        else:
            print(f"FAIL  {c.name}" + (f" ({c.detail})" if c.detail else "") + f"\n        fix: {c.fix}")
    failed = sum(not c.ok for c in checks)
    print(f"\ndoctor: {len(checks) - failed} ok, {failed} failed")
    return 1 if failed else 0
