"""The state of one PO line and its shipments, and what changes when an event is applied.

Pure Python over plain dicts (JSON-serializable, so the Flink job keeps it as typed string
state): the shipment-matching job feeds events here in event-time order and emits what
comes back.
"""

from __future__ import annotations

import json
from typing import Any

from udfs.alerts import alert_id
from udfs.eta import table_severity, variance_minutes
from udfs.matching import MATCH_ALERTS, match_status, shipment_status
from udfs.po_lines import LineVersion, fulfillment_status, is_over_shipped, line_as_of, open_qty, status_of

HIGH, MEDIUM = "HIGH", "MEDIUM"


def line_at(book: dict[str, Any], t: int | None = None) -> LineVersion | None:
    """The line's state as of event time t (now, when t is None). A line of one PO event
    (most lines) is that event, cancelled or not."""
    versions = book["versions"]
    if len(versions) == 1:
        v = versions[0]
        return None if t is not None and v["event_time"] > t else LineVersion(
            v["event_time"], v["version"], v["event_type"], v["fields"])
    return line_as_of((LineVersion(v["event_time"], v["version"], v["event_type"], v["fields"])
                       for v in book["versions"]), t)



def new_book(po_id: str, po_line: int) -> dict[str, Any]:
    """An empty line book for (po_id, po_line)."""
    return {"po_id": po_id, "po_line": po_line, "versions": [], "shipments": {}, "receipts": {}, "alerts": []}


def apply_po(book: dict[str, Any], event: dict[str, Any]) -> None:
    """Record one PO event of the line."""
    fields = {k: event.get(k) for k in ("supplier_id", "warehouse_id", "sku", "ordered_qty", "promised_delivery_time")}
    book["versions"].append({"event_time": event["event_time"], "version": event["version"],
                             "event_type": event["event_type"], "fields": fields, "event_id": event["event_id"]})


def apply_shipment(book: dict[str, Any], event: dict[str, Any]) -> bool:
    """Record one shipment event; True when it is the shipment's first event."""
    sid = event["shipment_id"]
    first = sid not in book["shipments"]
    ship = book["shipments"].setdefault(sid, {"events": [], "first_time": event["event_time"], "orphaned": False})
    ship["events"].append([event["event_time"], event["event_type"]])
    ship["first_time"] = min(ship["first_time"], event["event_time"])
    if event["event_time"] >= ship.get("last_time", -1):
        ship.update(last_time=event["event_time"], last_event_id=event["event_id"], sku=event["sku"],
                    shipped_qty=event["shipped_qty"], carrier_id=event["carrier_id"],
                    warehouse_id=event["warehouse_id"])
        if event.get("eta") is not None:
            ship["eta"] = event["eta"]
    if event["event_type"] == "DELIVERED":
        ship["delivered_time"] = event["event_time"]
    return first


def apply_receipt(book: dict[str, Any], event: dict[str, Any]) -> None:
    """Record a RECEIPT movement that references one of the line's shipments (by
    reference_id); a re-sent receipt (same event_id) counts once."""
    book.setdefault("receipts", {}).setdefault(event["reference_id"], {})[event["event_id"]] = event["quantity"]


def apply_event(book: dict[str, Any], event: dict[str, Any]) -> bool:
    """Apply one event of the per-line stream (jobs/line_events.py: kind PO, SH or RC, its
    quantity in `qty`, a receipt's shipment in `shipment_id`); True when it is a
    shipment's first event."""
    if event["kind"] == "PO":
        apply_po(book, {**event, "ordered_qty": event["qty"]})
    elif event["kind"] == "RC":
        apply_receipt(book, {**event, "reference_id": event["shipment_id"], "quantity": event["qty"]})
    else:
        return apply_shipment(book, {**event, "shipped_qty": event["qty"]})
    return False


def is_closed(book: dict[str, Any]) -> bool:
    """Nothing more is expected: the line is cancelled, or fully delivered with every
    shipment delivered or cancelled. A closed line's state may expire (state TTL).
    Each rule set of the per-line stage asks at every firing, and most lines are open:
    the first shipment in transit answers."""
    line = line_at(book)
    if line is None:
        return False
    if status_of(line) == "CANCELLED":
        return True
    if not book["shipments"]:
        return False
    sku, delivered = line.fields.get("sku"), 0
    for ship in book["shipments"].values():
        status = shipment_status(ship["events"])
        if status == "IN_TRANSIT":
            return False
        if status == "DELIVERED" and ship["sku"] == sku:
            delivered += ship["shipped_qty"]
    return delivered >= (line.fields.get("ordered_qty") or 0)


def received_qty(book: dict[str, Any], line_sku: str | None) -> int:
    """What the line's receipts brought in: those of its shipments with the line's sku
    (SPEC §6), each receipt (event_id) once."""
    receipts = book.get("receipts") or {}
    return sum(sum(receipts[sid].values()) for sid, ship in book["shipments"].items()
               if ship["sku"] == line_sku and sid in receipts)


