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
  system's processes, from /proc; beside them the CPU of the services it shares (the
  Kafka broker and PostgreSQL) and how busy the whole machine was.

The harness runs on the machine it measures, so it must take little of it. Its producer
and output reader use confluent-kafka (librdkafka: batching, requests, fetching and
checksums in C threads outside the GIL; the Python left is one produce() call per record
and one orjson parse per output). Measured 2026-12-06 on this 2-core machine, 20 s at
each rate, demo-mix records, throwaway topics: the producer alone reached 25,000/s on
0.10 of a core and 40,000/s on 0.13, where kafka-python's took 0.83 of a core for
25,000/s and reached only 28,556/s of 40,000 on 0.99 (GIL-bound); producing and reading
every record back, as for the pass-through, 0.15 of a core at 10,000/s against 0.58,
and 0.22 at 25,000/s, 0.34 at 40,000/s. LagMonitor still uses kafka-python (a few
requests every 2 s).
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import orjson

from supplyflow import config
from supplyflow.errors import SupplyflowError

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
    services_cpu_s: dict[str, float] = field(default_factory=dict)  # per service (services= of run_steps)
    machine_cpu_s: float | None = None  # every process of the machine, the harness's and the OS's too
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

    def _per_million(self, cpu_s: float | None) -> int | None:
        return round(cpu_s / self.produced * 1e6) if cpu_s is not None and self.produced else None

    def _cores(self, cpu_s: float | None) -> float | None:
        return round(cpu_s / self.seconds, 2) if cpu_s is not None and self.seconds else None

    def summary(self) -> dict:
        return {
            "rate": self.rate, "seconds": round(self.seconds, 1), "produced": self.produced,
            "achieved_rate": round(self.achieved_rate), "held": self.held,
            "lag_slope_per_s": round(self.lag_slope, 1), "lag_growth": round(self.lag_growth),
            "final_lag": self.final_lag,
            "outputs_timed": len(self.latencies_ms),
            **{f"p{q}_ms": (round(v) if (v := self.percentile(q)) is not None else None) for q in (50, 95, 99)},
            "cpu_s": round(self.cpu_s, 1),
            "cpu_s_per_million": self._per_million(self.cpu_s),
            "peak_rss_mb": round(self.peak_rss_mb),
            "harness_cores": self._cores(self.harness_cpu_s),
            "producer_short": self.producer_short, "keeps_up": self.keeps_up,
            "steal_pct": round(100 * self.steal_share, 1) if self.steal_share is not None else None,
            "services_cpu_s_per_million": {name: self._per_million(s) for name, s in self.services_cpu_s.items()},
            "machine_cpu_s_per_million": self._per_million(self.machine_cpu_s),
            "machine_cores": self._cores(self.machine_cpu_s),
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
    """String fields of a JSON object record, parsed once (see field_of); never raises.

    orjson parses what it can (1.5 µs for a 400-byte alert against 4.8 µs with json.loads);
    only what it rejects (1.4 % of the demo mix's records) goes to json.loads as before,
    so the answer stays json.loads's: it still reads the NaN, UTF-16, BOM and
    lone-surrogate records orjson refuses, and still refuses the 5,000-digit numbers and
    deep nesting (the two agreed on every field of 345,490 records of the demo mix). Only
    top-level fields count, as before."""
    if value is None:  # a tombstone
        return [None] * len(names)
    try:
        doc = orjson.loads(value)
    except ValueError:  # orjson.JSONDecodeError, also for a value that is not bytes or str
        try:
            doc = json.loads(value)
        except (ValueError, TypeError, RecursionError):
            return [None] * len(names)
    if not isinstance(doc, dict):
        return [None] * len(names)
    return [v if isinstance(v := doc.get(name), str) else None for name in names]


# The project's Kafka client settings (Settings.kafka_client_config: kafka-python's
# keys) and the librdkafka property each one is for confluent-kafka.
LIBRDKAFKA_KEYS = {
    "bootstrap_servers": "bootstrap.servers",
    "security_protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
    "ssl_cafile": "ssl.ca.location",
}


def librdkafka_config(kafka_python: dict[str, object]) -> dict[str, str]:
    """kafka-python client settings as librdkafka properties. A setting without a
    translation here is an error rather than silently dropped (a forgotten SASL or SSL
    setting would connect in plaintext or not at all); it is named by its key, never its
    value, which may be a secret."""
    props: dict[str, str] = {}
    for key, value in kafka_python.items():
        prop = LIBRDKAFKA_KEYS.get(key)
        if prop is None:
            raise ValueError(f"the Kafka setting {key!r} has no librdkafka property in benchmarks/harness.py "
                             f"(LIBRDKAFKA_KEYS)")
        props[prop] = ",".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
    return props


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
    """Reads the output topics read_committed and times each output against its trigger.

    confluent-kafka (librdkafka): fetching, decompression and CRC checks run in librdkafka's
    own threads, outside this process's GIL, which the paced producer needs."""

    def __init__(self, settings: config.Settings, topics: list[str], sent: dict[str, float], trigger_field: str):
        super().__init__(daemon=True)
        self.settings, self.topics, self.sent, self.trigger_field = settings, topics, sent, trigger_field
        self.timed: list[tuple[float, float, str, str | None]] = []  # (send time, latency ms, topic, alert type)
        self.seen = 0
        self.errors = 0  # consumer errors (a partition or broker failing), the first in first_error
        self.first_error: str | None = None
        self.stopping = threading.Event()

    def consumer(self):
        from confluent_kafka import Consumer

        return Consumer({
            **librdkafka_config(self.settings.kafka_client_config()),
            "client.id": "supplyflow-bench-outputs",
            # confluent-kafka requires a group.id; this one is never joined (partitions are
            # assigned) and never committed to, so the broker keeps nothing of it
            "group.id": f"supplyflow-bench-outputs-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",  # as a subscriber reads our exactly-once outputs
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 50,  # as the kafka-python reader had (fetch_max_wait_ms=50)
        })

    def run(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        consumer = self.consumer()
        try:
            tps = []
            for topic in self.topics:
                meta = consumer.list_topics(topic, timeout=30).topics.get(topic)
                partitions = sorted(meta.partitions) if meta is not None and meta.error is None else []
                tps += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions]
            consumer.assign(tps)
            sent, trigger_field, timed = self.sent, self.trigger_field, self.timed
            while not self.stopping.is_set():
                first = consumer.poll(0.1)  # returns at the first record (consume() waits for a full batch)
                if first is None:
                    continue
                batch = [first, *consumer.consume(1000, 0)]  # and what else is there already
                now = time.time()
                for msg in batch:
                    if msg.error() is not None:
                        self.errors += 1
                        self.first_error = self.first_error or str(msg.error())
                        continue
                    self.seen += 1
                    trigger, alert_type = fields_of(msg.value(), trigger_field, "alert_type")
                    at = sent.get(trigger)
                    if at is not None:
                        timed.append((at, (now - at) * 1000, msg.topic(), alert_type))
        finally:
            consumer.close()


class HostTimes(NamedTuple):
    """Jiffies of the whole machine since boot: steal, all, and idle (with iowait)."""

    steal: int
    total: int
    idle: int


def host_cpu_times(stat: str | None = None) -> HostTimes | None:
    """The whole machine's jiffies from /proc/stat's `cpu` line, or None where there is
    none. Steal is CPU time the hypervisor gave to other guests while this one wanted it:
    on a shared host it slows every system measured, so each step reports its share."""
    try:
        stat = stat if stat is not None else Path("/proc/stat").read_text()
    except OSError:
        return None
    for line in stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
            return HostTimes(steal=ticks[7] if len(ticks) > 7 else 0, total=sum(ticks), idle=ticks[3] + ticks[4])
    return None


def steal_between(before: HostTimes | None, after: HostTimes | None) -> float | None:
    if before is None or after is None or after.total <= before.total:
        return None
    return (after.steal - before.steal) / (after.total - before.total)


def busy_cpu_s_between(before: HostTimes | None, after: HostTimes | None) -> float | None:
    """CPU seconds the machine's processes (all of them) used in between: neither idle,
    waiting for I/O nor stolen."""
    if before is None or after is None:
        return None
    busy = (after.total - after.idle - after.steal) - (before.total - before.idle - before.steal)
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    """CPU seconds of this process, all threads: what the harness itself takes from the
    machine the system shares it with."""
    times = os.times()
    return times.user + times.system


class PacedProducer:
    """The harness's producer: confluent-kafka (librdkafka). Its batching, requests and
    delivery reports run in librdkafka's C threads, outside this process's GIL, so the
    Python left per record is one produce() call: kafka-python's sender thread, record
    encoding and pure-Python murmur2 partitioner held the GIL instead (in a suite step at
    20,000/s it reached about 17,100/s on ~0.95 core).

    The records go where kafka-python sent them (the Java client's murmur2 partitioner,
    random for records without a key) with the same guarantees (acks=all, idempotent).
    Delivery errors are counted (only errors are reported, so the report queue stays
    empty); check() raises if there were any."""

    def __init__(self, settings: config.Settings, **overrides: object):
        from confluent_kafka import Producer

        self.failed = 0
        self.first_failure: str | None = None
        self._producer = Producer({
            **librdkafka_config(settings.kafka_client_config()),
            "client.id": "supplyflow-bench-harness",
            "acks": "all",
            "enable.idempotence": True,  # as the kafka-python producer was (its enable_idempotence default)
            "partitioner": "murmur2_random",  # kafka-python's and the Java client's placement of keys
            # linger 20 ms: each request costs CPU the system measured beside it then lacks.
            # With kafka-python it was its sender thread's wake-ups (750 records/s cost
            # 0.25-0.30 cores at 5 ms, 0.16 at 20 ms); with librdkafka mostly the broker's
            # (at 25,000/s: harness 0.10 + broker 0.11 cores at 20 ms, 0.13 + 0.20 at 5 ms).
            # A record waits at most that long after its send time is taken, which counts
            # against the system, not for it.
            "linger.ms": 20,
            "batch.size": 512 * 1024,
            "delivery.report.only.error": True,
            "on_delivery": self._delivered,
            **overrides,
        })
        self.produce = self._producer.produce  # (topic, value, key): the C method itself, no wrapper
        self.poll = self._producer.poll

    def _delivered(self, err, msg) -> None:
        if err is not None:
            self.failed += 1
            if self.first_failure is None:
                self.first_failure = f"{msg.topic()}: {err.str()}"

    def send_when_room(self, r: Input) -> None:
        """Produce `r` once librdkafka's queue has room again (produce() raised BufferError)."""
        while True:
            self._producer.poll(0.005)
            try:
                self._producer.produce(r.topic, r.value, r.key)
                return
            except BufferError:
                continue

    def flush(self) -> None:
        """Until every record is delivered or failed (in steps, so Ctrl-C can stop it)."""
        while self._producer.flush(1.0):
            pass

    def check(self) -> None:
        """Raise if a record could not be delivered: the step did not send its rate."""
        if self.failed:
            raise SupplyflowError(f"the harness's producer could not deliver {self.failed:,} records "
                                  f"(the first: {self.first_failure}); the step's input is incomplete")

    def close(self) -> None:
        """Drop what is still queued (after flush() nothing is) and wait briefly for what is in flight."""
        self._producer.purge(in_queue=True, in_flight=False)
        self._producer.flush(5.0)


def _producer(settings: config.Settings) -> PacedProducer:
    return PacedProducer(settings)


def run_steps(settings: config.Settings, records: list[Input], rates: list[int], seconds: float,
              groups: dict[str, list[str]], output_topics: list[str], trigger_field: str,
              cost: ProcessCost, stop_at_first_miss: bool = True, progress: Callable[[str], None] = print,
              warmup_s: float | None = None, stages: int = 1,
              services: dict[str, ProcessCost] | None = None) -> list[StepResult]:
    """Produce `records` at each rate of `rates` for `seconds` in turn, measuring each step,
    after `warmup_s` at the first rate that is not measured (JIT, Python workers, caches).
    `stages`: how many consuming stages in a row commit offsets the lag sums over;
    `services`: the processes of each service the system uses (the Kafka broker,
    PostgreSQL) by name, whose CPU each step reports beside the system's."""
    services = services or {}
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
            services_before = {name: service.cpu_s() for name, service in services.items()}
            cpu_before, own_before, host_before, started = cost.cpu_s(), _own_cpu_s(), host_cpu_times(), time.time()
            _paced_send(producer, step_records, rate, sent, progress, f"{rate:,}/s")
            flushing = time.time()
            producer.flush()
            ended, host_after = time.time(), host_cpu_times()
            producer.check()
            step = StepResult(rate=rate, started=started, ended=ended, produced=len(step_records),
                              cpu_s=cost.cpu_s() - cpu_before, harness_cpu_s=_own_cpu_s() - own_before,
                              stages=stages, steal_share=steal_between(host_before, host_after),
                              flush_s=ended - flushing, machine_cpu_s=busy_cpu_s_between(host_before, host_after),
                              services_cpu_s={name: service.cpu_s() - services_before[name]
                                              for name, service in services.items()})
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
    if watcher.errors:
        progress(f"the output reader met {watcher.errors:,} consumer errors (the first: {watcher.first_error})")
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


def _paced_send(producer: PacedProducer, records: list[Input], rate: int, sent: dict[str, float],
                progress: Callable[[str], None], label: str) -> None:
    """Send `records` at `rate` per second: each 5 ms, what is due by then. Each record's
    send time is taken before it is handed to the producer."""
    produce, poll = producer.produce, producer.poll
    start = time.monotonic()
    n, last_report = 0, start
    while n < len(records):
        due = min(len(records), int((time.monotonic() - start) * rate) + 1)
        now = time.time()
        while n < due:
            r = records[n]
            try:
                produce(r.topic, r.value, r.key)
            except BufferError:  # librdkafka's queue is full: wait for room, as kafka-python's send() blocked
                producer.send_when_room(r)
            if r.event_id is not None:
                sent[r.event_id] = now
            n += 1
        poll(0)  # serve the delivery reports (only failures are reported) so they never pile up
        mono = time.monotonic()
        if mono - last_report >= 10:
            producer.check()
            progress(f"  {label}: {n:,}/{len(records):,} sent ({n / (mono - start):,.0f}/s)")
            last_report = mono
        if n >= due:
            time.sleep(0.005)
