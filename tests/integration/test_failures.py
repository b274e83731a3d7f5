"""Exactly-once under failures: the whole suite runs live on the standalone cluster while
waves of a generated scenario arrive and the test breaks things — kill -9 of the
TaskManager three times (each after a new completed checkpoint of every job), kill -9 of
the JobManager (every job resubmitted from its latest retained checkpoint), a hard kill
of the Kafka broker, PostgreSQL stopped (immediate) for 30 s, then every job stopped
with a savepoint and resumed at parallelism 2.

Expectations, none from the jobs' code under test: the DLQ and the valid topics from the
generator's labels and ledger; every table, every alert topic and the position topic
equal to a failure-free bounded run of the same records (one for one, so nothing lost or
duplicated); no open transaction left (every output partition's last stable offset is
its end); no log line meaning silent loss or an unexpected ERROR; and the database
password in no log, DLQ record or report.

Part of `make test`; `make faults` runs it alone, `make soak` the same with
SUPPLYFLOW_SOAK=1 (a larger scenario, more rounds). The live jobs run without source
idleness (see `Run`), so their event-time order is the bounded run's.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import time
from collections import Counter

import psycopg
import pytest

from supplyflow import config, kafka_io, procs, runner
from supplyflow.produce import produce
from supplyflow.stack.flink_cluster import FlinkCluster
from supplyflow.stack.kafka_broker import KafkaBroker
from supplyflow.stack.postgres import Postgres
from testdata import generator
from tests.helpers import (
    cli,
    entity_key,
    ns_env,
    output_snapshot,
    topic_snapshot,
    wait_for,
    watermark_ticks,
    why_failed,
)

pytestmark = pytest.mark.faults

SOAK = bool(os.environ.get("SUPPLYFLOW_SOAK"))
SIZE = 30_000 if SOAK else 4_000
TM_KILLS = 9 if SOAK else 3
JOBS = list(runner.ALL)  # what `submit all` deploys: the edge, then core
OUTPUT_TOPICS = (config.ALERTS_ETA, config.ALERTS_MATCHING, config.ALERTS_INVENTORY, config.ALERTS_REORDER,
                 config.INVENTORY_POSITIONS_TOPIC, config.SHIPMENT_STATUS_TOPIC, config.DLQ_TOPIC,
                 *config.VALID_TOPICS.values())
# a fenced or aborted transaction of ours (not Flink's own FencedPekkoRpcActor frames)
SILENT_LOSS = re.compile(r"ProducerFenced|InvalidProducerEpoch|\bfenced\b|potentially lost|signals data loss",
                         re.IGNORECASE)
# ERROR lines that are the expected echo of a fault we injected, not a defect
EXPECTED_ERRORS = re.compile(
    r"Connection refused|Connection to node|Disconnected|PSQLException|Connection to localhost:5432|"
    r"terminating connection|JdbcOutputFormat|JDBC|TimeoutException|NetworkException|"
    r"Heartbeat of TaskManager|TaskManager .* (lost|disconnected)|No TaskExecutor registered|"
    r"Association with remote system|NotLeaderOrFollower|coordinator|Uncaught exception in thread|"
    r"Failed to (send|commit|close)|flush|Writing records to JDBC failed|FATAL - exception in exception handler|"
    r"Fatal error occurred while executing the TaskManager|"
    # a restarted single-node KRaft broker registers before its own controller is active; retried
    r"apiKey=CONTROLLER_REGISTRATION", re.IGNORECASE)


LAST = "ZZEND"  # the tag of the last ticks: live, nothing comes after them to apply them


def _scenario():
    """The demo mix with every record under its entity key, the on-purpose late arrivals
    left out (live, a record hours behind the watermark is late by design; bounded, nothing
    is), and two rounds of ticks at the end: the first moves every watermark past the
    scenario, the second past the first round. The second round's own events wait for a
    watermark that never comes (live) and are left out of the comparison (`_without_last`)."""
    scenario = generator.generate("demo", seed=3, size=SIZE)
    records = [dataclasses.replace(r, key=entity_key(r)) for r in scenario.records if "late arrival" not in r.note]
    last = max(_ms(json.loads(r.value)["event_time"]) for r in records if r.expect == "valid")
    return scenario, records, watermark_ticks(last + 86_400_000, "TICK") + watermark_ticks(last + 86_460_000, LAST)


def _ms(value) -> int:
    from datetime import datetime

    if isinstance(value, int):
        return value
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def _dedicated_login(settings: config.Settings) -> config.Settings:
    """A login role of this run's own, with a random password to look for in the logs."""
    from psycopg import sql

    role, password = f"sf_{settings.namespace}", secrets.token_urlsafe(18)
    pg = Postgres(settings)
    with pg.admin_connect(settings.pg_db) as conn:
        conn.execute(sql.SQL("create role {} with login password {}").format(sql.Identifier(role),
                                                                           sql.Literal(password)))
        conn.execute(sql.SQL("grant usage on schema scm to {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("grant select, insert, update, delete on all tables in schema scm to {}").format(
            sql.Identifier(role)))
    return dataclasses.replace(settings, pg_user=role, pg_password=password)


