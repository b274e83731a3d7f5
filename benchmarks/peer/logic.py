"""The peer's pure logic: what each stage of the Quix Streams app does with one message.

No Quix here (app.py wires these functions to Kafka), so the main venv's pytest can test
it. The business rules are not re-written: validation is `udfs.validation.Validator`,
and the stateful stages drive the very adapters the Flink jobs use —
`jobs.eta_exceptions.EtaRules`, `jobs.location_events.OnOrderRules` and
`jobs.location_events.LocationRules` (themselves thin layers over `udfs/eta.py`,
`udfs/line_book.py`, `udfs/inventory.py`) — with events in the shapes the Flink jobs give
them (`jobs/line_events.py` EVENTS, `jobs/location_events.py` MOVEMENTS/POLICIES/ON_ORDER).

Stages and the messages between them (internal payloads carry `to` and `key`; alerts and
DLQ records are plain SPEC §5 documents):

    raw input ─ EdgeRouter ────▶ shipment (key shipment_id: shipment events, receipts by reference_id)
    shipment ── shipment_step ─▶ line     (key "<po_id>#<po_line>": PO and shipment events, receipts)
    line ────── LineStage ─────▶ alerts (ETA) + location (key "<sku>|<warehouse_id>": on-order
                                 changes, a receipt's movement together with the on-order it releases)
    location ── LocationStage ─▶ alerts (COUNT_VARIANCE, REORDER)
    any stage ─────────────────▶ dlq (the edge's rejected records)

Topology "uniform" (the default): every accepted event passes every stage before the one
that uses it (a PO event is forwarded untouched by the shipment stage, a movement or policy
by the shipment and line stages), so all inputs of a stage have come the same number of
exactly-once hops and reach it in the order they were read; each hop costs one commit
interval of latency. Topology "direct": each event goes straight to the first stage that
needs it (fewer hops, lower latency), so inputs that take longer paths — the on-order
change of a PO event, a receipt — reach a location later than movements read at the same
time, and its alerts depend on the commit interval and the produce rate (README.md).

Each stateful step takes the entity's state (a JSON-able dict, None at first) and returns
it with the messages to send. Events are applied in arrival order, not event time (see
README.md). Duplicates (same event_id on the same topic within the dedup window of
Kafka record time) are dropped where a raw event first meets state.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

from jobs import line_events
from jobs.eta_exceptions import EtaRules
from jobs.line_events import KINDS
from jobs.location_events import LocationRules, OnOrderRules
from supplyflow import config, contracts
from udfs import alerts as alert_rules
from udfs.validation import Validator

SHIPMENT, LINE, LOCATION, ALERTS, DLQ = "shipment", "line", "location", "alerts", "dlq"
ROUTES = (SHIPMENT, LINE, LOCATION, ALERTS, DLQ)
TOPOLOGIES = ("uniform", "direct")
ALERT_FIELDS = tuple(contracts.load_schema("alert")["properties"])
PEER_ALERT_TYPES = ("ETA_VARIANCE", "ETA_RECOVERED", "LATE_DELIVERY", "COUNT_VARIANCE", "REORDER")


# --- messages ------------------------------------------------------------------------------
def route_of(value: dict[str, Any]) -> str:
    """The route (one of ROUTES) of an outgoing message."""
    if "to" in value:
        return value["to"]
    return ALERTS if "alert_id" in value else DLQ


def key_of(value: dict[str, Any]) -> str:
    """The Kafka key of an outgoing message: the entity for internal topics and alerts
    (entity_id, as the suite's alert topics), the source topic for DLQ records."""
    if "to" in value:
        return value["key"]
    return value["entity_id"] if "alert_id" in value else value["source_topic"]


def line_key(po_id: Any, po_line: Any) -> str:
    """The per-line key, as jobs/line_events.py: "<po_id>#<po_line>"."""
    return f"{po_id}#{po_line}"


def location_key(sku: Any, warehouse_id: Any) -> str:
    """The per-location key, as jobs/location_events.py: "<sku>|<warehouse_id>"."""
    return f"{sku}|{warehouse_id}"


def iso_utc(ms: int | None) -> str | None:
    """Epoch milliseconds as ISO-8601 UTC with milliseconds, e.g. 2026-10-01T08:00:00.000Z."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms // 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def render_alert(row: dict[str, Any]) -> dict[str, Any]:
    """A rules' alert row as the alert envelope of schemas/alert.schema.json."""
    out = {f: row.get(f) for f in ALERT_FIELDS}
    out["event_time"], out["detected_at"] = iso_utc(row["event_time"]), iso_utc(row["detected_at"])
    if isinstance(out["details"], str):
        out["details"] = json.loads(out["details"])
    return out


# --- the event shapes the Flink jobs hand to the rules ------------------------------------
def po_line_event(ev: dict[str, Any]) -> dict[str, Any]:
    """A normalized PO event in the per-line shape (jobs/line_events.py EVENTS, kind PO)."""
    return {"kind": "PO", "event_id": ev["event_id"], "event_type": ev["event_type"], "event_time": ev["event_time"],
            "po_id": ev["po_id"], "po_line": ev["po_line"], "version": ev.get("version"),
            "supplier_id": ev.get("supplier_id"), "warehouse_id": ev.get("warehouse_id"), "sku": ev.get("sku"),
            "qty": ev.get("ordered_qty"), "promised_delivery_time": ev.get("promised_delivery_time"),
            "shipment_id": None, "carrier_id": None, "eta": None}


def shipment_line_event(ev: dict[str, Any]) -> dict[str, Any]:
    """A normalized shipment event in the per-line shape (kind SH)."""
    return {"kind": "SH", "event_id": ev["event_id"], "event_type": ev["event_type"], "event_time": ev["event_time"],
            "po_id": ev.get("po_id"), "po_line": ev.get("po_line"), "version": None, "supplier_id": None,
            "warehouse_id": ev.get("warehouse_id"), "sku": ev.get("sku"), "qty": ev.get("shipped_qty"),
            "promised_delivery_time": None, "shipment_id": ev["shipment_id"], "carrier_id": ev.get("carrier_id"),
            "eta": ev.get("eta")}


def receipt_line_event(mv: dict[str, Any], po_id: Any, po_line: Any) -> dict[str, Any]:
    """A receipt (a location event of kind MV) on the line of the shipment it references
    (kind RC: the join of jobs/line_events.py EVENTS)."""
    return {"kind": "RC", "event_id": mv["event_id"], "event_type": mv["event_type"], "event_time": mv["event_time"],
            "po_id": po_id, "po_line": po_line, "version": None, "supplier_id": None,
            "warehouse_id": mv["warehouse_id"], "sku": mv["sku"], "qty": mv["qty"], "promised_delivery_time": None,
            "shipment_id": mv["ref_id"], "carrier_id": None, "eta": None}


def movement_event(ev: dict[str, Any]) -> dict[str, Any]:
    """A normalized movement in the per-location shape (jobs/location_events.py MOVEMENTS)."""
    return {"kind": "MV", "event_id": ev["event_id"], "event_type": ev["event_type"], "event_time": ev["event_time"],
            "sku": ev["sku"], "warehouse_id": ev["warehouse_id"], "qty": ev.get("quantity"),
            "ref_id": ev.get("reference_id"), "policy": None}


def policy_event(ev: dict[str, Any]) -> dict[str, Any]:
    """A normalized POLICY_SET in the per-location shape (POLICIES)."""
    fields = ("reorder_point", "order_up_to", "min_order_qty", "safety_stock", "lead_time_days")
    return {"kind": "PL", "event_id": ev["event_id"], "event_type": ev["event_type"], "event_time": ev["event_time"],
            "sku": ev["sku"], "warehouse_id": ev["warehouse_id"], "qty": None, "ref_id": None,
            "policy": {f: ev.get(f) for f in fields}}


def on_order_event(row: dict[str, Any]) -> dict[str, Any]:
    """An OnOrderRules `on_order` row in the per-location shape (ON_ORDER)."""
    return {"kind": "OO", "event_id": row["event_id"], "event_type": "PO_LINE", "event_time": row["event_time"],
            "sku": row["sku"], "warehouse_id": row["warehouse_id"], "qty": row["open_qty"], "ref_id": row["line"],
            "policy": None}


def to_location(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages to the location stage: one per location, its events applied together (an
    instant, as the Flink jobs apply events that share a timestamp)."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        by_key.setdefault(location_key(ev["sku"], ev["warehouse_id"]), []).append(ev)
    return [{"to": LOCATION, "key": k, "events": evs} for k, evs in by_key.items()]


def via(route: str, msg: dict[str, Any]) -> dict[str, Any]:
    """`msg`, to be forwarded untouched by the stage `route` (same key: per-entity order kept)."""
    return {"to": route, "key": msg["key"], "pass": msg}


def first_seen(state: dict[str, Any], event_id: str, ts: int, window_ms: int) -> bool:
    """Keep-first dedup (SPEC §3): False when event_id was seen within window_ms of Kafka
    record time `ts`; remembers it otherwise. Older entries are forgotten."""
    seen = state.setdefault("seen", {})
    cutoff = ts - window_ms
    if seen and min(seen.values()) < cutoff:
        seen = state["seen"] = {k: v for k, v in seen.items() if v >= cutoff}
    if event_id in seen:
        return False
    seen[event_id] = ts
    return True


# --- the edge: validate and route ----------------------------------------------------------
class EdgeRouter:
    """Validation at the edge (udfs.validation, SPEC §3) of one input topic, and where each
    accepted event goes (see the module docstring for the two topologies); rejected
    records become DLQ records (schemas/dlq-record)."""

    def __init__(self, topic: str, physical_topic: str, topology: str = "uniform"):
        if topology not in TOPOLOGIES:
            raise ValueError(f"topology must be one of {', '.join(TOPOLOGIES)}, not {topology!r}")
        self.topic = topic
        self.physical_topic = physical_topic
        self.uniform = topology == "uniform"
        self.validator = Validator(topic)

    def route(self, value: bytes | None, key: bytes | None, partition: int, offset: int, timestamp: int,
              now_ms: int) -> list[dict[str, Any]]:
        """The messages one raw record becomes (never raises on any input)."""
        verdict = self.validator.validate(value)
        ev = verdict.event
        if ev is None:
            return [self._dlq(value, key, partition, offset, timestamp, verdict.code, verdict.detail, now_ms)]
        if self.topic == config.PURCHASE_ORDERS:
            msg = {"to": LINE, "key": line_key(ev["po_id"], ev["po_line"]), "event": po_line_event(ev),
                   "movement": None}
            return [via(SHIPMENT, msg) if self.uniform else msg]
        if self.topic == config.SHIPMENT_EVENTS:
            sh = shipment_line_event(ev)
            to_shipment = {"to": SHIPMENT, "key": sh["shipment_id"], "event": sh}
            if self.uniform:
                return [to_shipment]  # the shipment stage forwards it to its line
            return [{"to": LINE, "key": line_key(sh["po_id"], sh["po_line"]), "event": sh, "movement": None},
                    to_shipment]
        if self.topic == config.INVENTORY_MOVEMENTS:
            mv = movement_event(ev)
            if mv["event_type"] == "RECEIPT" and mv["ref_id"] is not None:
                return [{"to": SHIPMENT, "key": mv["ref_id"], "event": mv}]  # its line is known there
            msgs = to_location([mv])
        else:
            msgs = to_location([policy_event(ev)])
        return [via(SHIPMENT, via(LINE, m)) for m in msgs] if self.uniform else msgs

    def _dlq(self, value, key, partition, offset, timestamp, code, detail, now_ms) -> dict[str, Any]:
        text, encoding = None, None
        if value is not None:
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                text, encoding = base64.b64encode(value).decode("ascii"), "base64"
        return {"dlq_id": f"{self.physical_topic}:{partition}:{offset}", "source_topic": self.physical_topic,
                "source_partition": partition, "source_offset": offset, "source_timestamp": timestamp,
                "key": None if key is None else key.decode("utf-8", errors="replace"), "value": text,
                "value_encoding": encoding, "error_code": code, "error_detail": detail, "detected_at": iso_utc(now_ms)}


# --- per shipment: which line a receipt belongs to ------------------------------------------
def shipment_step(state: dict[str, Any] | None, msg: dict[str, Any], ts: int, window_ms: int,
                  topology: str = "uniform") -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Per shipment_id: remember the shipment's line; send each RECEIPT referencing it to
    that line together with the movement (so the location applies on_hand up and on_order
    down at once), or — while the shipment is unknown — the movement alone to its location
    and the receipt to the line once the shipment's first event arrives. In the uniform
    topology shipment events go on to their line from here, and messages passing through
    (`pass`) are forwarded untouched."""
    if "pass" in msg:
        return state, [msg["pass"]]
    uniform = topology == "uniform"
    state = state if state is not None else {"line": None, "pending": []}
    ev = msg["event"]
    if not first_seen(state, f"{ev['kind']}:{ev['event_id']}", ts, window_ms):
        return state, []
    if ev["kind"] == "SH":
        out = [{"to": LINE, "key": line_key(ev["po_id"], ev["po_line"]), "event": ev, "movement": None}] if uniform \
            else []
        if state["line"] is None:
            state["line"] = [ev["po_id"], ev["po_line"]]
            pending, state["pending"] = state["pending"], []
            out += [{"to": LINE, "key": line_key(*state["line"]), "event": receipt_line_event(mv, *state["line"]),
                     "movement": None} for mv in pending]
        return state, out
    if state["line"] is None:
        state["pending"].append(ev)
        return state, [via(LINE, m) if uniform else m for m in to_location([ev])]
    return state, [{"to": LINE, "key": line_key(*state["line"]), "event": receipt_line_event(ev, *state["line"]),
                    "movement": ev}]


# --- per PO line: ETA variance and what is on order -----------------------------------------
def eta_thresholds(settings: config.Settings):
    """The ETA level thresholds of SUPPLYFLOW_ETA_THRESHOLDS_HOURS, as the eta job reads them."""
    medium, high, critical = (float(h) for h in settings.eta_thresholds_hours.split(","))
    return alert_rules.eta_thresholds(medium, high, critical)


class LineStage:
    """Per PO line: the eta-exceptions job's rules (EtaRules) and the first stage of the
    inventory/reorder jobs (OnOrderRules), reading one line book (state["book"]), as the
    suite's per-line stage does for its three rule sets (jobs/line_events.fire_all)."""

    def __init__(self, settings: config.Settings):
        ttl_ms = settings.matching_ttl_days * 86_400_000
        self.eta = EtaRules(ttl_ms, eta_thresholds(settings), int(settings.stale_after_hours * 3_600_000))
        self.on_order = OnOrderRules(ttl_ms)
        self.book = self.eta.book
        if self.on_order.book is not self.book:
            raise ValueError("the ETA and on-order rules read different line books: they cannot share one")
        self.window_ms = settings.dedup_window_minutes * 60_000

    def step(self, state: dict[str, Any] | None, msg: dict[str, Any], ts: int,
             now_ms: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """Apply one line event (and forward a receipt's movement with its on-order change);
        messages passing through go on untouched."""
        if "pass" in msg:
            return state, [msg["pass"]]
        state = state if state is not None else {"eta": None, "oo": None}
        ev, movement = msg["event"], msg.get("movement")
        if ev["kind"] != "RC" and not first_seen(state, f"{ev['kind']}:{ev['event_id']}", ts, self.window_ms):
            return state, []
        # one line book for both rule sets, recorded once per event, as the suite's per-line
        # stage keeps it (jobs/line_events.fire_all): both start at the line's first event
        # and never expire here, so their books would be the same
        book = state["book"] = state.get("book") or self.book.new(ev)
        self.book.apply(book, ev)
        # (the ETA rules' event-time timers, STALE_TRACKING, are not kept: README)
        for name, rules in (("eta", self.eta), ("oo", self.on_order)):
            state[name] = state[name] or line_events.new_state(rules, ev, book=None)
            state[name]["book"] = book
            line_events.apply(rules, state[name], ev, book=None)
        out: list[dict[str, Any]] = [render_alert(a) for a in self.eta.emit(state["eta"], ev, now_ms).get("alerts", [])]
        rows = self.on_order.emit(state["oo"], ev, now_ms).get("on_order", [])
        out += to_location(([movement] if movement else []) + [on_order_event(r) for r in rows])
        for name in ("eta", "oo"):
            del state[name]["book"]  # stored once, under the line's state
        return state, out


# --- per SKU location: inventory (COUNT_VARIANCE) and reorder (REORDER) ---------------------
def _instant_order(ev: dict[str, Any]) -> tuple:
    # jobs/line_events.py: events of one instant in this order
    return KINDS.index(ev["kind"]), ev.get("version") or 0, ev["event_id"]


class LocationStage:
    """Per SKU location: LocationRules with both the inventory job's COUNT_VARIANCE and the
    reorder job's REORDER (the two jobs compute the same positions)."""

    def __init__(self, settings: config.Settings):
        self.rules = LocationRules(positions=False, alert_types=("COUNT_VARIANCE", "REORDER"))
        self.window_ms = settings.dedup_window_minutes * 60_000

    def step(self, state: dict[str, Any] | None, msg: dict[str, Any], ts: int,
             now_ms: int) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
        """Apply the message's events as one instant; returns the state, the alerts, and
        whether an evaluation found no policy in effect (the reorder job's metric)."""
        state = state if state is not None else {"loc": None}
        events = [ev for ev in msg["events"]
                  if ev["kind"] == "OO" or first_seen(state, f"{ev['kind']}:{ev['event_id']}", ts, self.window_ms)]
        if not events:
            return state, [], False
        events.sort(key=_instant_order)
        loc = state["loc"] = state["loc"] or self.rules.new_state(events[0])
        for ev in events:
            self.rules.apply(loc, ev)
        out = self.rules.emit(loc, events[-1], now_ms)
        return state, [render_alert(a) for a in out["alerts"]], bool(out.get("not_evaluated"))
