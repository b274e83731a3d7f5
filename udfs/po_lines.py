"""PO line state and fulfillment (SPEC §6 "PO line state"), as pure functions.

Events are the normalized `scm.valid.*` events of udfs/validation.py: timestamps in UTC
epoch milliseconds, quantities in whole EA. Nothing here depends on arrival order: the
state as of time t is computed from the events with event_time ≤ t.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

OVER_TOLERANCE = 1.02  # SPEC §6: over-delivered / over-shipped beyond ordered × 1.02


@dataclass(frozen=True)
class LineVersion:
    """One PO event of a line."""

    event_time: int
    version: int
    event_type: str
    fields: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def line_as_of(versions: Iterable[LineVersion], t: int | None = None) -> LineVersion | None:
    """The line's state as of t: its event with the greatest (event_time, version) among
    those with event_time ≤ t (all events when t is None). PO_CANCELLED is terminal: once
    a cancellation is in effect, later or higher versions do not re-open the line."""
    effective = [v for v in versions if t is None or v.event_time <= t]
    if not effective:
        return None
    cancels = [v for v in effective if v.event_type == "PO_CANCELLED"]
    if cancels:
        first_cancel = min(cancels, key=lambda v: (v.event_time, v.version))
        # keep the last non-cancel fields for context (sku, quantities), status CANCELLED
        before = [v for v in effective if v.event_type != "PO_CANCELLED"]
        base = max(before, key=lambda v: (v.event_time, v.version)) if before else first_cancel
        latest = max(effective, key=lambda v: (v.event_time, v.version))
        return LineVersion(first_cancel.event_time, latest.version, "PO_CANCELLED", dict(base.fields))
    return max(effective, key=lambda v: (v.event_time, v.version))


def status_of(line: LineVersion | None) -> str | None:
    """OPEN or CANCELLED (None when the line does not exist yet)."""
    if line is None:
        return None
    return "CANCELLED" if line.event_type == "PO_CANCELLED" else "OPEN"


def open_qty(status: str | None, ordered: int, received: int) -> int:
    """max(ordered − received, 0) while OPEN, else 0."""
    return max(ordered - received, 0) if status == "OPEN" else 0


def fulfillment_status(status: str | None, ordered: int, delivered: int) -> str:
    """CANCELLED; else OVER_DELIVERED above ordered × 1.02; DELIVERED at ordered or more;
    PARTIALLY_DELIVERED when something arrived; else OPEN."""
    if status == "CANCELLED":
        return "CANCELLED"
    if delivered > ordered * OVER_TOLERANCE:
        return "OVER_DELIVERED"
    if delivered >= ordered:
        return "DELIVERED"
    if delivered > 0:
        return "PARTIALLY_DELIVERED"
    return "OPEN"


def is_over_shipped(ordered: int, shipped: int) -> bool:
    """OVER_SHIPMENT condition: shipped_qty exceeds ordered × 1.02."""
    return shipped > ordered * OVER_TOLERANCE
