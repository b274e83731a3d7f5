"""Reading Flink's metrics from the Prometheus reporter (flink-conf/config.yaml).

Every Flink process of this machine serves /metrics on a port of 9249-9269; our own
metrics are the ones named `..._supplyflow_...`.
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


def supplyflow_counters(job_name: str) -> dict[str, dict[tuple[str, ...], float]]:
    """Our counters of one job, summed over subtasks: metric -> (label values) -> value.

    e.g. {"accepted": {("scm.purchase-orders",): 12.0},
          "rejected": {("scm.purchase-orders", "INVALID_JSON"): 3.0}}
    """
    out: dict[str, dict[tuple[str, ...], float]] = defaultdict(lambda: defaultdict(float))
    for name, labels, value in scrape():
        if "_supplyflow_" not in name or labels.get("job_name") != job_name:
            continue
        metric = name.rsplit("_", 1)[-1]
        key = tuple(labels[k] for k in ("topic", "error_code") if k in labels)
        out[metric][key] += value
    return {k: dict(v) for k, v in out.items()}


def job_metric(job_name: str, metric: str) -> float | None:
    """A JobManager job metric such as numRestarts, or None when not (yet) reported."""
    for name, labels, value in scrape():
        if name == f"flink_jobmanager_job_{metric}" and labels.get("job_name") == job_name:
            return value
    return None