def on_order(book: dict[str, Any]) -> tuple[str | None, str | None, int] | None:
    """(sku, warehouse_id, open_qty) of the line now, as its po_lines row (evaluate) has
    them; None while the line is not known."""
    line = line_at(book)
    if line is None:
        return None
    sku = line.fields.get("sku")
    return (sku, line.fields.get("warehouse_id"),
            open_qty(status_of(line), line.fields.get("ordered_qty") or 0, received_qty(book, sku)))


def last_event_time(book: dict[str, Any]) -> int:
    """The greatest event time applied to the book."""
    return max([v["event_time"] for v in book["versions"]] + [s["last_time"] for s in book["shipments"].values()]
               + [0])


def mark_orphans(book: dict[str, Any], now: int, orphan_after_ms: int) -> None:
    """At event time `now`, shipments still without a line after the grace become ORPHAN."""
    if line_at(book) is not None:
        return
    for ship in book["shipments"].values():
        if now >= ship["first_time"] + orphan_after_ms:
            ship["orphaned"] = True


def evaluate(book: dict[str, Any], trigger: dict[str, Any], detected_at: int) -> dict[str, list]:
    """The rows to upsert and the new alerts after the events up to `trigger` were applied."""
    line = line_at(book)
    status = status_of(line)
    out: dict[str, list] = {"po_lines": [], "shipments": [], "alerts": []}
    line_sku = line.fields.get("sku") if line else None
    shipped = delivered = 0
    for sid, ship in sorted(book["shipments"].items()):
        ship_status = shipment_status(ship["events"])
        if line is None:
            match = "ORPHAN" if ship["orphaned"] else "PENDING_PO"
        else:
            match = match_status(line, ship["sku"], ship["first_time"], ship["last_time"])
        # the line's shipments: those referencing it with the line's sku (SPEC §6)
        if line is not None and ship["sku"] == line_sku and ship_status != "CANCELLED":
            shipped += ship["shipped_qty"]
            delivered += ship["shipped_qty"] if ship_status == "DELIVERED" else 0
        promised = line.fields.get("promised_delivery_time") if line else None
        variance = variance_minutes(ship.get("delivered_time") or ship.get("eta"), promised)
        out["shipments"].append({"shipment_id": sid, "status": ship_status, "match_status": match,
                                 "promised_delivery_time": promised, "eta_variance_minutes": variance,
                                 "eta_severity": table_severity(variance),
                                 **{k: ship.get(k) for k in ("sku", "warehouse_id", "carrier_id", "shipped_qty",
                                                              "eta", "delivered_time", "last_time")}})
        alert_type = MATCH_ALERTS.get(match)
        if alert_type:
            _alert(book, out, alert_type, HIGH, "SHIPMENT", sid, trigger, detected_at, shipment=ship, shipment_id=sid,
                   message=f"Shipment {sid} ({ship['sku']}, {ship['carrier_id']}) to PO {book['po_id']} line "
                           f"{book['po_line']}: {match.replace('_', ' ').lower()}")
    if line is not None:
        ordered, received = line.fields.get("ordered_qty") or 0, received_qty(book, line_sku)
        out["po_lines"].append({
            **line.fields, "status": status, "version": line.version, "shipped_qty": shipped,
            "delivered_qty": delivered, "received_qty": received, "open_qty": open_qty(status, ordered, received),
            "fulfillment_status": fulfillment_status(status, ordered, delivered),
            "last_event_time": max([v["event_time"] for v in book["versions"]]
                                   + [s["last_time"] for s in book["shipments"].values()]),
        })
        if is_over_shipped(ordered, shipped):
            entity = f"{book['po_id']}#{book['po_line']}"
            _alert(book, out, "OVER_SHIPMENT", MEDIUM, "PO_LINE", entity, trigger, detected_at, line_sku=line_sku,
                   message=f"PO {book['po_id']} line {book['po_line']}: {shipped} EA shipped against {ordered} "
                           f"ordered (more than 2 % over)", details={"shipped_qty": shipped, "ordered_qty": ordered})
    return out


def _alert(book, out, alert_type, severity, entity_type, entity, trigger, detected_at, *, message, shipment=None,
           shipment_id=None, line_sku=None, details=None) -> None:
    aid = alert_id(alert_type, entity)  # once per entity
    if aid in book["alerts"]:
        return
    book["alerts"].append(aid)
    line = line_at(book)
    out["alerts"].append({
        "alert_id": aid, "alert_type": alert_type, "severity": severity, "entity_type": entity_type,
        "entity_id": entity, "event_time": trigger["event_time"], "detected_at": detected_at,
        "sku": (shipment or {}).get("sku") or line_sku, "warehouse_id": (shipment or {}).get("warehouse_id")
        or (line.fields.get("warehouse_id") if line else None),
        "po_id": book["po_id"], "po_line": book["po_line"], "shipment_id": shipment_id,
        "supplier_id": line.fields.get("supplier_id") if line else None,
        "carrier_id": (shipment or {}).get("carrier_id"), "trigger_event_id": trigger["event_id"],
        "message": message, "details": json.dumps(details or {}, sort_keys=True),
    })
