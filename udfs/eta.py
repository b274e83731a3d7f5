"""ETA-variance exceptions (SPEC §6 "ETA variance"), as pure functions over one shipment.

`EtaTracker` holds what the rule needs to remember per shipment — the last level emitted,
whether LATE_DELIVERY was raised, the last event (for STALE_TRACKING) — as a plain dict,
so a Flink job can keep it as typed string state. Each method returns the alerts the
event (or the passing of time) raises; the caller supplies the line's promised time as
of the event's time and whether the shipment is MATCHED as of then.
"""

from __future__ import annotations

from typing import Any

from udfs.alerts import ETA_LEVELS, alert_id, eta_level

STALE_AFTER_MS = 12 * 3600 * 1000  # SPEC §6 default: 12 h of event time without an event


def variance_minutes(actual_or_eta: int | None, promised: int | None) -> int | None:
    """floor((delivered_time or current_eta) − promised) in minutes; None when unknown."""
    if actual_or_eta is None or promised is None:
        return None
    return (actual_or_eta - promised) // 60_000


def table_severity(minutes: int | None) -> str:
    """eta_severity of the shipment_status table: NONE when unknown or negative."""
    return "NONE" if minutes is None or minutes < 0 else eta_level(minutes)


def _alert(alert_type: str, severity: str, shipment_id: str, event: dict[str, Any], once: bool,
           details: dict[str, Any]) -> dict[str, Any]:
    trigger = None if once else event["event_id"]
    return {"alert_id": alert_id(alert_type, shipment_id, trigger), "alert_type": alert_type, "severity": severity,
            "entity_type": "SHIPMENT", "entity_id": shipment_id, "event_time": event["event_time"],
            "trigger_event_id": event["event_id"], "details": details}


def new_tracker() -> dict[str, Any]:
    """The per-shipment memory of the rule."""
    return {"level": "NONE", "late_sent": False, "last_event_id": None, "last_event_time": None,
            "stale_sent_for": None, "in_transit": True}


def on_event(tracker: dict[str, Any], shipment_id: str, event: dict[str, Any], promised: int | None,
             matched: bool, thresholds=ETA_LEVELS) -> list[dict[str, Any]]:
    """Apply one shipment event (in event-time order); returns the alerts it raises.
    `thresholds`: (level, minutes) highest first (udfs.alerts.eta_thresholds)."""
    alerts: list[dict[str, Any]] = []
    was_in_transit = tracker["in_transit"]  # DELIVERED and CANCELLED are terminal
    tracker["last_event_id"], tracker["last_event_time"] = event["event_id"], event["event_time"]
    if event["event_type"] in ("DELIVERED", "CANCELLED"):
        tracker["in_transit"] = False
    if not matched or promised is None:
        return alerts
    if event["event_type"] in ("DISPATCHED", "ETA_UPDATED") and event.get("eta") is not None:
        minutes = variance_minutes(event["eta"], promised)
        level = eta_level(minutes, thresholds)
        if level != tracker["level"]:
            kind, severity = ("ETA_RECOVERED", "LOW") if level == "NONE" else ("ETA_VARIANCE", level)
            alerts.append(_alert(kind, severity, shipment_id, event, once=False, details={
                "variance_minutes": minutes, "promised_delivery_time": promised, "current_eta": event["eta"],
                "previous_level": tracker["level"], "level": level}))
            tracker["level"] = level
    if event["event_type"] == "DELIVERED" and was_in_transit and not tracker["late_sent"]:
        minutes = variance_minutes(event["event_time"], promised)
        if minutes is not None and minutes > thresholds[-1][1]:  # later than the MEDIUM threshold
            severity = eta_level(minutes, thresholds)
            alerts.append(_alert("LATE_DELIVERY", severity, shipment_id, event, once=True, details={
                "variance_minutes": minutes, "promised_delivery_time": promised,
                "delivered_time": event["event_time"]}))
            tracker["late_sent"] = True
    return alerts


def stale_due(tracker: dict[str, Any], stale_after_ms: int = STALE_AFTER_MS) -> int | None:
    """The event time at which the shipment becomes stale, or None when it cannot."""
    if not tracker["in_transit"] or tracker["last_event_time"] is None:
        return None
    return tracker["last_event_time"] + stale_after_ms


def on_time(tracker: dict[str, Any], shipment_id: str, now: int,
            stale_after_ms: int = STALE_AFTER_MS) -> list[dict[str, Any]]:
    """Event time reached `now` (a watermark that really passed, not the end of input):
    STALE_TRACKING once per silence; the shipment's next event re-arms it."""
    due = stale_due(tracker, stale_after_ms)
    if due is None or now < due or tracker["stale_sent_for"] == tracker["last_event_id"]:
        return []
    tracker["stale_sent_for"] = tracker["last_event_id"]
    event = {"event_id": tracker["last_event_id"], "event_time": due}
    return [_alert("STALE_TRACKING", "MEDIUM", shipment_id, event, once=False,
                   details={"silent_since": tracker["last_event_time"],
                            "stale_after_minutes": stale_after_ms // 60_000})]
