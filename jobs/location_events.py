"""Shared wiring of the jobs that work per SKU location in event time (inventory, reorder).

Two keyed stages, both in event-time order (jobs/line_events.py buffers each key's events
until the watermark passes them):

1. per PO line: the PO, shipment and receipt events go through the line book
   (udfs/line_book.py, the same one shipment-matching uses), which says after each PO
   event or receipt how much of the line is still on order and for which sku and
   warehouse (`OnOrderRules`);
2. per (sku, warehouse_id): movements, those on-order quantities and — for reorder — the
   policies go through udfs/inventory.py (`LocationRules`).

Stage 1 emits a line's change before it forwards the watermark that released it, so stage
2 sees it in time. A RECEIPT thus reaches stage 2 twice at the same instant — as a
movement (on_hand up) and through its line (on_order down) — and both apply before the
position is compared, which leaves the position unchanged.

Both jobs compute the positions from the input topics themselves rather than reading the
compacted `scm.inventory-positions` topic: compaction may remove intermediate positions,
and replays must see every crossing (SPEC §4 replay determinism).
"""

from __future__ import annotations

from jobs import line_events
from supplyflow import config
from udfs import inventory, line_book

# what stage 2 reads besides the on-order changes, in one shape
MOVEMENTS = """
SELECT 'MV' AS kind, event_id, event_type, event_time, sku, warehouse_id, quantity AS qty, reference_id AS ref_id,
       CAST(NULL AS STRING) AS policy
FROM valid_inventory_movements
"""
POLICIES = """
SELECT 'PL', event_id, event_type, event_time, sku, warehouse_id, CAST(NULL AS BIGINT), CAST(NULL AS STRING),
       JSON_OBJECT('reorder_point' VALUE reorder_point, 'order_up_to' VALUE order_up_to,
                   'min_order_qty' VALUE min_order_qty, 'safety_stock' VALUE safety_stock,
                   'lead_time_days' VALUE lead_time_days)
FROM valid_reorder_policies
"""
ON_ORDER = """
SELECT 'OO', JSON_VALUE(doc, '$.event_id'), 'PO_LINE', CAST(JSON_VALUE(doc, '$.event_time') AS BIGINT),
       JSON_VALUE(doc, '$.sku'), JSON_VALUE(doc, '$.warehouse_id'), CAST(JSON_VALUE(doc, '$.open_qty') AS BIGINT),
       JSON_VALUE(doc, '$.line'), CAST(NULL AS STRING)
FROM {view} WHERE kind = 'on_order'
"""


class OnOrderRules:
    """Stage 1: a line's open_qty (SPEC §6: ordered − received while OPEN) and its sku and
    warehouse, after each of its PO events and receipts. When a PO update moves the line
    to another sku or warehouse, the old location gets 0."""

    book = line_events.LINE_BOOK

    def __init__(self, ttl_ms: int):
        self.ttl_ms = ttl_ms

    def new_state(self, event: dict) -> dict:
        return {"at": None, "open": None, "trigger": None}

    def apply(self, state: dict, event: dict) -> list[int]:
        """The stage has recorded the event in the line book already."""
        if event["kind"] == "SH":
            return []  # shipping does not change what is on order
        state["trigger"] = {"event_id": event["event_id"], "event_time": event["event_time"]}
        return []

    def on_time(self, state: dict, timestamp: int) -> None:
        pass

    def emit(self, state: dict, trigger: dict, now_ms: int) -> dict[str, list[dict]]:
        trigger, state["trigger"] = state["trigger"], None
        if trigger is None:
            return {}
        book = state["book"]
        position = line_book.on_order(book)
        if position is None:
            return {}  # receipts for a line whose PO is not known (yet): nothing on order
        sku, warehouse_id, open_qty = position
        at = [sku, warehouse_id]
        key = f"{book['po_id']}#{book['po_line']}"
        out = []
        if state["at"] is not None and state["at"] != at:
            out.append({"line": key, "sku": state["at"][0], "warehouse_id": state["at"][1], "open_qty": 0, **trigger})
        out.append({"line": key, "sku": sku, "warehouse_id": warehouse_id, "open_qty": open_qty, **trigger})
        state.update(at=at, open=open_qty)
        return {"on_order": out}

    def expiry(self, state: dict) -> int | None:
        """A closed line with nothing left on order may go after the TTL."""
        book = state["book"]
        if state["open"] == 0 and line_book.is_closed(book):
            return line_book.last_event_time(book) + self.ttl_ms
        return None


