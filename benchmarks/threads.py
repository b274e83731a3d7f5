"""CPU per thread of the standalone cluster's TaskManagers, by Java thread name.

`python -m benchmarks.threads [--seconds S] [--top N]` reads every TaskManager's threads
twice, S seconds apart (`jcmd <pid> Thread.print`, whose `cpu=` is each thread's CPU time),
and prints each TaskManager's threads by the cores they used in between. Run it while a
benchmark keeps the jobs busy.

Flink names a task's thread after its operator chain ("core-per-line -> ... (1/1)#0"), and
in thread mode a Python operator runs in its task's thread, inside the embedded
interpreter: so this says which keyed Python stage, validation or source is the busy one,
which Flink's flame graphs (benchmarks/profile.py) do not (they sample Java frames only,
and the Python operators' time shows as one native call). For frames inside a thread,
native and Java alike, attach async-profiler (README, "Benchmarks": how the suite was
profiled on 2026-12-06).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import time
from collections import Counter

from supplyflow import config
from supplyflow.stack.flink_cluster import FlinkCluster

_THREAD = re.compile(r'^"(?P<name>[^"]*)".*?\bcpu=(?P<cpu>[\d.]+)(?P<unit>ms|s)\b', re.M)


def thread_cpu(dump: str) -> Counter:
    """Thread name -> CPU seconds, from a `jcmd <pid> Thread.print` dump (threads of one
    name, e.g. several Kafka producers' I/O threads, are added up)."""
    totals: Counter = Counter()
    for m in _THREAD.finditer(dump):
        totals[m["name"]] += float(m["cpu"]) / (1000 if m["unit"] == "ms" else 1)
    return totals


def label(name: str) -> str:
    """A thread's name without the numbers that differ between runs and subtasks."""
    return re.sub(r"\d+", "#", name)[:110]


def _dump(pid: int) -> str:
    return subprocess.run(["jcmd", str(pid), "Thread.print"], capture_output=True, text=True, timeout=60).stdout


def cores_by_thread(pids: list[int], seconds: float) -> dict[int, Counter]:
    """pid -> thread label -> cores used over `seconds` (CPU seconds / wall seconds)."""
    before = {pid: thread_cpu(_dump(pid)) for pid in pids}
    started = time.monotonic()
    time.sleep(seconds)  # the measured interval (not a synchronization)
    after = {pid: thread_cpu(_dump(pid)) for pid in pids}
    wall = time.monotonic() - started
    out: dict[int, Counter] = {}
    for pid in pids:
        used: Counter = Counter()
        for name, cpu in after[pid].items():
            used[label(name)] += (cpu - before[pid].get(name, 0.0)) / wall
        out[pid] = used
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.threads", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    pids = FlinkCluster(config.settings()).pids()
    if not pids:
        raise SystemExit("no Flink cluster is running here: start one (`supplyflow stack up --flink-cluster`), "
                         "submit the jobs and keep them busy (`supplyflow bench suite`)")
    for pid, used in cores_by_thread(pids, args.seconds).items():
        print(f"== pid {pid}: {sum(used.values()):.3f} cores")
        for name, cores in used.most_common(args.top):
            print(f"  {cores:6.3f}  {name}")


if __name__ == "__main__":
    main()
