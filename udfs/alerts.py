"""Alert identity and severity levels shared by every rule (SPEC §5, §6)."""

from __future__ import annotations

# SPEC §6 "ETA variance": level thresholds in minutes, highest first.
ETA_LEVELS = (("CRITICAL", 72 * 60), ("HIGH", 24 * 60), ("MEDIUM", 2 * 60))


def eta_thresholds(medium_h: float = 2, high_h: float = 24, critical_h: float = 72) -> tuple[tuple[str, int], ...]:
    """ETA level thresholds (minutes, highest first) from hours; the SPEC's by default."""
    if not 0 < medium_h < high_h < critical_h:
        raise ValueError(f"ETA thresholds must rise: {medium_h} < {high_h} < {critical_h} hours")
    return (("CRITICAL", int(critical_h * 60)), ("HIGH", int(high_h * 60)), ("MEDIUM", int(medium_h * 60)))


def entity_id(entity_type: str, *, shipment_id: str | None = None, po_id: str | None = None,
              po_line: int | None = None, sku: str | None = None, warehouse_id: str | None = None) -> str:
    """SPEC §5: shipment_id, "<po_id>#<po_line>" or "<sku>|<warehouse_id>"."""
    if entity_type == "SHIPMENT":
        return str(shipment_id)
    if entity_type == "PO_LINE":
        return f"{po_id}#{po_line}"
    if entity_type == "SKU_LOCATION":
        return f"{sku}|{warehouse_id}"
    raise ValueError(f"unknown entity type {entity_type!r}")


def alert_id(alert_type: str, entity: str, trigger_event_id: str | None = None) -> str:
    """Deterministic: "<type>:<entity>:<trigger>" for alerts that repeat, "<type>:<entity>"
    for once-per-entity alerts (trigger None), so a replay never writes an alert twice."""
    return f"{alert_type}:{entity}" if trigger_event_id is None else f"{alert_type}:{entity}:{trigger_event_id}"


def eta_level(variance_minutes: float | None, thresholds=ETA_LEVELS) -> str:
    """NONE below 2 h, MEDIUM from 2 h, HIGH from 24 h, CRITICAL from 72 h (unknown: NONE)."""
    if variance_minutes is None:
        return "NONE"
    for level, minimum in thresholds:
        if variance_minutes >= minimum:
            return level
    return "NONE"
