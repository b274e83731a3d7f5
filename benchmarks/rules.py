"""The Python side of core's two keyed operators, replayed without Flink.

`supplyflow bench rules --size N [--profile]` takes the demo mix (seed 7, as `bench jobs`),
keeps what the edge accepts, and drives core's rule sets through `line_events.fire_all`
as its operators do in a bounded run: per key, each event is buffered under its instant
(the pending list decoded, appended, encoded), then every instant and rule timer fires in
timestamp order (the key's state decoded, the instant's events sorted, the rules, the
outputs converted or encoded, the state encoded). The per-location stage reads what the
per-line stage emitted `on_order`, as ON_ORDER does in SQL. No state backend, no bridge:
what is left is the CPU the embedded interpreter spends on our code, per input event,
split into the JSON of the buffer, the JSON of the state, the rules, and the outputs.
Set it beside the operators' thread CPU (benchmarks/README.md) to see the bridge's share.
"""

from __future__ import annotations

import cProfile
import heapq
import pstats
import time
from collections import defaultdict
from dataclasses import replace

from jobs import eta_exceptions, inventory, line_events, location_events, reorder, shipment_matching
from supplyflow import config

PARTS = ("buffer JSON", "state JSON", "rules", "outputs")


def _per_line_events(records) -> tuple[dict, list]:
    """(per-line events by key, per-location events) in produce order, in the shapes of
    line_events.EVENTS and location_events.MOVEMENTS / POLICIES."""
    from benchmarks.peer import logic, reference

    accepted = reference.accepted_events(records)
    shipment_line: dict = {}
    for topic, ev in accepted:
        if topic == config.SHIPMENT_EVENTS:
            shipment_line.setdefault(ev["shipment_id"], (ev["po_id"], ev["po_line"]))
    lines: dict = defaultdict(list)
    locations: list = []
    for topic, ev in accepted:
        if topic == config.PURCHASE_ORDERS:
            lines[_line_key(ev["po_id"], ev["po_line"])].append(logic.po_line_event(ev))
        elif topic == config.SHIPMENT_EVENTS:
            lines[_line_key(ev["po_id"], ev["po_line"])].append(logic.shipment_line_event(ev))
        elif topic == config.INVENTORY_MOVEMENTS:
            mv = logic.movement_event(ev)
            locations.append(mv)
            if mv["event_type"] == "RECEIPT" and mv["ref_id"] in shipment_line:
                po_id, po_line = shipment_line[mv["ref_id"]]
                lines[_line_key(po_id, po_line)].append(logic.receipt_line_event(mv, po_id, po_line))
        else:
            pl = logic.policy_event(ev)
            pl["policy"] = line_events._dumps(pl["policy"])  # JSON_OBJECT in SQL
            locations.append(pl)
    return lines, locations


def _line_key(po_id, po_line) -> str:
    """The per-line key, as line_events.key_of builds it in SQL (NULL as 'None')."""
    return f"{po_id}#{po_line}"


def _typed(rule_sets) -> dict:
    return {
        (rs.job, kind): line_events._converters(columns) for rs in rule_sets for kind, columns in rs.outputs.items()
    }


def replay_stage(rule_sets, by_key: dict, final_wm: int, clock: dict) -> list:
    """One keyed stage over `by_key` (key -> events in arrival order), bounded: the
    outputs as (job, kind, doc). `clock` collects nanoseconds per part (PARTS) and the
    firings: "instants" (a timer with events buffered for it) and "timer-only" (a rule's
    timer with none, each a state read and write in Flink), "idle" the timer-only
    firings that emitted nothing."""
    typed = _typed(rule_sets)
    dumps, loads, ns = line_events._dumps, line_events._loads, time.perf_counter_ns
    outputs = []
    for events in by_key.values():
        buffer: dict[int, str] = {}
        timers: list[int] = []
        t0 = ns()
        for event in events:
            pending = loads(buffer.get(event["event_time"]) or "[]")
            pending.append(event)
            buffer[event["event_time"]] = dumps(pending)
            timers.append(event["event_time"])
        clock["buffer JSON"] += ns() - t0
        heapq.heapify(timers)
        stored, fired = None, set()
        while timers:
            timestamp = heapq.heappop(timers)
            if timestamp in fired:
                continue
            fired.add(timestamp)
            t0 = ns()
            pending = loads(buffer.pop(timestamp, None) or "[]")
            clock["instants" if pending else "timer-only"] += 1
            tb = ns()
            state = loads(stored) if stored else None
            t1 = ns()
            pending.sort(key=line_events.instant_order)
            state, due, out = line_events.fire_all(rule_sets, state, pending, timestamp, timestamp <= final_wm, 0)
            for t in due:
                if t not in fired:
                    heapq.heappush(timers, t)
            t2 = ns()
            clock["idle"] += not pending and not out
            for job, kind, doc in out:
                fields = typed.get((job, kind))
                if fields is None:
                    dumps(doc)
                else:
                    [convert(doc.get(field)) for field, convert in fields]
                outputs.append((job, kind, doc))
            t3 = ns()
            stored = dumps(state) if state is not None else None
            t4 = ns()
            clock["buffer JSON"] += tb - t0
            clock["state JSON"] += (t1 - tb) + (t4 - t3)
            clock["rules"] += t2 - t1
            clock["outputs"] += t3 - t2
    return outputs