class Run:
    """The live suite on the standalone cluster, and the faults to inject into it."""

    def __init__(self, settings: config.Settings):
        self.settings = settings
        # no source idleness: after a pause (a fault, a wave's end) a partition declared
        # idle lets the watermark pass events it has not delivered yet, which then apply
        # later than in the bounded run — another order, so other alerts (README, Failures)
        self.env = {**ns_env(settings), "SUPPLYFLOW_PG_USER": settings.pg_user,
                    "SUPPLYFLOW_PG_PASSWORD": settings.pg_password, "SUPPLYFLOW_IDLE_TIMEOUT": "0 ms"}
        self.cluster = FlinkCluster(settings)
        self.names = {runner.job_name(j, settings): j for j in JOBS}
        self.figures: list[str] = []

    def jobs(self) -> dict[str, dict]:
        return {name: job for name, job in self.cluster.jobs().items() if name in self.names}

    def wait(self, condition, what: str, timeout_s: float = 300, describe=None) -> None:
        wait_for(condition, what, timeout_s, describe=describe or self.states)

    def states(self) -> dict[str, str]:
        try:
            return {self.names[n]: j["state"] for n, j in self.jobs().items()}
        except OSError:
            return {}

    def all_running(self) -> bool:
        """Every job RUNNING; a TaskManager that died is restarted, as a supervisor would
        (a JDBC sink failing during an outage can make Flink stop the TaskManager, README)."""
        self.cluster.start()
        return len(self.jobs()) == len(JOBS) and all(j["state"] == "RUNNING" for j in self.jobs().values())

    def running_with_new_checkpoint(self) -> None:
        """Every job RUNNING and past one more completed checkpoint than now."""
        self.wait(self.all_running, "every job RUNNING")
        before = {j["jid"]: self.cluster.completed_checkpoints(j["jid"]) for j in self.jobs().values()}
        # a job is RUNNING while its tasks wait for slots: keep supervising the TaskManager
        self.wait(lambda: self.cluster.start() and all(self.cluster.completed_checkpoints(jid) > n
                                                       for jid, n in before.items()),
                  "a new completed checkpoint of every job")

    def submit(self, job: str, parallelism: int, savepoint: str | None = None) -> None:
        args = ["submit", job, "--parallelism", str(parallelism)]
        args += ["--from-savepoint", savepoint] if savepoint else []
        out = cli(*args, env=self.env, timeout=600)
        assert out.returncode == 0, why_failed(out)

    def fault(self, label: str, inject) -> None:
        started = time.monotonic()
        inject()
        self.running_with_new_checkpoint()
        self.figures.append(f"{label}: recovered in {time.monotonic() - started:.0f} s")

    def kill_taskmanager(self) -> None:
        assert self.cluster.kill_taskmanagers()
        self.cluster.start()  # a new TaskManager, as a supervisor would start

    def kill_jobmanager(self) -> None:
        """kill -9 the JobManager; a new one (no HA: it knows no jobs) gets every job
        resubmitted from its latest retained checkpoint, as an operator would."""
        jids = {self.names[name]: job["jid"] for name, job in self.jobs().items()}
        assert self.cluster.kill_jobmanager()
        self.cluster.start()
        for job, jid in jids.items():
            checkpoint = self.cluster.latest_checkpoint(jid)
            assert checkpoint, f"no retained checkpoint of {job} ({jid})"
            self.submit(job, parallelism=1, savepoint=str(checkpoint))

    def kill_broker(self) -> None:
        import signal

        broker = KafkaBroker(self.settings)
        pid = broker.pid()
        assert pid
        os.kill(pid, signal.SIGKILL)
        self.wait(lambda: broker.pid() is None and not procs.port_open(broker.host, broker.port), "the broker to die")
        broker.start()

    def stop_postgres(self) -> None:
        pg = Postgres(self.settings)
        pg.stop(mode="immediate")
        time.sleep(30)  # the outage itself: 30 s without the database (not a synchronization)
        pg.start()

    def savepoint_all(self) -> dict[str, str]:
        paths = {}
        for job in JOBS:
            out = cli("savepoint", job, env=self.env, timeout=600)
            assert out.returncode == 0, why_failed(out)
            paths[job] = out.stdout.split("savepoint: ", 1)[1].split()[0]
        return paths


