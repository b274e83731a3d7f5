"""Where the running jobs spend their CPU: Flink's sampled flame graphs, summed.

`python -m benchmarks.profile [--seconds S] [--top N]` asks the standalone cluster for an
on-CPU flame graph of every vertex of every running job (rest.flamegraph.enabled is on in
flink-conf/config.yaml), waits for the samples, and prints the vertices by samples (where
the CPU goes) and, per vertex, the frames that were running themselves (self time). Run
it while a benchmark keeps the jobs busy.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from supplyflow.stack.flink_cluster import REST_PORT, rest

ADDRESS = f"localhost:{REST_PORT}"


def _self_time(node: dict, totals: Counter) -> None:
    """Samples in which a frame was the one running (not one of its callees)."""
    children = node.get("children", [])
    totals[node.get("name", "?")] += node.get("value", 0) - sum(c.get("value", 0) for c in children)
    for child in children:
        _self_time(child, totals)


def flame_graphs(seconds: float) -> dict[str, dict]:
    """(job name / vertex name) -> the flame graph's root node, for every running vertex."""
    vertices = []
    for job in rest(ADDRESS, "/jobs/overview")["jobs"]:
        if job["state"] == "RUNNING":
            for v in rest(ADDRESS, f"/jobs/{job['jid']}")["vertices"]:
                vertices.append((f"{job['name']} / {v['name'][:90]}", f"/jobs/{job['jid']}/vertices/{v['id']}"))
    for _, path in vertices:  # the first request starts the sampling
        rest(ADDRESS, f"{path}/flamegraph?type=on_cpu")
    time.sleep(seconds)  # the samples are taken over this time (not a synchronization)
    return {name: rest(ADDRESS, f"{path}/flamegraph?type=on_cpu").get("data") or {} for name, path in vertices}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--match", default="", help="only frames containing this text")
    args = parser.parse_args(argv)
    for name, root in sorted(flame_graphs(args.seconds).items(), key=lambda kv: -kv[1].get("value", 0)):
        total = root.get("value", 0)
        if not total:
            continue
        totals: Counter = Counter()
        _self_time(root, totals)
        print(f"\n{name}: {total} samples")
        shown = [(f, n) for f, n in totals.most_common() if n > 0 and args.match in f]
        for frame, n in shown[:args.top]:
            print(f"  {100 * n / total:5.1f}%  {frame[:150]}")


if __name__ == "__main__":
    main()
