"""`supplyflow bench suite`: throughput, latency and cost of the whole suite, side by side
with the limit (a bare SQL pass-through on the same cluster) and a peer (the ETA-variance
and inventory/reorder logic on Quix Streams, benchmarks/peer/), in one run. Two more
systems take the suite apart: `edge` (its first job alone, raw topics to valid ones) and
`edge-floor` (the same without Python, benchmarks/edge_floor.py); `tables-sql` puts
core's three tables in Flink SQL behind the edge (benchmarks/tables_sql.py), a sketch of
what they cost without Python; `keyed-floor` the pass-through through the cheapest keyed
Python stage (benchmarks/keyed_floor.py), the floor under any core in Python, and
`timer-floor` the same with core's wait for the watermark.

Each system gets a fresh namespace and the same records (the demo scenario's mix),
produced in steps of rising rate (benchmarks/harness.py says what is measured and when a
step is held). The Flink systems run unbounded on the standalone cluster at parallelism 1,
exactly-once on; the peer runs in its own virtualenv with exactly-once on.

Output: a markdown table on stdout and in `<out>/suite.md`, the figures in
`<out>/suite.json`, and `<out>/suite.png` (latency percentiles against input rate).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from benchmarks import harness, probe
from supplyflow import config, contracts
from supplyflow.errors import SupplyflowError

SYSTEMS = ("suite", "passthrough", "peer", "edge", "edge-floor", "tables-sql", "keyed-floor", "timer-floor")
ALERT_TOPICS = (config.ALERTS_ETA, config.ALERTS_MATCHING, config.ALERTS_INVENTORY, config.ALERTS_REORDER)
PEER_DIR = config.ROOT / "benchmarks" / "peer"
PEER_PYTHON = config.ROOT / ".venv-peer" / "bin" / "python"


@contextlib.contextmanager
def _submit_env(settings: config.Settings):
    """The SUPPLYFLOW_* settings jobs are built with, in this process's environment (the
    `flink` CLI passes it on to the job's program)."""
    values = {"SUPPLYFLOW_NAMESPACE": settings.namespace, "SUPPLYFLOW_PG_DB": settings.pg_db,
              "SUPPLYFLOW_CHECKPOINT_INTERVAL": settings.checkpoint_interval}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class FlinkSystem:
    """Jobs submitted unbounded to the standalone cluster; cancelled at the end."""

    def __init__(self, settings: config.Settings, jobs: list[str], outputs: list[str], trigger_field: str,
                 parallelism: int):
        from supplyflow.stack.flink_cluster import FlinkCluster

        self.settings, self.jobs, self.parallelism = settings, jobs, parallelism
        self.stages = len(jobs)
        self.outputs, self.trigger_field = [settings.topic(t) for t in outputs], trigger_field
        self.cluster = FlinkCluster(settings)

    def groups(self) -> dict[str, list[str]]:
        """Each job's consumer group; the first job's over the raw input topics."""
        raw = [self.settings.topic(t) for t in contracts.INPUT_SCHEMAS]
        return {self.settings.transactional_id_prefix(j, "source"): (raw if i == 0 else [])
                for i, j in enumerate(self.jobs)}

    def pids(self) -> list[int]:
        return self.cluster.pids()

    def start(self) -> None:
        from supplyflow import procs, submit

        with _submit_env(self.settings):
            submit.main(self.jobs, self.settings, "localhost:8081", bounded=False, parallelism=self.parallelism)
        procs.wait_until(lambda: len(self.running()) == len(self.jobs), 180, f"the {len(self.jobs)} jobs",
                         f"see `supplyflow metrics` and the logs in {self.cluster.home / 'log'}")

    def running(self, or_starting: bool = False) -> list[str]:
        """The ids of this system's RUNNING jobs; `or_starting`: of all not yet ended."""
        from supplyflow import runner
        from supplyflow.stack.flink_cluster import ENDED_STATES

        names = {runner.job_name(j, self.settings) for j in self.jobs}
        return [job["jid"] for name, job in self.cluster.jobs().items() if name in names
                and (job["state"] not in ENDED_STATES if or_starting else job["state"] == "RUNNING")]

    def placement(self) -> dict[str, int]:
        """How many TaskManagers each job's running subtasks are on, and how many the jobs
        share (each TaskManager embeds one Python interpreter: jobs on one share its GIL)."""
        from supplyflow import runner

        tms = self.cluster.placement({runner.job_name(j, self.settings): j for j in self.jobs})
        shared = len(set.intersection(*tms.values())) if len(tms) > 1 else 0
        return {**{job: len(t) for job, t in tms.items()}, "shared": shared}

    def state(self) -> dict[str, int]:
        """Each job's state: the size of its last completed checkpoint (the full state, also
        when checkpoints are incremental)."""
        from supplyflow import runner

        jobs = {runner.job_name(j, self.settings): j for j in self.jobs}
        sizes = {}
        for name, job in self.cluster.jobs().items():
            if name in jobs and job["state"] == "RUNNING":
                latest = (self.cluster.rest(f"/jobs/{job['jid']}/checkpoints").get("latest") or {}).get("completed")
                sizes[jobs[name]] = (latest or {}).get("state_size", 0)
        return sizes

    def stop(self) -> None:
        """Cancel the jobs and wait until they are gone: their JDBC sinks flush while they
        close, and a database dropped under them makes that cleanup fail, which Flink
        treats as fatal for the whole TaskManager (README, Failures). Then remove their
        checkpoints, which the cluster retains on cancellation (flink-conf) and nothing
        restores: they had piled up (2.9 GB on 2026-12-07)."""
        from supplyflow import procs
        from supplyflow.stack.flink_cluster import REST_PORT, rest

        # not only the running ones: a job that failed to start is RESTARTING, and stays
        jids = self.running(or_starting=True)
        for jid in jids:
            rest(f"localhost:{REST_PORT}", f"/jobs/{jid}?mode=cancel", method="PATCH")
        procs.wait_until(lambda: not self.running(or_starting=True), 180, f"the cancelled {', '.join(self.jobs)}",
                         f"see the logs in {self.cluster.home / 'log'}")
        for jid in jids:
            shutil.rmtree(self.cluster.checkpoints(jid), ignore_errors=True)


