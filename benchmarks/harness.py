"""The measuring harness of `supplyflow bench suite`, the same for every system under test.

A *system* (the Flink suite, the SQL pass-through, the Quix Streams peer) reads the input
topics of a namespace and writes results to some output topics. The harness knows it
only from the outside:

- **input**: the scenario's records, produced at a fixed rate in steps of rising rate,
  each event's send time kept by its event_id;
- **lag**: every few seconds, what the system's consumer groups have committed against
  the topics' last stable offsets. A step is *held* when the lag does not grow over the
  step (its least-squares slope, times the step's length, stays below one checkpoint
  interval's worth of input: 5 s, the sawtooth of offsets committed with the checkpoints)
  and ends below 15 s worth of input per consuming stage (each commits every 5 s; the
  suite's stages and the peer's four hops are stages); the first 30 s at the first rate
  warm up;
- **latency**: a `read_committed` consumer of the output topics, as a subscriber would
  read them; an output's latency is the time from its trigger event's send to the moment
  this consumer sees it (`trigger_event_id`, or `event_id` for the pass-through);
- **cost**: CPU seconds (user + system, children included) and resident memory of the
  system's processes, from /proc.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from supplyflow import config

LAG_EVERY_S = 2.0
HOLD_GROWTH_S = 5.0  # input seconds the lag may grow by over a step (slope x step length) and be held
HOLD_BACKLOG_S = 15.0  # input seconds of lag still counted as held at the end of a step
WARMUP_S = 30.0  # unmeasured seconds at the first rate before the steps


@dataclass
class Input:
    """One record to produce: its physical topic, key, value and event_id."""

    topic: str
    key: bytes | None
    value: bytes
    event_id: str | None


@dataclass
class StepResult:
    rate: int
    started: float  # epoch seconds
    ended: float
    produced: int
    lag: list[tuple[float, int]] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    # per output topic and alert type: the latencies above, and those of TIMEOUT_ALERTS
    by_output: dict[str, list[float]] = field(default_factory=dict)
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    harness_cpu_s: float = 0.0  # this process's own CPU (producer, lag and output readers): not the system's
    stages: int = 1  # consuming stages in a row whose lags are summed (each lags up to a commit's worth)
    steal_share: float | None = None  # of the machine's CPU time, taken by the hypervisor (see host_cpu_times)
    flush_s: float = 0.0  # the producer's flush after the step's last send: its backlog, in seconds

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    @property
    def achieved_rate(self) -> float:
        return self.produced / self.seconds if self.seconds else 0.0

    @property
    def lag_slope(self) -> float:
        """Least-squares growth of the lag (records/s) over the step's last two thirds."""
        pts = self.lag[len(self.lag) // 3:]
        if len(pts) < 3:
            return 0.0
        mt, ml = statistics.fmean(t for t, _ in pts), statistics.fmean(lag for _, lag in pts)
        den = sum((t - mt) ** 2 for t, _ in pts)
        return sum((t - mt) * (lag - ml) for t, lag in pts) / den if den else 0.0

    @property
    def lag_growth(self) -> float:
        """The lag's growth over the step at its fitted slope (records)."""
        return self.lag_slope * self.seconds

    @property
    def final_lag(self) -> int:
        return self.lag[-1][1] if self.lag else 0

    @property
    def keeps_up(self) -> bool:
        """The system kept up with what it was sent: its lag neither grew nor piled up.
        Growth is judged over the whole step, so a system that falls behind by 3 % of the
        rate (9,000 records in 5 minutes at 1,000/s) is not held, while the commits'
        sawtooth (a slope of a few records/s either way) is."""
        return (self.lag_growth <= HOLD_GROWTH_S * self.rate
                and self.final_lag <= HOLD_BACKLOG_S * self.rate * self.stages)

    @property
    def producer_short(self) -> bool:
        """The harness's producer did not reach 95 % of the rate: the step says nothing
        about the system beyond the rate it was really sent."""
        return self.achieved_rate < 0.95 * self.rate

    @property
    def held(self) -> bool:
        return self.keeps_up and not self.producer_short

    def percentile(self, q: float) -> float | None:
        return percentile(self.latencies_ms, q)

    def summary(self) -> dict:
        return {
            "rate": self.rate, "seconds": round(self.seconds, 1), "produced": self.produced,
            "achieved_rate": round(self.achieved_rate), "held": self.held,
            "lag_slope_per_s": round(self.lag_slope, 1), "lag_growth": round(self.lag_growth),
            "final_lag": self.final_lag,
            "outputs_timed": len(self.latencies_ms),
            **{f"p{q}_ms": (round(v) if (v := self.percentile(q)) is not None else None) for q in (50, 95, 99)},
            "cpu_s": round(self.cpu_s, 1),
            "cpu_s_per_million": round(self.cpu_s / self.produced * 1e6) if self.produced else None,
            "peak_rss_mb": round(self.peak_rss_mb),
            "harness_cores": round(self.harness_cpu_s / self.seconds, 2) if self.seconds else None,
            "producer_short": self.producer_short, "keeps_up": self.keeps_up,
            "steal_pct": round(100 * self.steal_share, 1) if self.steal_share is not None else None,
            "flush_s": round(self.flush_s, 1),
            "by_output": {topic: {"outputs_timed": len(ms), "p50_ms": round(percentile(ms, 50)),
                                  "p99_ms": round(percentile(ms, 99))}
                          for topic, ms in sorted(self.by_output.items()) if ms},
        }


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def inputs(settings: config.Settings, records) -> list[Input]:
    """The generator's records as Inputs of a namespace (event_id read once, up front)."""
    return [Input(settings.topic(r.topic), r.key, r.value, field_of(r.value, "event_id")) for r in records]


def field_of(value: bytes | None, name: str) -> str | None:
    """A string field of a JSON object record; None for anything else (the scenario's
    malformed records, tombstones, 5,000-deep nesting)."""
    return fields_of(value, name)[0]


def fields_of(value: bytes | None, *names: str) -> list[str | None]:
    """String fields of a JSON object record, parsed once (see field_of)."""
    try:
        doc = json.loads(value)
        found = [doc.get(name) for name in names]
    except (ValueError, AttributeError, TypeError, RecursionError):
        return [None] * len(names)
    return [v if isinstance(v, str) else None for v in found]


# Alerts raised because event time passed a deadline, not by their trigger event: their
# trigger is the last event before a 12 h silence (STALE_TRACKING) or a shipment's first
# event 24 h before (ORPHAN_SHIPMENT), so the time from its send measures the rule's
# deadline in compressed event time, not the system. Timed apart (by_output), not in
# the step's percentiles.
TIMEOUT_ALERTS = frozenset({"STALE_TRACKING", "ORPHAN_SHIPMENT"})


class ProcessCost:
    """CPU seconds and resident memory of a set of processes and their descendants (the
    Python workers a TaskManager starts in process mode), from /proc."""

    def __init__(self, pids: Callable[[], list[int]]):
        self.roots = pids
        self.tick = os.sysconf("SC_CLK_TCK")

    def pids(self) -> list[int]:
        parents: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, todo = [], list(self.roots())
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(parents.get(pid, []))
        return found

    def cpu_s(self) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(f) for f in fields[11:15]) / self.tick  # utime stime cutime cstime
        return total

    def rss_mb(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024


class LagMonitor(threading.Thread):
    """Samples sum(last stable offset - committed offset) over consumer groups' partitions:
    the topics given for a group, and every partition it has committed an offset for."""

    def __init__(self, settings: config.Settings, groups: dict[str, list[str]], cost: ProcessCost):
        super().__init__(daemon=True)
        self.settings, self.groups, self.cost = settings, groups, cost
        self.samples: list[tuple[float, int, float]] = []  # (time, lag, rss MB)
        self.stopping = threading.Event()

    def lag(self, admin, consumer) -> int:
        from kafka import TopicPartition

        total = 0
        for group, topics in self.groups.items():
            committed = admin.list_group_offsets(group).get(group, {})
            tps = {TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()}
            ends = consumer.end_offsets(sorted(tps | set(committed)))
            total += sum(max(0, end - (committed[tp].offset if tp in committed else 0)) for tp, end in ends.items())
        return total

    def run(self) -> None:
        from kafka import KafkaAdminClient

        from supplyflow import kafka_io

        admin = KafkaAdminClient(**self.settings.kafka_client_config())
        consumer = kafka_io.read_committed_consumer(self.settings)
        try:
            while not self.stopping.wait(LAG_EVERY_S):
                self.samples.append((time.time(), self.lag(admin, consumer), self.cost.rss_mb()))
        finally:
            consumer.close()
            admin.close()


class OutputWatcher(threading.Thread):
    """Reads the output topics read_committed and times each output against its trigger."""

    def __init__(self, settings: config.Settings, topics: list[str], sent: dict[str, float], trigger_field: str):
        super().__init__(daemon=True)
        self.settings, self.topics, self.sent, self.trigger_field = settings, topics, sent, trigger_field
        self.timed: list[tuple[float, float, str, str | None]] = []  # (send time, latency ms, topic, alert type)
        self.seen = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        from kafka import TopicPartition

        from supplyflow import kafka_io

        consumer = kafka_io.read_committed_consumer(self.settings, fetch_max_wait_ms=50)
        try:
            tps = [TopicPartition(t, p) for t in self.topics for p in sorted(consumer.partitions_for_topic(t) or ())]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            while not self.stopping.is_set():
                for batch in consumer.poll(timeout_ms=100).values():
                    now = time.time()
                    for record in batch:
                        self.seen += 1
                        trigger, alert_type = fields_of(record.value, self.trigger_field, "alert_type")
                        sent = self.sent.get(trigger)
                        if sent is not None:
                            self.timed.append((sent, (now - sent) * 1000, record.topic, alert_type))
        finally:
            consumer.close()


def host_cpu_times(stat: str | None = None) -> tuple[int, int] | None:
    """(steal, total) jiffies of the whole machine from /proc/stat's `cpu` line, or None
    where there is none. Steal is CPU time the hypervisor gave to other guests while this
    one wanted it: on a shared host it slows every system measured, so each step reports
    its share."""
    try:
        stat = stat if stat is not None else Path("/proc/stat").read_text()
    except OSError:
        return None
    for line in stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
            return (ticks[7] if len(ticks) > 7 else 0), sum(ticks)
    return None


def steal_between(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def _own_cpu_s() -> float:
    """CPU seconds of this process, all threads: what the harness itself takes from the
    machine the system shares it with."""
    times = os.times()
    return times.user + times.system


def _producer(settings: config.Settings):
    from kafka import KafkaProducer

    # linger 20 ms: each wake-up of kafka-python's sender costs the harness CPU the system
    # measured beside it then lacks (750 records/s cost 0.25-0.30 cores at 5 ms, 0.16 at
    # 20 ms); a record waits at most that long after its send time is taken, which counts
    # against the system, not for it.
    return KafkaProducer(**settings.kafka_client_config(), acks="all", linger_ms=20, batch_size=512 * 1024)


def run_steps(settings: config.Settings, records: list[Input], rates: list[int], seconds: float,
              groups: dict[str, list[str]], output_topics: list[str], trigger_field: str,
              cost: ProcessCost, stop_at_first_miss: bool = True, progress: Callable[[str], None] = print,
              warmup_s: float | None = None, stages: int = 1) -> list[StepResult]:
    """Produce `records` at each rate of `rates` for `seconds` in turn, measuring each step,
    after `warmup_s` at the first rate that is not measured (JIT, Python workers, caches).
    `stages`: how many consuming stages in a row commit offsets the lag sums over."""
    sent: dict[str, float] = {}
    lag = LagMonitor(settings, groups, cost)
    watcher = OutputWatcher(settings, output_topics, sent, trigger_field)
    lag.start()
    watcher.start()
    producer = _producer(settings)
    results: list[StepResult] = []
    warmup_s = WARMUP_S if warmup_s is None else warmup_s
    cursor = int(rates[0] * warmup_s)
    try:
        _paced_send(producer, records[:cursor], rates[0], sent, progress, "warm-up")
        for rate in rates:
            need = int(rate * seconds)
            if cursor + need > len(records):
                raise ValueError(f"the workload has {len(records) - cursor:,} records left, the step at {rate}/s "
                                 f"needs {need:,}: use a larger --size")
            step_records = records[cursor:cursor + need]
            cursor += need
            cpu_before, own_before, host_before, started = cost.cpu_s(), _own_cpu_s(), host_cpu_times(), time.time()
            _paced_send(producer, step_records, rate, sent, progress, f"{rate:,}/s")
            flushing = time.time()
            producer.flush()
            ended = time.time()
            step = StepResult(rate=rate, started=started, ended=ended, produced=len(step_records),
                              cpu_s=cost.cpu_s() - cpu_before, harness_cpu_s=_own_cpu_s() - own_before,
                              stages=stages, steal_share=steal_between(host_before, host_cpu_times()),
                              flush_s=ended - flushing)
            step.lag = [(t, n) for t, n, _ in lag.samples if started <= t <= ended]
            step.peak_rss_mb = max((m for t, _, m in lag.samples if started <= t <= ended), default=cost.rss_mb())
            results.append(step)
            verdict = "held" if step.held else f"NOT held{_why(step)}"
            progress(f"step {rate:,}/s: {verdict} (lag slope {step.lag_slope:,.0f}/s, "
                     f"final lag {step.final_lag:,})")
            if stop_at_first_miss and ends_steps(step):
                break
        # late outputs of the last step: give the system a while to catch up, then stop timing
        deadline = time.time() + max(30.0, seconds / 2)
        while time.time() < deadline and (lag.samples[-1][1] if lag.samples else 1) > 0:
            time.sleep(LAG_EVERY_S)
    finally:
        producer.close()
        lag.stopping.set()
        watcher.stopping.set()
        lag.join(10)
        watcher.join(10)
    for step in results:
        assign_latencies(step, watcher.timed, settings.namespace)
    return results


def ends_steps(step: StepResult) -> bool:
    """The system fell behind this step: higher rates would say nothing more. A step the
    harness could not send while the system kept up (harness short) does not end them:
    it says nothing about the system, and the next rate may still be sent in full."""
    return not step.keeps_up


def _why(step: StepResult) -> str:
    return (f": the harness reached only {step.achieved_rate:,.0f}/s (its producer's flush took {step.flush_s:.1f} s)"
            if step.producer_short and step.keeps_up else "")


def assign_latencies(step: StepResult, timed: list[tuple[float, float, str, str | None]], namespace: str) -> None:
    """The outputs whose trigger was sent during the step (late ones count against it):
    the step's latencies (all but TIMEOUT_ALERTS) and every one by topic and alert type."""
    mine = [(ms, topic, kind) for t, ms, topic, kind in timed if step.started <= t <= step.ended]
    step.latencies_ms = [ms for ms, _, kind in mine if kind not in TIMEOUT_ALERTS]
    for ms, topic, kind in mine:
        label = topic.removeprefix(f"{namespace}.") + (f" {kind}" if kind else "")
        step.by_output.setdefault(label, []).append(ms)


def _paced_send(producer, records: list[Input], rate: int, sent: dict[str, float],
                progress: Callable[[str], None], label: str) -> None:
    """Send `records` at `rate` per second: each 5 ms, what is due by then."""
    start = time.monotonic()
    n, last_report = 0, start
    while n < len(records):
        due = min(len(records), int((time.monotonic() - start) * rate) + 1)
        now = time.time()
        while n < due:
            r = records[n]
            producer.send(r.topic, key=r.key, value=r.value)
            if r.event_id is not None:
                sent[r.event_id] = now
            n += 1
        mono = time.monotonic()
        if mono - last_report >= 10:
            progress(f"  {label}: {n:,}/{len(records):,} sent ({n / (mono - start):,.0f}/s)")
            last_report = mono
        if n >= due:
            time.sleep(0.005)