def replay(records, settings: config.Settings) -> dict:
    """Both stages of core over `records`: per stage, events in, outputs and nanoseconds
    per part; and every alert document either stage emitted."""
    RuleSet = line_events.RuleSet
    per_line_sets = [
        RuleSet(shipment_matching.NAME, shipment_matching.rules(settings), shipment_matching.OUTPUTS),
        RuleSet(eta_exceptions.NAME, eta_exceptions.rules(settings), eta_exceptions.OUTPUTS),
        location_events.on_order_rules(settings),
    ]
    per_location_sets = [
        RuleSet(inventory.NAME, inventory.rules(settings), inventory.OUTPUTS, inventory.KINDS),
        RuleSet(reorder.NAME, reorder.rules(settings), reorder.OUTPUTS, reorder.KINDS),
    ]
    lines, locations = _per_line_events(records)
    times = [e["event_time"] for evs in lines.values() for e in evs] + [e["event_time"] for e in locations]
    final_wm = max(times) - line_events.OUT_OF_ORDERNESS_MS
    result: dict = {"alerts": []}
    line_clock: dict = defaultdict(int)
    out = replay_stage(per_line_sets, lines, final_wm, line_clock)
    result["per-line"] = {"events": sum(map(len, lines.values())), "ns": dict(line_clock), "outputs": len(out)}
    result["alerts"] += [doc for _, kind, doc in out if kind == "alerts"]
    by_location: dict = defaultdict(list)
    for ev in locations:
        by_location[f"{ev['sku']}|{ev['warehouse_id']}"].append(ev)
    for job, kind, doc in out:
        if job == location_events.ON_ORDER_JOB and kind == "on_order":
            by_location[f"{doc['sku']}|{doc['warehouse_id']}"].append(
                {"kind": "OO", "event_id": doc["event_id"], "event_type": "PO_LINE", "event_time": doc["event_time"],
                 "sku": doc["sku"], "warehouse_id": doc["warehouse_id"], "qty": doc["open_qty"],
                 "ref_id": doc["line"], "policy": None})
    location_clock: dict = defaultdict(int)
    out = replay_stage(per_location_sets, by_location, final_wm, location_clock)
    result["per-location"] = {"events": sum(map(len, by_location.values())), "ns": dict(location_clock),
                              "outputs": len(out)}
    result["alerts"] += [doc for _, kind, doc in out if kind == "alerts"]
    return result


def main(settings: config.Settings, size: int = 100_000, profile: bool = False) -> dict:
    """Replay, print a markdown table (µs per input record of the mix), return the figures."""
    from testdata import generator

    settings = replace(settings, namespace="")
    records = generator.generate("demo", seed=7, size=size).records
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    result = replay(records, settings)
    if profiler:
        profiler.disable()
    n = len(records)
    print(f"\n{n:,} input records (demo mix, seed 7); core's Python per input record, without Flink:\n")
    print("| stage | events in | instants | timer-only firings (emitting nothing) | outputs | "
          + " | ".join(f"{p} µs" for p in PARTS) + " | total µs |")
    print("|---|---|---|---|---|" + "---|" * (len(PARTS) + 1))
    for stage in ("per-line", "per-location"):
        r = result[stage]
        parts = [r["ns"].get(p, 0) / 1000 / n for p in PARTS]
        print(f"| {stage} | {r['events']:,} | {r['ns'].get('instants', 0):,} | {r['ns'].get('timer-only', 0):,} "
              f"({r['ns'].get('idle', 0):,}) | {r['outputs']:,} | " + " | ".join(f"{v:.1f}" for v in parts)
              + f" | {sum(parts):.1f} |")
    if profiler:
        print()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return result