class PeerSystem:
    """The Quix Streams peer (benchmarks/peer/app.py) in its own virtualenv."""

    trigger_field = "trigger_event_id"
    stages = 4  # edge, per shipment, per PO line, per location: each commits before the next reads

    def __init__(self, settings: config.Settings):
        self.settings = settings
        self.outputs = [settings.topic("peer.alerts")]
        self.group = f"{settings.namespace}-peer"
        self.state_dir = settings.data_dir / "bench" / f"peer-state-{settings.namespace}"
        self.proc: subprocess.Popen | None = None

    def groups(self) -> dict[str, list[str]]:
        return {self.group: [self.settings.topic(t) for t in contracts.INPUT_SCHEMAS]}

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc and self.proc.poll() is None else []

    def start(self) -> None:
        setup = subprocess.run(["bash", str(PEER_DIR / "setup_venv.sh")], capture_output=True, text=True)
        if setup.returncode != 0:
            raise SupplyflowError(f"the peer's virtualenv could not be set up: {setup.stderr.strip()[-300:]}")
        log = open(self.settings.data_dir / "bench" / f"peer-{self.settings.namespace}.log", "w")
        self.proc = subprocess.Popen(
            [str(PEER_PYTHON), str(PEER_DIR / "app.py"), "--bootstrap", self.settings.kafka_bootstrap,
             "--namespace", self.settings.namespace, "--consumer-group", self.group,
             "--state-dir", str(self.state_dir)], stdout=log, stderr=subprocess.STDOUT, cwd=config.ROOT)
        from benchmarks.peer.check_e2e import wait_until_consuming

        wait_until_consuming(self.settings, self.group)  # else the first seconds arrive as a backlog

    def state(self) -> dict[str, int]:
        """The size of the peer's state directory (its RocksDB stores and changelogs' offsets)."""
        files = [p for p in self.state_dir.rglob("*") if p.is_file()] if self.state_dir.exists() else []
        return {"peer": sum(p.stat().st_size for p in files)}

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)
        shutil.rmtree(self.state_dir, ignore_errors=True)