def _without_last(snapshot: dict) -> dict:
    """A table or topic snapshot without what concerns the last ticks."""
    def keep(row) -> bool:
        return LAST not in str(row).upper()

    return {name: Counter({k: v for k, v in rows.items() if keep(k)}) if isinstance(rows, Counter)
            else [r for r in rows if keep(r)] for name, rows in snapshot.items()}


def _differences(got: dict, want: dict, shown: int = 3) -> dict:
    """What keeps two snapshots apart, per table: rows missing and rows extra (a few)."""
    diff = {}
    for name in want.keys() | got.keys():
        have, need = Counter(got.get(name, [])), Counter(want.get(name, []))
        missing, extra = list((need - have).elements()), list((have - need).elements())
        if missing or extra:
            diff[name] = {"missing": len(missing), "extra": len(extra), "e.g. missing": missing[:shown],
                          "e.g. extra": extra[:shown]}
    return diff


def _log_offsets(dirs) -> dict:
    return {p: p.stat().st_size for d in dirs for p in d.glob("*.log*") if p.is_file()}


def _new_log_lines(before: dict, dirs) -> list[str]:
    lines = []
    for d in dirs:
        for p in d.glob("*.log*"):
            if p.is_file():
                with open(p, "rb") as f:
                    f.seek(before.get(p, 0))
                    lines += [f"{p.name}: {line}" for line in f.read().decode(errors="replace").splitlines()]
    return lines


def _open_transactions(settings) -> dict[str, int]:
    """Output partitions whose last stable offset is behind their end: a transaction of
    ours left open."""
    from kafka import KafkaConsumer, TopicPartition

    ends = {}
    for isolation in ("read_committed", "read_uncommitted"):
        consumer = KafkaConsumer(**settings.kafka_client_config(), isolation_level=isolation)
        try:
            tps = [TopicPartition(settings.topic(t), p) for t in OUTPUT_TOPICS for p in range(config.TOPIC_PARTITIONS)]
            ends[isolation] = consumer.end_offsets(tps)
        finally:
            consumer.close()
    return {f"{tp.topic}:{tp.partition}": ends["read_uncommitted"][tp] - lso
            for tp, lso in ends["read_committed"].items() if lso != ends["read_uncommitted"][tp]}


