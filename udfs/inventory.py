"""Inventory positions, cycle-count variance and reorder decisions per SKU location
(SPEC §6 "Inventory", "Reorder"), as pure functions over a JSON-serializable dict.

jobs/location_events.py feeds a location's events here in event-time order, one instant
at a time: movements (quantities in whole EA), the on-order quantity of each PO line for
this sku and warehouse (from the per-line stage), and reorder policies. At the end of an
instant the position is compared with the policy in effect (`evaluate_reorder`), so
events that share a timestamp — a RECEIPT and the on-order it releases — count together.
"""

from __future__ import annotations

import json
from typing import Any

from udfs.alerts import alert_id, entity_id

# SPEC §6: how each movement changes on_hand (ADJUSTMENT carries its own sign)
ON_HAND_SIGN = {"RECEIPT": 1, "TRANSFER_IN": 1, "ADJUSTMENT": 1, "ISSUE": -1, "TRANSFER_OUT": -1, "CYCLE_COUNT": 0}
COUNT_TOLERANCE = 0.002  # a cycle count within 0.2 % of max(on_hand, 1) is no variance
COUNT_HIGH = 0.02        # above 2 %: HIGH, else MEDIUM
POLICY_FIELDS = ("reorder_point", "order_up_to", "min_order_qty", "safety_stock", "lead_time_days")


def new_location(sku: str, warehouse_id: str) -> dict[str, Any]:
    """An empty SKU location: nothing on hand, nothing on order, no policy, armed."""
    return {"sku": sku, "warehouse_id": warehouse_id, "on_hand": 0, "lines": {}, "policies": [],
            "armed": True, "last_event_time": None, "changed": False, "trigger": None, "alerts": []}


def on_order(loc: dict[str, Any]) -> int:
    """Σ open_qty of the OPEN PO lines for this sku and warehouse."""
    return sum(loc["lines"].values())


def position(loc: dict[str, Any]) -> int:
    """on_hand + on_order."""
    return loc["on_hand"] + on_order(loc)


def on_hand_change(event_type: str, quantity: int) -> int:
    """The signed change of on_hand a movement makes (0 for CYCLE_COUNT)."""
    return ON_HAND_SIGN[event_type] * quantity


def count_variance(counted: int, booked: int) -> dict[str, Any] | None:
    """SPEC §6 COUNT_VARIANCE: None within 0.2 % of max(booked, 1), else severity and numbers."""
    base = max(booked, 1)
    difference = counted - booked
    if abs(difference) <= COUNT_TOLERANCE * base:
        return None
    ratio = abs(difference) / base
    return {"severity": "HIGH" if ratio > COUNT_HIGH else "MEDIUM", "counted_qty": counted, "booked_qty": booked,
            "variance_qty": difference, "variance_pct": round(100 * difference / base, 3)}


def reorder_severity(on_hand: int, safety_stock: int) -> str:
    """CRITICAL at or below zero on hand, HIGH below safety stock, else MEDIUM."""
    if on_hand <= 0:
        return "CRITICAL"
    return "HIGH" if on_hand < safety_stock else "MEDIUM"


def suggested_qty(policy: dict[str, Any], pos: int) -> int:
    """max(order_up_to − position, min_order_qty)."""
    return max(policy["order_up_to"] - pos, policy["min_order_qty"])


def policy_at(loc: dict[str, Any], t: int) -> dict[str, Any] | None:
    """The latest POLICY_SET with event_time ≤ t (ties: the greater event_id)."""
    effective = [p for p in loc["policies"] if p["event_time"] <= t]
    return max(effective, key=lambda p: (p["event_time"], p["event_id"])) if effective else None


def _touch(loc: dict[str, Any], event: dict[str, Any], evaluates: bool) -> None:
    t = event["event_time"]
    loc["last_event_time"] = t if loc["last_event_time"] is None else max(loc["last_event_time"], t)
    loc["changed"] = True
    if evaluates:
        loc["trigger"] = {"event_id": event["event_id"], "event_time": event["event_time"]}


