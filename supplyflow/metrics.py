"""Reading Flink's metrics from the Prometheus reporter (flink-conf/config.yaml).

Every Flink process of this machine serves /metrics on a port of 9249-9269. What the
suite counts, it counts with Flink's own metrics: the records into a counting sink
(`line_events.add_counter`) are the count, in every Python execution mode.
"""

from __future__ import annotations

import re
import urllib.request
from collections import defaultdict

PORTS = range(9249, 9270)
_LINE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(ports=PORTS) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every sample served on localhost's reporter ports."""
    samples = []
    for port in ports:
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/metrics", timeout=1) as resp:
                body = resp.read().decode()
        except OSError:
            continue
        for line in body.splitlines():
            m = _LINE.match(line)
            if m and not line.startswith("#"):
                samples.append((m["name"], dict(_LABEL.findall(m["labels"] or "")), float(m["value"])))
    return samples


def supplyflow_counters(job_name: str, samples=None) -> dict[str, dict[tuple[str, ...], float]]:
    """The edge's counters of one job (jobs/edge.py `COUNTERS`, counting sinks), summed
    over subtasks: counter -> (label values) -> value; rejections only by the codes seen.

    e.g. {"accepted": {("scm.purchase-orders",): 12.0},
          "rejected": {("scm.purchase-orders", "INVALID_JSON"): 3.0}}
    """
    from jobs.edge import COUNTERS

    out: dict[str, dict[tuple[str, ...], float]] = defaultdict(dict)
    for sink, value in _records_in(job_name, scrape() if samples is None else samples).items():
        if sink in COUNTERS:
            counter, topic, code = COUNTERS[sink]
            if code is None or value:
                out[counter][(topic,) if code is None else (topic, code)] = value
    return dict(out)


def job_metric(job_name: str, metric: str, samples=None) -> float | None:
    """A JobManager job metric such as numRestarts, or None when not (yet) reported."""
    for name, labels, value in scrape() if samples is None else samples:
        if name == f"flink_jobmanager_job_{metric}" and labels.get("job_name") == job_name:
            return value
    return None


_OPERATOR = "flink_taskmanager_job_task_operator_"
_INSTANCE = re.compile(r"^(?:Source: )?(?P<name>[^\[]+)\[(?P<id>\d+)\]")
_NO_WATERMARK_MS = 10 * 365 * 86_400_000  # a lag beyond 10 years: no watermark yet


def _per_instance(job_name: str, samples) -> tuple[dict, dict[str, float]]:
    """Operator metrics of one job: metric -> (operator name, plan id) -> value summed over
    subtasks, and the worst watermark lag per operator name."""
    per_instance: dict[str, dict[tuple[str, str], float]] = defaultdict(lambda: defaultdict(float))
    lag: dict[str, float] = {}
    for name, labels, value in samples:
        if labels.get("job_name") != job_name or not name.startswith(_OPERATOR):
            continue
        metric, operator = name[len(_OPERATOR):], labels.get("operator_name", "")
        m = _INSTANCE.match(operator)
        if not m:
            continue
        if metric == "watermarkLag":
            lag[m["name"]] = max(lag.get(m["name"], value), value)
        elif metric in ("numRecordsIn", "numRecordsOut", "pendingRecords"):
            per_instance[metric][(m["name"], m["id"])] += value
    return per_instance, lag


def _by_name(values: dict[tuple[str, str], float], prefix: str = "") -> dict[str, float]:
    """Per operator name (without `prefix`); one table read twice gives the larger."""
    out: dict[str, float] = {}
    for (name, _), value in values.items():
        if name.startswith(prefix):
            out[name[len(prefix):]] = max(out.get(name[len(prefix):], 0.0), value)
    return out


def _records_in(job_name: str, samples) -> dict[str, float]:
    return _by_name(_per_instance(job_name, samples)[0]["numRecordsIn"])