def test_the_suite_survives_failures_with_nothing_lost_or_duplicated(namespaces, stack):
    scenario, records, ticks = _scenario()
    reference = namespaces()
    produce(reference, records + ticks, progress=False)
    runner.run(JOBS, reference, bounded=True)
    want_tables, want_topics = _without_last(output_snapshot(reference)), _without_last(topic_snapshot(reference))
    assert all(want_tables[t] for t in ("po_lines", "shipment_status", "inventory_positions", "alerts"))

    live = _dedicated_login(namespaces())
    run = Run(live)
    log_dirs = [live.data_dir / "flink" / "log", KafkaBroker(live).home, Postgres(live).log_file.parent]
    logs_before = _log_offsets(log_dirs)
    waves = [records[i * len(records) // (TM_KILLS + 4):(i + 1) * len(records) // (TM_KILLS + 4)]
             for i in range(TM_KILLS + 4)]
    assert cli("stack", "up", "--flink-cluster").returncode == 0
    started = time.monotonic()
    try:
        for job in JOBS:
            run.submit(job, parallelism=1)
        # at parallelism 1 the edge, core and core's per-location stage (a slot-sharing
        # group of its own) each have a TaskManager, and so an embedded Python interpreter
        # and its GIL, of their own (flink-conf: taskmanager.load-balance.mode)
        run.wait(lambda: sum(map(len, run.cluster.placement(run.names).values())) == len(JOBS) + 1,
                 "every job's tasks running")
        placement = run.cluster.placement(run.names)
        assert {job: len(tms) for job, tms in placement.items()} == {"edge": 1, "core": 2}, placement
        assert len(set.union(*placement.values())) == len(JOBS) + 1, f"jobs share a TaskManager: {placement}"
        faults = [(f"TaskManager kill -9 #{k + 1}", run.kill_taskmanager) for k in range(TM_KILLS)]
        faults += [("JobManager kill -9, jobs resubmitted from their latest checkpoints", run.kill_jobmanager),
                   ("Kafka broker kill -9", run.kill_broker),
                   ("PostgreSQL stopped (immediate) 30 s", run.stop_postgres)]
        for wave, (label, inject) in zip(waves, faults, strict=False):
            produce(live, wave, progress=False)
            run.running_with_new_checkpoint()  # state and open transactions hold part of the wave
            run.fault(label, inject)
        paths = run.savepoint_all()
        for job in JOBS:
            run.submit(job, parallelism=2, savepoint=paths[job])
        run.figures.append("stop-with-savepoint at parallelism 1, resumed at 2")
        produce(live, waves[-1] + ticks, progress=False)
        run.wait(lambda: _without_last(output_snapshot(live)) == want_tables,
                 "the tables to equal the failure-free run", 600,
                 describe=lambda: {**run.states(), **_differences(_without_last(output_snapshot(live)), want_tables)})
        run.savepoint_all()  # drains: every transaction commits
    finally:
        run.cluster.stop()
    report = (f"failures injected, {len(records):,} records in {time.monotonic() - started:.0f} s:\n  "
              + "\n  ".join(run.figures))
    print("\n" + report)  # shown with -s (make faults); kept for make test in the data directory
    (live.data_dir / "faults-report.txt").write_text(report + "\n")

    # nothing lost, nothing duplicated, nothing left open
    assert _without_last(output_snapshot(live)) == want_tables
    got_topics = _without_last(topic_snapshot(live))
    for topic, want in want_topics.items():
        assert got_topics[topic] == want, topic
    assert _open_transactions(live) == {}
    # the generator's ledger: every valid event once, every bad record dead-lettered with its code
    for topic, valid_topic in config.VALID_TOPICS.items():
        got = Counter(json.loads(r.value)["event_id"] for r in kafka_io.read_all(live, live.topic(valid_topic)))
        assert got == Counter(json.loads(r.value)["event_id"] for r in records + ticks
                              if r.topic == topic and r.expect == "valid"), topic
    with psycopg.connect(**live.pg_conninfo()) as conn:
        codes = Counter(c for (c,) in conn.execute("select error_code from scm.dlq_events"))
    assert codes == Counter(r.expect for r in records if r.expect not in ("valid", "duplicate"))
    # the logs: no silent loss, no unexpected ERROR, no password
    lines = _new_log_lines(logs_before, log_dirs)
    assert [ln for ln in lines if SILENT_LOSS.search(ln)] == []
    assert [ln for ln in lines if " ERROR " in ln and not EXPECTED_ERRORS.search(ln)] == []
    dlq = [r.value.decode() for r in kafka_io.read_all(live, live.topic(config.DLQ_TOPIC))]
    assert not [ln for ln in lines + dlq + run.figures if live.pg_password in ln]
    assert len(scenario.records) >= SIZE * 0.9