SERVICES = ("Kafka", "PostgreSQL")


def service_costs(settings: config.Settings) -> dict[str, harness.ProcessCost]:
    """The services every system shares, by name: the local Kafka broker's JVM and
    PostgreSQL's postmaster with its children (the backends), whose CPU the harness
    reports beside the system's; a service not running here counts nothing."""
    from supplyflow.stack.kafka_broker import KafkaBroker
    from supplyflow.stack.postgres import Postgres

    def running(service) -> harness.ProcessCost:
        return harness.ProcessCost(lambda: [pid] if (pid := service.pid()) else [])

    return dict(zip(SERVICES, (running(KafkaBroker(settings)), running(Postgres(settings))), strict=True))


def make_system(name: str, settings: config.Settings, parallelism: int):
    from supplyflow import runner

    if name == "suite":
        return FlinkSystem(settings, list(runner.ALL), list(ALERT_TOPICS), "trigger_event_id", parallelism)
    if name in ("passthrough", "keyed-floor", "timer-floor"):  # the limit; the limit through a keyed Python stage
        from benchmarks import passthrough

        return FlinkSystem(settings, [name], [passthrough.OUTPUT_TOPIC], "event_id", parallelism)
    if name == "peer":
        return PeerSystem(settings)
    if name in ("edge", "edge-floor"):  # one hop of the suite alone: the edge, or the edge without Python
        return FlinkSystem(settings, [name], list(config.VALID_TOPICS.values()), "event_id", parallelism)
    if name == "tables-sql":  # the edge, then core's tables in SQL: no alerts to time, cost only
        return FlinkSystem(settings, ["edge", name], [], "trigger_event_id", parallelism)
    raise SupplyflowError(f"unknown system {name!r}: choose from {', '.join(SYSTEMS)}")


def measure(name: str, settings: config.Settings, records, rates: list[int], seconds: float,
            parallelism: int = 1, warmup_s: float | None = None) -> dict:
    """One system through the rate steps, in a fresh namespace; returns its figures."""
    from supplyflow import stack

    speed = probe.machine_speed()  # before anything of the system runs: the host's speed now
    ns = stack.create_namespace(settings, f"b{name[:4]}{uuid.uuid4().hex[:6]}")
    (ns.data_dir / "bench").mkdir(parents=True, exist_ok=True)
    stack.ensure_topics(ns, extra={ns.topic(t): {} for t in ("bench.passthrough", "peer.alerts")})
    system = make_system(name, ns, parallelism)
    print(f"== {name}: namespace {ns.namespace}", flush=True)
    if isinstance(system, FlinkSystem):
        _fresh_cluster(settings)  # fresh JVMs for each system, none inheriting another's heap or code
    placement = None
    try:
        system.start()
        placement = system.placement() if isinstance(system, FlinkSystem) else None
        steps = harness.run_steps(ns, harness.inputs(ns, records), rates, seconds, system.groups(),
                                  system.outputs, system.trigger_field, harness.ProcessCost(system.pids),
                                  progress=lambda line: print(f"  {line}", flush=True), stages=system.stages,
                                  warmup_s=warmup_s, services=service_costs(settings))
        state = system.state()
    finally:
        system.stop()
        stack.drop_namespace(settings, ns)
    speed_after = probe.machine_speed()  # the host can change speed within minutes
    held = [s for s in steps if s.held]
    return {"system": name, "namespace": ns.namespace, "machine_speed": {"before": speed, "after": speed_after},
            "steps": [s.summary() for s in steps],
            "sustained_rate": max((s.rate for s in held), default=0),
            "state_bytes": sum(state.values()), "state_by_job": state,
            **({"taskmanagers_by_job": placement} if placement else {})}


