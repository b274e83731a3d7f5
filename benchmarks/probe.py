"""How fast this machine is at the moment: two short timings a benchmark records beside
its results, so that runs on a host whose speed changed can be told apart.

On this project's 2-core virtual machines the same build and records have cost the suite
from 471 to 608 CPU seconds per million events, with no steal and no other process: on
2026-12-07 a pointer chase over a shuffled list took 1.07-1.22 s in the morning and
1.41-1.66 s at noon, while a pure-Python loop took the same 0.37 s all day, and the
pass-through's CPU per event rose with the chase, by 40-55 % (benchmarks/README.md). The
host's memory got slower (neighbours sharing its caches and memory bandwidth, invisible
as steal), and the JVMs, RocksDB and Kafka feel it more than the interpreter does.

    loop_s   CPU seconds of a pure-Python loop over a small dict (cache-resident)
    chase_s  CPU seconds of 3 million dependent reads over a shuffled list of 4 million
             integers (memory latency)

Both are process CPU time (not wall time), so a busy neighbour process does not count
unless it slows the memory both share. Higher is slower.
"""

from __future__ import annotations

import random
import time

LOOP_STEPS = 3_000_000
CHASE_SIZE = 4_000_000
CHASE_STEPS = 3_000_000


def loop_s(steps: int = LOOP_STEPS) -> float:
    """CPU seconds of `steps` dict updates over 1,000 keys."""
    start = time.process_time()
    counts: dict[int, int] = {}
    for i in range(steps):
        counts[i % 1000] = counts.get(i % 1000, 0) + i * 3 % 7
    return time.process_time() - start


def chase_s(size: int = CHASE_SIZE, steps: int = CHASE_STEPS) -> float:
    """CPU seconds of `steps` dependent reads through a shuffled list of `size` integers
    (seed 1: the same walk every time)."""
    data = list(range(size))
    random.Random(1).shuffle(data)
    start = time.process_time()
    i = total = 0
    for _ in range(steps):
        i = data[i]
        total += i
    return time.process_time() - start


def machine_speed() -> dict[str, float]:
    """Both timings, rounded to milliseconds (about five seconds in all, with the shuffle)."""
    return {"loop_s": round(loop_s(), 3), "chase_s": round(chase_s(), 3)}
