"""Shipment ↔ PO-line matching (SPEC §6 "Matching"), as pure functions."""

from __future__ import annotations

from udfs.po_lines import LineVersion, status_of

ORPHAN_AFTER_MS = 24 * 3600 * 1000  # SPEC §6 default: 24 h of event time

# match status -> the once-per-shipment alert it raises (severity HIGH)
MATCH_ALERTS = {
    "ORPHAN": "ORPHAN_SHIPMENT",
    "SKU_MISMATCH": "SKU_MISMATCH",
    "PO_CANCELLED": "SHIPMENT_ON_CANCELLED_PO",
}


def match_status(line: LineVersion | None, shipment_sku: str, first_event_time: int, now: int,
                 orphan_after_ms: int = ORPHAN_AFTER_MS) -> str:
    """The shipment's match status against its line's state, at event time `now`.

    PO_CANCELLED when the line is cancelled; else SKU_MISMATCH when the line's sku differs;
    else MATCHED; PENDING_PO while no line exists; ORPHAN when still none exists
    orphan_after_ms after the shipment's first event."""
    if line is None:
        return "ORPHAN" if now >= first_event_time + orphan_after_ms else "PENDING_PO"
    if status_of(line) == "CANCELLED":
        return "PO_CANCELLED"
    if line.fields.get("sku") not in (None, shipment_sku):
        return "SKU_MISMATCH"
    return "MATCHED"


def shipment_status(event_types_by_time) -> str:
    """IN_TRANSIT, DELIVERED or CANCELLED from the shipment's events (event_time, type),
    as pairs in any order: DELIVERED and CANCELLED are terminal, so the earliest terminal
    event by (event_time, type) decides; without one the shipment is in transit."""
    terminal = [e for e in event_types_by_time if e[1] in ("DELIVERED", "CANCELLED")]
    return min(terminal)[1] if terminal else "IN_TRANSIT"
