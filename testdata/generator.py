"""Deterministic, seeded scenarios of Kafka records for the input topics (SPEC §2, §3).

    scenario = generate("demo", seed=7)          # ~5,000 records
    scenario.records                             # in produce order
    scenario.counts()                            # {"valid": ..., "duplicate": ..., "INVALID_JSON": ...}
    scenario.valid_events(config.PURCHASE_ORDERS)  # the ledger: what the jobs should accept

Every record says what the validation at the edge must do with it (`expect`): "valid",
"duplicate" (a byte-identical producer retry of a valid record, dropped by dedup) or the
SPEC §3 error code it must be dead-lettered with. Everything is drawn from one
`random.Random` seeded by (name, seed, size) with a fixed base time, so the same
arguments always give the same bytes.

The stream is a small supply chain (`world.py`, `stories.py`) with normalization
variants in valid records (`render.py`) and injected faults of every kind
(`faults.py`). Records are in produce order: event-time order with network jitter of up
to 1.5 s, a few records arriving hours late on purpose, duplicates seconds after their
original and faults near the event they were made from.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from testdata import faults as fault_mod
from testdata.render import dumps
from testdata.world import Draft, World


@dataclass(frozen=True)
class Record:
    """One Kafka record to produce, with what the edge validation must do with it."""

    topic: str            # logical input topic (a `supplyflow.config` constant)
    key: bytes | None
    value: bytes | None   # None = tombstone
    expect: str           # "valid", "duplicate" or a SPEC §3 error code (the first that applies)
    note: str             # short human description; faults read "fault:<kind>: <detail>"


@dataclass(frozen=True)
class ScenarioSpec:
    """A named scenario: default size in records and the shares of faults and duplicates."""

    description: str
    size: int
    fault_share: float
    duplicate_share: float


SCENARIOS: dict[str, ScenarioSpec] = {
    "smoke": ScenarioSpec("every story and every fault kind at least once, in ~200 records", 200, 0.20, 0.03),
    "demo": ScenarioSpec("a realistic stream with a sprinkling of faults and producer retries", 5000, 0.05, 0.02),
    "faults": ScenarioSpec("mostly bad records: every SPEC §3 fault kind many times", 1000, 0.60, 0.05),
}


@dataclass
class Scenario:
    """A generated scenario: its records in produce order."""

    name: str
    seed: int
    records: list[Record] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Number of records by `expect`, sorted by label."""
        out: dict[str, int] = {}
        for r in self.records:
            out[r.expect] = out.get(r.expect, 0) + 1
        return dict(sorted(out.items()))

    def valid_events(self, topic: str) -> list[dict[str, Any]]:
        """The ledger: parsed JSON of the valid, non-duplicate records of `topic`, in produce
        order — what the jobs accept, for computing expectations independently of them."""
        return [json.loads(r.value) for r in self.records if r.expect == "valid" and r.topic == topic]


def generate(name: str = "demo", seed: int = 7, size: int | None = None) -> Scenario:
    """The scenario `name` (a key of SCENARIOS) for `seed`, of about `size` records
    (default: the scenario's size). Same arguments, same bytes."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}: choose one of {', '.join(SCENARIOS)}")
    spec = SCENARIOS[name]
    size = spec.size if size is None else size
    if size < 1:
        raise ValueError("size must be at least 1")
    # a string seed is hashed with SHA-512 by Random: stable across runs and PYTHONHASHSEED
    rng = random.Random(f"supplyflow/{name}/{seed}/{size}")
    n_faults = round(size * spec.fault_share)
    n_dups = round(size * spec.duplicate_share)
    world = World(rng, max(1, size - n_faults - n_dups))
    valid = world.build()
    for d in valid:  # serialize once: a duplicate must be byte-identical to its original
        d.raw, tags = dumps(d.event, rng)
        if tags:
            d.note += f" [{', '.join(tags)}]"
    faults = fault_mod.make_faults(world, n_faults)
    # (produce time, tie-breaker, draft); the tie-breaker keeps the sort total and stable
    keyed = [(d.time + d.delay, i, d) for i, d in enumerate(valid + faults)]
    for i, orig in enumerate(rng.sample(valid, min(n_dups, len(valid)))):
        dup = Draft(orig.topic, orig.key, orig.time, f"duplicate of {orig.event['event_id']} (producer retry)",
                    raw=orig.raw, expect="duplicate")
        # seconds after the original: a retry, well inside the dedup window
        keyed.append((orig.time + orig.delay + rng.randint(1_000, 20_000), len(keyed) + i, dup))
    keyed.sort(key=lambda k: (k[0], k[1]))
    records = [Record(d.topic, None if d.key is None else d.key.encode("utf-8"), d.raw, d.expect, d.note)
               for _, _, d in keyed]
    return Scenario(name, seed, records)