def main(settings: config.Settings, systems: list[str], rates: list[int], seconds: float,
         latency_rate: int = 5000, parallelism: int = 1, checkpoint_interval: str = "",
         out_dir: Path | None = None) -> dict:
    """Run the systems one after another on the same records; print and write the report."""
    import dataclasses

    if checkpoint_interval:
        settings = dataclasses.replace(settings, checkpoint_interval=checkpoint_interval)

    # The warm-up covers the scenario's opening (its setup, and the days before its first
    # PO lines are delivered) when the run is large enough to afford it; a small run, a
    # test's, warms up on its setup alone.
    steps, warmup = sum(rates) * seconds, rates[0] * harness.WARMUP_S
    ramp = RAMP_RECORDS if steps >= RAMP_RECORDS else 0
    records = _workload(settings, int((steps + warmup + ramp) * 1.02) + 1000)  # sizes are approximate
    warmup = max(warmup, steady_start(records) if ramp else setup_end(records))
    warmup_s = warmup / rates[0]
    results = {"date": time.strftime("%Y-%m-%d"), "seconds_per_step": seconds, "rates": rates,
               "latency_rate": latency_rate, "parallelism": parallelism, "cpus": os.cpu_count(),
               "checkpoint_interval": settings.checkpoint_interval or "5 s (flink-conf)", "systems": {}}
    for name in systems:
        results["systems"][name] = measure(name, settings, records, rates, seconds, parallelism, warmup_s)
    out_dir = out_dir or settings.data_dir / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "suite.json").write_text(json.dumps(results, indent=2))
    text = report(results)
    (out_dir / "suite.md").write_text(text)
    print("\n" + text)
    plot(results, out_dir / "suite.png")
    print(f"written to {out_dir}/suite.{{md,json,png}}")
    return results


def _fresh_cluster(settings: config.Settings) -> None:
    """Restart the standalone cluster, which must have no job running: every run starts
    from fresh JVMs, and runs the code on disk — thread mode imports jobs/ and udfs/ once
    per TaskManager, so a TaskManager that ran older code keeps it."""
    from supplyflow.stack.flink_cluster import ENDED_STATES, FlinkCluster

    cluster = FlinkCluster(settings)
    jobs = cluster.jobs() if cluster.overview() else {}
    busy = [name for name, job in jobs.items() if job["state"] not in ENDED_STATES]
    if busy:
        raise SupplyflowError(f"the Flink cluster is running {', '.join(busy)}: a benchmark needs it to itself; "
                              f"cancel them (Flink's web UI, or `supplyflow savepoint JOB`) and retry")
    print(f"flink       {cluster.stop()}", flush=True)
    print(f"flink       {cluster.start()}", flush=True)


WORKLOAD = "workload-demo-11-steady"  # the demo mix, seed 11, with the horizon that grows with the size


def _workload(settings: config.Settings, size: int) -> list:
    """The demo mix of `size` records (seed 11), generated once and kept under .data/bench
    (large scenarios take minutes to generate); one up to 4x larger kept there serves by
    its first `size` records (they are in produce order). Its mix is the same all along
    (`testdata.world.SPACING`) after an opening the warm-up covers (`steady_start`)."""
    import pickle

    from testdata import generator

    cache_dir = settings.data_dir / "bench"
    kept = sorted((int(p.stem.rsplit("-", 1)[1]), p) for p in cache_dir.glob(f"{WORKLOAD}-*.pickle"))
    larger = [path for n, path in kept if size <= n <= 4 * size]  # not a huge one for a small run
    if larger:
        return pickle.loads(larger[0].read_bytes())[:size]
    print(f"generating {size:,} records of the demo mix (about a minute and a half per million) ...", flush=True)
    records = generator.generate("demo", seed=11, size=size).records
    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / f"{WORKLOAD}-{size}.pickle").write_bytes(pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL))
    return records