class LocationRules:
    """Stage 2: udfs/inventory.py per SKU location; emits `positions` rows (when
    `positions`), the alerts of the types in `alert_types`, and — when REORDER is one of
    them — a `not_evaluated` row per instant that had no policy to evaluate against."""

    def __init__(self, positions: bool, alert_types: tuple[str, ...]):
        self.positions = positions
        self.alert_types = alert_types

    def new_state(self, event: dict) -> dict:
        return inventory.new_location(event["sku"], event["warehouse_id"])

    def apply(self, loc: dict, event: dict) -> list[int]:
        if event["kind"] == "MV":
            inventory.apply_movement(loc, event)
        elif event["kind"] == "OO":
            inventory.apply_line(loc, event)
        else:
            inventory.apply_policy(loc, event)
        return []

    def on_time(self, loc: dict, timestamp: int) -> None:
        pass

    def emit(self, loc: dict, trigger: dict, now_ms: int) -> dict[str, list[dict]]:
        out = {"alerts": []}
        if "REORDER" in self.alert_types:
            if inventory.evaluate_reorder(loc) is False:
                out["not_evaluated"] = [{"sku": loc["sku"], "warehouse_id": loc["warehouse_id"],
                                         "event_time": loc["last_event_time"]}]
        else:
            loc["trigger"] = None
        out["alerts"] = [{**a, "detected_at": now_ms} for a in loc["alerts"] if a["alert_type"] in self.alert_types]
        loc["alerts"] = []
        if self.positions and loc["changed"]:
            out["positions"] = [inventory.position_row(loc)]
        loc["changed"] = False
        return out

    def expiry(self, loc: dict) -> int | None:
        return None  # a location's stock is never forgotten


# The slot-sharing group of the per-location stage on a cluster: its Python interpreter
# is then not the per-line stage's (line_events.on_a_cluster). The stage's sinks inherit it.
LOCATION_SLOTS = "per-location"

ON_ORDER_JOB = "on-order"  # the rules of stage 1, by the name of their outputs' views


def on_order_rules(settings: config.Settings) -> line_events.RuleSet:
    """Stage 1, as run per PO line (see line_events.per_line_stream)."""
    return line_events.RuleSet(ON_ORDER_JOB, OnOrderRules(settings.matching_ttl_days * 86_400_000))


def location_stage(t_env, job: str, rule_sets: list[line_events.RuleSet], policies: bool) -> None:
    """Stage 2 in the keyed operator `<job>/per-location`: movements, stage 1's on-order
    changes (the view of ON_ORDER_JOB, with its watermarks) and, with `policies`, the
    reorder policies, per SKU location through the rules of `rule_sets`. On a cluster it
    runs in a slot-sharing group of its own, LOCATION_SLOTS (line_events.on_a_cluster)."""
    on_order = line_events.view_name(ON_ORDER_JOB)
    events = MOVEMENTS + (" UNION ALL " + POLICIES if policies else "") + " UNION ALL " + ON_ORDER.format(view=on_order)
    line_events.in_event_time(t_env, t_env.sql_query(events), line_events.key_of("sku", "warehouse_id", sep="|"),
                              rule_sets, None, f"{job}/per-location", slot_group=LOCATION_SLOTS)


def declare(t_env, settings: config.Settings, job: str, bounded: bool, rules: LocationRules,
            outputs: dict[str, list[str]], policies: bool = False) -> None:
    """Sources → on-order per line → rules per SKU location; the rules' output becomes
    temporary views as in line_events.declare."""
    topics = [config.PURCHASE_ORDERS, config.SHIPMENT_EVENTS, config.INVENTORY_MOVEMENTS]
    line_events.declare_sources(t_env, settings, job, bounded, topics + ([config.REORDER_POLICIES] if policies else []))
    line_events.per_line_stream(t_env, job, bounded, [on_order_rules(settings)], name="on-order", watermarks=True)
    location_stage(t_env, job, [line_events.RuleSet(job, rules, outputs)], policies)
