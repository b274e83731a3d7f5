"""Validation throughput: how many records/s the edge validates (issue #3).

Two figures for the demo scenario's record mix (about 5 % faults, 2 % duplicates):
- `python`: udfs.validation.Validator alone, in this process, on one core;
- `flink-<mode>`: the edge job end to end on the embedded cluster — Kafka source,
  validation UDF, dedup, exactly-once Kafka and JDBC sinks — per Python execution mode,
  timed from submission to the final commit (so start-up is included).
Each Flink run gets a fresh namespace on the running stack, so runs do not see each other.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from supplyflow import config

MODES = ("process", "thread", "none")


def python_rate(records, repeat: int = 3) -> float:
    """Records/s of the pure-Python validator over `records`, best of `repeat`."""
    from udfs.validation import Validator

    validators = {t: Validator(t) for t in config.INPUT_TOPICS}
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        for r in records:
            validators[r.topic].validate(r.value)
        best = max(best, len(records) / (time.perf_counter() - start))
    return best


def flink_rate(settings: config.Settings, records, mode: str) -> tuple[float, float]:
    """(records/s, seconds) of a bounded edge run over `records` in Python `mode`, or with
    no Python at all (mode "none")."""
    from benchmarks import edge_floor
    from jobs import edge
    from supplyflow import runner, stack
    from supplyflow.produce import produce

    ns_settings = stack.create_namespace(settings, f"bench{uuid.uuid4().hex[:6]}")
    try:
        produce(ns_settings, records, progress=True)
        original = edge.job_config
        if mode != "none":  # "none": the edge with a constant verdict in SQL, no Python (benchmarks/edge_floor.py)
            edge.job_config = lambda s: {**original(s), "python.execution-mode": mode}
        try:
            start = time.perf_counter()
            runner.run([edge_floor.NAME if mode == "none" else edge.NAME], ns_settings, bounded=True)
            seconds = time.perf_counter() - start
        finally:
            edge.job_config = original
    finally:
        stack.drop_namespace(settings, ns_settings)
    return len(records) / seconds, seconds


def main(settings: config.Settings, size: int = 100_000, out_dir: Path | None = None) -> dict:
    """Run the benchmark, print a markdown table, write JSON; returns the results."""
    from testdata import generator

    records = generator.generate("demo", seed=7, size=size).records
    results = {"records": len(records), "python_records_per_s": round(python_rate(records))}
    for mode in MODES:
        rate, seconds = flink_rate(settings, records, mode)
        results[f"flink_{mode}_records_per_s"] = round(rate)
        results[f"flink_{mode}_seconds"] = round(seconds, 1)
    print(f"\n| validation of {results['records']} records | records/s |\n|---|---|")
    print(f"| udfs.validation alone (1 core) | {results['python_records_per_s']:,} |")
    for mode in MODES:
        what = "no validation (SQL constant verdict)" if mode == "none" else f"{mode} mode"
        print(f"| edge job, {what}: Kafka → Flink → Kafka + PostgreSQL, {results[f'flink_{mode}_seconds']} s "
              f"| {results[f'flink_{mode}_records_per_s']:,} |")
    out_dir = out_dir or settings.data_dir / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "validation.json").write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out_dir / 'validation.json'}")
    return results