RAMP_DAYS = 5  # a PO line is delivered 2-5 days after its creation, then received
RAMP_RECORDS = 250_000  # about RAMP_DAYS of a scenario whose horizon grew (testdata.world.SPACING)


def steady_start(records: list) -> int:
    """Where the scenario's mix becomes steady: after its setup, and after RAMP_DAYS of
    event time, when deliveries and receipts of the first PO lines have caught up."""
    from testdata.render import DAY
    from udfs.normalize import parse_timestamp

    setup, first = setup_end(records), None
    for i, r in enumerate(records):
        if r.expect != "valid":
            continue
        t = parse_timestamp(json.loads(r.value)["event_time"], "event_time")
        first = t if first is None else first
        if i >= setup and t >= first + RAMP_DAYS * DAY:
            return i
    return len(records)


def setup_end(records: list) -> int:
    """How many records the scenario's opening setup spans: every location's initial
    policy and opening balance come first, then the steady mix; measured steps start after."""
    from testdata.world import INITIAL_POLICY, OPENING_BALANCE

    return max((i + 1 for i, r in enumerate(records)
                if r.expect == "valid" and (INITIAL_POLICY in r.note or OPENING_BALANCE in r.note)), default=0)


def _at(system: dict, rate: int) -> dict | None:
    return next((s for s in system["steps"] if s["rate"] == rate), None)


def report(results: dict) -> str:
    """The markdown tables: per system and step, then the ratios the targets name."""
    lines = [f"{results['seconds_per_step']:.0f} s per step, parallelism {results['parallelism']}, "
             f"{results['cpus']} CPUs, exactly-once everywhere, Flink checkpoints every "
             f"{results.get('checkpoint_interval', '5 s')}", "", *_speeds(results),
             "| system | input/s | achieved/s | held | lag slope/s | final lag | p50 ms | p95 ms | p99 ms "
             "| CPU s / M events | peak RSS MB | harness cores | "
             + "".join(f"{name} CPU s / M | " for name in SERVICES)
             + "machine busy cores | steal % |", "|" + "---|" * (14 + len(SERVICES))]
    for name, system in results["systems"].items():
        for s in system["steps"]:
            lines.append(f"| {name} | {s['rate']:,} | {s['achieved_rate']:,} | {_held(s)} "
                         f"| {s['lag_slope_per_s']:,} | {s['final_lag']:,} | {_fmt(s['p50_ms'])} "
                         f"| {_fmt(s['p95_ms'])} | {_fmt(s['p99_ms'])} | {_fmt(s['cpu_s_per_million'])} "
                         f"| {s['peak_rss_mb']:,} | {_fmt(s.get('harness_cores'))} "
                         + "".join(f"| {_fmt(s.get('services_cpu_s_per_million', {}).get(name))} "
                                   for name in SERVICES)
                         + f"| {_fmt(s.get('machine_cores'))} "
                         f"| {_fmt(s.get('steal_pct'))} |")
    lines += ["", "| system | sustained input/s | p99 at the latency rate | state after the run |",
              "|---|---|---|---|"]
    rate = results["latency_rate"]
    for name, system in results["systems"].items():
        at = _at(system, rate)
        p99 = f"{_fmt(at['p99_ms'])} ms" + ("" if at["held"] else " (rate not held)") if at else "rate not reached"
        lines.append(f"| {name} | {_sustained(system)} | {p99} | {system['state_bytes'] / 1e6:.1f} MB |")
    for name, system in results["systems"].items():
        if len(system.get("state_by_job", {})) > 1:
            lines.append(f"\n{name} state by job: " + ", ".join(f"{job} {size / 1e6:.1f} MB"
                                                            for job, size in system["state_by_job"].items()))
    lines += ["", "Latency per output topic and alert type, at each system's highest held rate (or its first rate); "
              f"{' and '.join(sorted(harness.TIMEOUT_ALERTS))} are raised when event time passes a deadline "
              "after their trigger, so they are not in the percentiles above:", "",
              "| system | input/s | output topic | outputs timed | p50 ms | p99 ms |", "|---|---|---|---|---|---|"]
    for name, system in results["systems"].items():
        held = [s for s in system["steps"] if s["held"]]
        step = held[-1] if held else (system["steps"] or [None])[0]
        for topic, figures in (step or {}).get("by_output", {}).items():
            lines.append(f"| {name} | {step['rate']:,} | {topic} | {figures['outputs_timed']:,} "
                         f"| {_fmt(figures['p50_ms'])} | {_fmt(figures['p99_ms'])} |")
    systems = results["systems"]
    if "suite" in systems:
        suite = systems["suite"]
        for other, label in (("passthrough", "suite / pass-through"), ("peer", "suite / peer")):
            if other in systems and systems[other]["sustained_rate"]:
                ratio = suite["sustained_rate"] / systems[other]["sustained_rate"]
                # a system that held every rate tried may hold more: the ratio is a bound
                bound = ("" if _open_ended(suite) == _open_ended(systems[other])
                         else "≥ " if _open_ended(suite) else "≤ ")
                lines.append(f"\n{label}, sustained throughput: {bound}{ratio:.2f}")
    return "\n".join(lines) + "\n"