def apply_movement(loc: dict[str, Any], event: dict[str, Any]) -> None:
    """Apply one movement; a CYCLE_COUNT is compared with on_hand just before it."""
    if event["event_type"] == "CYCLE_COUNT":
        variance = count_variance(event["qty"], loc["on_hand"])
        if variance is not None:
            severity = variance.pop("severity")
            pct = variance["variance_pct"]
            loc["alerts"].append(_alert(
                loc, "COUNT_VARIANCE", severity, event, variance,
                f"Cycle count of {loc['sku']} at {loc['warehouse_id']}: counted {variance['counted_qty']} EA, "
                f"booked {variance['booked_qty']} EA ({pct:+.1f} %)"))
        _touch(loc, event, evaluates=False)
        return
    loc["on_hand"] += on_hand_change(event["event_type"], event["qty"])
    _touch(loc, event, evaluates=True)


def apply_line(loc: dict[str, Any], event: dict[str, Any]) -> None:
    """Apply a PO line event: the line (`ref_id`, "<po_id>#<po_line>") now has `qty` on order here."""
    if event["qty"]:
        loc["lines"][event["ref_id"]] = event["qty"]
    else:
        loc["lines"].pop(event["ref_id"], None)
    _touch(loc, event, evaluates=True)


def apply_policy(loc: dict[str, Any], event: dict[str, Any]) -> None:
    """Record a POLICY_SET (kept by event time: a late one still governs its period)."""
    fields = json.loads(event["policy"]) if isinstance(event["policy"], str) else event["policy"]
    loc["policies"] = [p for p in loc["policies"] if p["event_id"] != event["event_id"]]
    loc["policies"].append({"event_time": event["event_time"], "event_id": event["event_id"],
                            **{k: fields.get(k) for k in POLICY_FIELDS}})


def evaluate_reorder(loc: dict[str, Any]) -> bool | None:
    """At the end of an instant with a movement (not a CYCLE_COUNT) or a PO line event:
    compare the position with the reorder point in effect; REORDER when it falls below
    while armed, re-arm when it is back at or above. Returns None when there was nothing
    to evaluate, False when there was but no policy is in effect (SPEC: counted), True
    when it was evaluated."""
    trigger, loc["trigger"] = loc["trigger"], None
    if trigger is None:
        return None
    policy = policy_at(loc, loc["last_event_time"])
    if policy is None:
        return False
    pos = position(loc)
    if pos >= policy["reorder_point"]:
        loc["armed"] = True
        return True
    if not loc["armed"]:
        return True
    loc["armed"] = False
    qty = suggested_qty(policy, pos)
    details = {"position": pos, "on_hand": loc["on_hand"], "on_order": on_order(loc), "suggested_qty": qty,
               **{k: policy[k] for k in POLICY_FIELDS}, "policy_event_id": policy["event_id"]}
    loc["alerts"].append(_alert(
        loc, "REORDER", reorder_severity(loc["on_hand"], policy["safety_stock"]), trigger, details,
        f"{loc['sku']} at {loc['warehouse_id']}: position {pos} EA fell below the reorder point "
        f"{policy['reorder_point']} (on hand {loc['on_hand']}, on order {on_order(loc)}); "
        f"suggested order {qty} EA"))
    return True


def position_row(loc: dict[str, Any]) -> dict[str, Any]:
    """The `inventory_positions` row of the location."""
    oo = on_order(loc)
    return {"sku": loc["sku"], "warehouse_id": loc["warehouse_id"], "on_hand": loc["on_hand"], "on_order": oo,
            "position": loc["on_hand"] + oo, "last_event_time": loc["last_event_time"]}


def _alert(loc: dict[str, Any], alert_type: str, severity: str, trigger: dict[str, Any], details: dict[str, Any],
           message: str) -> dict[str, Any]:
    entity = entity_id("SKU_LOCATION", sku=loc["sku"], warehouse_id=loc["warehouse_id"])
    return {"alert_id": alert_id(alert_type, entity, trigger["event_id"]), "alert_type": alert_type,
            "severity": severity, "entity_type": "SKU_LOCATION", "entity_id": entity,
            "event_time": trigger["event_time"], "sku": loc["sku"], "warehouse_id": loc["warehouse_id"],
            "po_id": None, "po_line": None, "shipment_id": None, "supplier_id": None, "carrier_id": None,
            "trigger_event_id": trigger["event_id"], "message": message,
            "details": json.dumps(details, sort_keys=True)}
