"""What the alerts of a scenario should be, computed without Kafka, for checking the peer.

`flink_reference(records)` applies the suite's rules the way the bounded Flink jobs do:
accepted, de-duplicated events, per PO line and then per SKU location, one event-time
instant at a time (events sorted as in jobs/line_events.py), so the result does not
depend on arrival order. STALE_TRACKING is left out (the peer has no event-time timers).

`peer_in_memory(records, hops=..., topology=...)` runs the peer's own stage functions
(logic.py) on the records in arrival order without Kafka: `hops="instant"` forwards every
message at once (the limit of a very short commit interval), `hops="delay:N"` delivers
each message N records after it was sent (a steady produce rate: N = rate × commit
interval), `hops="waves"` lets a stage see a message only after the previous stage has
finished all of its input (a backlog replayed with rare commits). Kafka's interleaving of
partitions while reading is not modelled: records are read in produce order.

Both return alert documents (render_alert's shape) with the same alert_ids as the suite.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import replace
from typing import Any, Iterable

from benchmarks.peer import logic
from jobs import line_events
from jobs.line_events import KINDS
from supplyflow import config
from udfs.validation import Validator

STALE = "STALE_TRACKING"


def accepted_events(records: Iterable[Any]) -> list[tuple[str, dict[str, Any]]]:
    """(logical topic, normalized event) of the records the edge accepts, keep-first per
    (topic, event_id), in produce order. Records have .topic and .value (testdata Records)."""
    validators = {t: Validator(t) for t in config.INPUT_TOPICS}
    seen: set[tuple[str, str]] = set()
    out = []
    for r in records:
        ev = validators[r.topic].validate(r.value).event
        if ev is not None and (r.topic, ev["event_id"]) not in seen:
            seen.add((r.topic, ev["event_id"]))
            out.append((r.topic, ev))
    return out


def _instant_key(ev: dict[str, Any]) -> tuple:
    return ev["event_time"], KINDS.index(ev["kind"]), ev.get("version") or 0, ev["event_id"]


def _by_instant(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    events = sorted(events, key=_instant_key)
    groups: list[list[dict[str, Any]]] = []
    for ev in events:
        if groups and groups[-1][0]["event_time"] == ev["event_time"]:
            groups[-1].append(ev)
        else:
            groups.append([ev])
    return groups


def flink_reference(records: Iterable[Any], settings: config.Settings | None = None) -> list[dict[str, Any]]:
    """The alerts the eta-exceptions, inventory and reorder jobs give for these records
    (all but STALE_TRACKING), computed in event-time order."""
    settings = settings or config.settings()
    events = accepted_events(records)
    shipment_line: dict[str, tuple[Any, Any]] = {}
    per_line: dict[str, list[dict[str, Any]]] = {}
    per_location: dict[str, list[dict[str, Any]]] = {}
    for topic, ev in events:
        if topic == config.SHIPMENT_EVENTS:
            shipment_line.setdefault(ev["shipment_id"], (ev["po_id"], ev["po_line"]))
    for topic, ev in events:
        if topic == config.PURCHASE_ORDERS:
            e = logic.po_line_event(ev)
        elif topic == config.SHIPMENT_EVENTS:
            e = logic.shipment_line_event(ev)
        elif topic == config.INVENTORY_MOVEMENTS:
            mv = logic.movement_event(ev)
            per_location.setdefault(logic.location_key(mv["sku"], mv["warehouse_id"]), []).append(mv)
            if mv["event_type"] != "RECEIPT" or mv["ref_id"] not in shipment_line:
                continue
            e = logic.receipt_line_event(mv, *shipment_line[mv["ref_id"]])
        else:
            pl = logic.policy_event(ev)
            per_location.setdefault(logic.location_key(pl["sku"], pl["warehouse_id"]), []).append(pl)
            continue
        per_line.setdefault(logic.line_key(e["po_id"], e["po_line"]), []).append(e)

    stage = logic.LineStage(settings)
    alerts: list[dict[str, Any]] = []
    for key in sorted(per_line):
        eta_state = oo_state = None
        for instant in _by_instant(per_line[key]):
            for ev in instant:
                eta_state = eta_state or line_events.new_state(stage.eta, ev)
                line_events.apply(stage.eta, eta_state, ev)
                oo_state = oo_state or line_events.new_state(stage.on_order, ev)
                line_events.apply(stage.on_order, oo_state, ev)
            alerts += [logic.render_alert(a) for a in stage.eta.emit(eta_state, instant[-1], 0).get("alerts", [])]
            for row in stage.on_order.emit(oo_state, instant[-1], 0).get("on_order", []):
                oo = logic.on_order_event(row)
                per_location.setdefault(logic.location_key(oo["sku"], oo["warehouse_id"]), []).append(oo)

    rules = logic.LocationStage(settings).rules
    for key in sorted(per_location):
        loc = None
        for instant in _by_instant(per_location[key]):
            for ev in instant:
                loc = loc or rules.new_state(ev)
                rules.apply(loc, ev)
            alerts += [logic.render_alert(a) for a in rules.emit(loc, instant[-1], 0)["alerts"]]
    return alerts


def peer_in_memory(records: Iterable[Any], settings: config.Settings | None = None, hops: str = "instant",
                   topology: str = "uniform") -> list[dict[str, Any]]:
    """The peer's stages (logic.py) over the records in arrival order, states in dicts.
    hops: "instant" (each message handled as soon as it is sent), "waves" (a stage sees
    the previous stage's output only after that stage has drained its input) or "delay:N"
    (a message sent while record i is read is handled when record i + N is: a commit
    interval of N records, as in a run fed at a steady rate)."""
    delay = int(hops.split(":", 1)[1]) if hops.startswith("delay:") and hops[6:].isdigit() else None
    if hops not in ("instant", "waves") and delay is None:
        raise ValueError(f"hops must be 'instant', 'waves' or 'delay:N', not {hops!r}")
    settings = settings or replace(config.settings(), namespace="")
    routers = {t: logic.EdgeRouter(t, settings.topic(t), topology) for t in config.INPUT_TOPICS}
    lines, locations = logic.LineStage(settings), logic.LocationStage(settings)
    window_ms = settings.dedup_window_minutes * 60_000
    states: dict[tuple[str, str], Any] = {}
    alerts: list[dict[str, Any]] = []

    def handle(msg: dict[str, Any], ts: int) -> list[dict[str, Any]]:
        route, key = logic.route_of(msg), logic.key_of(msg)
        if route == logic.ALERTS:
            alerts.append(msg)
            return []
        if route == logic.DLQ:
            return []
        if "pass" in msg:
            return [msg["pass"]]
        state = states.get((route, key))
        if route == logic.SHIPMENT:
            state, out = logic.shipment_step(state, msg, ts, window_ms, topology)
        elif route == logic.LINE:
            state, out = lines.step(state, msg, ts, 0)
        else:
            state, out, _ = locations.step(state, msg, ts, 0)
        states[(route, key)] = state
        return out

    pending: deque[tuple[dict[str, Any], int]] = deque()
    due: list[tuple[int, int, dict[str, Any], int]] = []  # delay: (when, seq, message, ts)
    seq = 0
    for ts, r in enumerate(records):
        while delay is not None and due and due[0][0] <= ts:
            _, _, msg, sent = heapq.heappop(due)
            for out in handle(msg, sent):
                seq += 1
                heapq.heappush(due, (ts + delay, seq, out, sent))
        for msg in routers[r.topic].route(r.value, r.key, 0, ts, ts, 0):
            if hops == "instant":
                queue = deque([msg])
                while queue:
                    queue.extend(handle(queue.popleft(), ts))
            elif delay is not None:
                seq += 1
                heapq.heappush(due, (ts + delay, seq, msg, ts))
            else:
                pending.append((msg, ts))
    while due:
        when, _, msg, sent = heapq.heappop(due)
        for out in handle(msg, sent):
            seq += 1
            heapq.heappush(due, (when + delay, seq, out, sent))
    while pending:  # waves: everything sent by one wave is handled in the next
        wave, pending = pending, deque()
        for msg, ts in wave:
            pending.extend((out, ts) for out in handle(msg, ts))
    return alerts


def compare(peer: list[dict[str, Any]], reference: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per alert type: alerts in both (by alert_id), only in the peer, only in the reference."""
    types = sorted({a["alert_type"] for a in peer + reference} - {STALE})
    out = {}
    for t in types:
        p = {a["alert_id"] for a in peer if a["alert_type"] == t}
        r = {a["alert_id"] for a in reference if a["alert_type"] == t}
        out[t] = {"both": len(p & r), "peer_only": len(p - r), "reference_only": len(r - p)}
    return out