def _harness_short(step: dict) -> bool:
    """Not held only because the harness could not send the rate (the system kept up)."""
    return bool(step.get("producer_short")) and bool(step.get("keeps_up"))


def _speeds(results: dict) -> list[str]:
    """The host's speed before and after each system (benchmarks/probe.py), when the run
    recorded it."""
    speeds = {name: system["machine_speed"] for name, system in results["systems"].items()
              if system.get("machine_speed")}
    if not speeds:
        return []
    return ["Host speed before → after each system, CPU seconds (higher is slower; benchmarks/probe.py): "
            + "; ".join(f"{name} loop {s['before']['loop_s']:.2f} → {s['after']['loop_s']:.2f} s, "
                        f"memory chase {s['before']['chase_s']:.2f} → {s['after']['chase_s']:.2f} s"
                        for name, s in speeds.items()), ""]


def _held(step: dict) -> str:
    if step["held"]:
        return "yes"
    return "no: harness short" if _harness_short(step) else "no"


def _open_ended(system: dict) -> bool:
    """Held every rate tried, or kept up with every rate the harness could send: the
    sustained rate is a lower bound."""
    return bool(system["steps"]) and all(s["held"] or _harness_short(s) for s in system["steps"])


def _sustained(system: dict) -> str:
    rate = f"{system['sustained_rate']:,}"
    if not _open_ended(system):
        return rate
    if all(s["held"] for s in system["steps"]):
        return f"≥ {rate} (every rate tried held)"
    return f"≥ {rate} (kept up with all the harness could send)"


def _fmt(v) -> str:
    return "–" if v is None else f"{v:,}"


def plot(results: dict, path: Path) -> None:
    """Latency percentiles against input rate, one line per system and percentile."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for (name, system), color in zip(results["systems"].items(), ("tab:blue", "tab:orange", "tab:green", "tab:red"),
                                     strict=False):
        steps = [s for s in system["steps"] if s["p50_ms"] is not None]
        for q, style in (("p50", ":"), ("p95", "--"), ("p99", "-")):  # one color per system
            ax.plot([s["rate"] for s in steps], [s[f"{q}_ms"] / 1000 for s in steps], style, marker="o",
                    color=color, label=f"{name} {q}")
        for s in steps:
            if not s["held"]:
                ax.annotate("not held", (s["rate"], s["p99_ms"] / 1000), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("input rate (events/s)")
    ax.set_ylabel("latency to a read_committed consumer (s)")
    ax.set_title(f"supplyflow bench suite ({results['date']}, {results['seconds_per_step']:.0f} s per step)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