def job_report(job_name: str, samples: list[tuple[str, dict[str, str], float]] | None = None) -> dict:
    """What an operator wants to know about one running job, from the reporter:

    accepted / rejected (by code) / late per topic (the edge's own counters), duplicates
    dropped (the dedup operator's records in minus out), alerts emitted per type (the
    records into each `alerts_of_type_*` counting sink), and per source table the
    watermark lag (ms behind the wall clock, worst subtask; None before the first
    watermark) and the records still to read (`pendingRecords`)."""
    samples = scrape() if samples is None else samples
    per_instance, lag = _per_instance(job_name, samples)

    def by_name(metric: str, prefix: str = "") -> dict[str, float]:
        return _by_name(per_instance[metric], prefix)

    from jobs.line_events import ALERT_COUNTER_PREFIX

    counters = supplyflow_counters(job_name, samples)
    dedup_in, dedup_out = by_name("numRecordsIn", "Deduplicate"), by_name("numRecordsOut", "Deduplicate")
    pending = by_name("pendingRecords")
    sources = sorted(set(lag) | set(pending))
    return {
        "job": job_name,
        "restarts": job_metric(job_name, "numRestarts", samples),
        "accepted": {k[0]: v for k, v in counters.get("accepted", {}).items()},
        "rejected": {f"{k[0]} {k[1]}": v for k, v in counters.get("rejected", {}).items()},
        "late": {k[0]: v for k, v in counters.get("late", {}).items()},
        # the edge's dedup (the job with the validation counters); core's receipt join
        # de-duplicates too, but what it drops are a shipment's repeated lines, not events
        "duplicates": sum(dedup_in.values()) - sum(dedup_out.values()) if dedup_in and counters else None,
        "alerts": {k.upper(): v for k, v in by_name("numRecordsIn", ALERT_COUNTER_PREFIX).items()},
        "sources": {s: {"watermark_lag_ms": lag[s] if s in lag and lag[s] < _NO_WATERMARK_MS else None,
                        "pending_records": pending.get(s)} for s in sources},
    }


def _lag_text(ms: float | None) -> str:
    if ms is None:
        return "no watermark yet"
    seconds = int(ms // 1000)
    days, rest = divmod(seconds, 86_400)
    return (f"{days}d " if days else "") + f"{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}"


def human(report: dict) -> list[str]:
    """A report as lines for a terminal."""
    def counts(values: dict[str, float]) -> str:
        return " · ".join(f"{k} {int(v):,}" for k, v in sorted(values.items())) or "none"

    restarts = report["restarts"]
    lines = [f"{report['job']}  (restarts: {'?' if restarts is None else int(restarts)})"]
    if report["accepted"] or report["rejected"]:
        lines += [f"  accepted    {counts(report['accepted'])}", f"  rejected    {counts(report['rejected'])}",
                  f"  late        {counts(report['late'])}"]
    if report["duplicates"] is not None:
        lines.append(f"  duplicates  {int(report['duplicates']):,} dropped")
    if report["alerts"]:
        lines.append(f"  alerts      {counts(report['alerts'])}")
    for source, s in report["sources"].items():
        pending = "?" if s["pending_records"] is None else f"{int(s['pending_records']):,}"
        lines.append(f"  source      {source}: watermark lag {_lag_text(s['watermark_lag_ms'])}, {pending} to read")
    return lines


def main(settings, as_json: bool = False) -> int:
    """`supplyflow metrics`: the report of every job of these settings that is running."""
    import json

    from supplyflow import runner
    from supplyflow.errors import SupplyflowError

    samples = scrape()
    running = {labels.get("job_name") for _, labels, _ in samples}
    names = [runner.job_name(j, settings) for j in runner.JOB_MODULES if runner.job_name(j, settings) in running]
    if not names:
        raise SupplyflowError(f"no running supplyflow job reports metrics on localhost:{PORTS.start}-{PORTS.stop - 1}:"
                              " start the jobs with `supplyflow run` or `supplyflow submit all`")
    for name in names:
        report = job_report(name, samples)
        print(json.dumps(report) if as_json else "\n".join(human(report)), flush=True)
    return 0
