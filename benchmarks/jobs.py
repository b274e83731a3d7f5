"""Throughput of each job of the suite on the same input: where the suite's bottleneck is.

The demo scenario's record mix is produced once into a fresh namespace; then every job
runs bounded at parallelism 1, one after the other (the edge first, as `run all` does),
each timed from submission to its final commit (start-up included). Each job's rate is
the input records / its wall time, so the rates compare directly: the slowest job bounds
the suite. The last one, core, is the four stateful jobs as one (what `run all` runs
after the edge), against the sum of their four runs apart.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from supplyflow import config


def main(settings: config.Settings, size: int = 100_000, out_dir: Path | None = None) -> dict:
    """Run the benchmark, print a markdown table, write JSON; returns the results."""
    from jobs import core
    from supplyflow import runner, stack
    from supplyflow.produce import produce
    from testdata import generator

    records = generator.generate("demo", seed=7, size=size).records
    ns_settings = stack.create_namespace(settings, f"bench{uuid.uuid4().hex[:6]}")
    results: dict = {"records": len(records), "jobs": {}}
    try:
        produce(ns_settings, records, progress=True)
        for name in runner.JOB_MODULES:
            start = time.perf_counter()
            runner.run([name], ns_settings, bounded=True)
            seconds = time.perf_counter() - start
            results["jobs"][name] = {"seconds": round(seconds, 1), "records_per_s": round(len(records) / seconds)}
    finally:
        stack.drop_namespace(settings, ns_settings)
    print(f"\n| job ({results['records']:,} input records, parallelism 1) | wall time | input records/s |")
    print("|---|---|---|")
    for name, r in results["jobs"].items():
        print(f"| {name} | {r['seconds']} s | {r['records_per_s']:,} |")
    slowest = min(results["jobs"], key=lambda n: results["jobs"][n]["records_per_s"])
    print(f"\nslowest: {slowest}")
    apart = sum(results["jobs"][job.NAME]["seconds"] for job in core.JOBS)
    results["four_apart_seconds"] = round(apart, 1)
    print(f"the four stateful jobs apart: {apart:.1f} s in all; as one (core): {results['jobs']['core']['seconds']} s "
          f"({apart / results['jobs']['core']['seconds']:.1f}x)")
    out_dir = out_dir or settings.data_dir / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "jobs.json").write_text(json.dumps(results, indent=2))
    print(f"written to {out_dir / 'jobs.json'}")
    return results
