"""The `eta-exceptions` job (SPEC §6 "ETA variance").

Per PO line in event-time order (jobs/line_events.py): on each DISPATCHED or ETA_UPDATED
event of a shipment MATCHED as of that event's time, the variance against the line's
promised time *as of that time* (a later PO update does not rewrite a decided alert)
gives a level; a change of level raises ETA_VARIANCE or ETA_RECOVERED; a DELIVERED more
than 2 h late raises LATE_DELIVERY once; 12 h of event-time silence raises STALE_TRACKING,
re-armed by the next event, never by the end of a bounded input. Rules: udfs/eta.py.
Alerts go to `scm.alerts.eta` (exactly-once) and `scm.alerts`.

    supplyflow run eta-exceptions [--bounded]     (after the edge)
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from jobs import line_events
from jobs.shipment_matching import ALERT_COLUMNS
from supplyflow import config
from supplyflow.errors import SupplyflowError
from udfs import alerts, eta, line_book
from udfs.matching import match_status

NAME = "eta-exceptions"


def _utc(ms: int | None) -> str:
    return "unknown" if ms is None else datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def message(alert: dict, ship: dict, book: dict) -> str:
    """One readable line, e.g. "Shipment SH-1 to WH-DAL (PO-7 line 1, DHL) is now 27 h late
    against the promised 2026-10-04 10:00 UTC"."""
    d = alert["details"]
    who = (f"Shipment {alert['entity_id']} to {ship.get('warehouse_id')} "
           f"(PO {book['po_id']} line {book['po_line']}, {ship.get('carrier_id')})")
    promised = _utc(d.get("promised_delivery_time"))
    if alert["alert_type"] == "ETA_VARIANCE":
        return f"{who} is now {d['variance_minutes'] // 60} h late against the promised {promised}"
    if alert["alert_type"] == "ETA_RECOVERED":
        return f"{who} is back within 2 h of the promised {promised}"
    if alert["alert_type"] == "LATE_DELIVERY":
        return f"{who} was delivered {d['variance_minutes'] // 60} h after the promised {promised}"
    return f"{who} has sent no tracking event since {_utc(d.get('silent_since'))}"


class EtaRules:
    """Line book plus one udfs.eta tracker per shipment, behind jobs/line_events.py."""

    book = line_events.LINE_BOOK

    def __init__(self, ttl_ms: int, thresholds=None, stale_after_ms: int = eta.STALE_AFTER_MS):
        self.ttl_ms = ttl_ms
        self.thresholds = thresholds or alerts.ETA_LEVELS
        self.stale_after_ms = stale_after_ms

    def new_state(self, event: dict) -> dict:
        return {"trackers": {}, "out": []}

    def apply(self, state: dict, event: dict) -> list[int]:
        """The stage has recorded the event in the line book already (receipts too: no
        rule here reads them)."""
        if event["kind"] != "SH":
            return []  # neither PO events nor receipts move an ETA
        book = state["book"]
        sid = event["shipment_id"]
        line = line_book.line_at(book, event["event_time"])  # as of the event's time
        matched = line is not None and match_status(line, event["sku"], 0, event["event_time"]) == "MATCHED"
        promised = line.fields.get("promised_delivery_time") if line else None
        tracker = state["trackers"].setdefault(sid, eta.new_tracker())
        state["out"].extend(eta.on_event(tracker, sid, event, promised, matched, self.thresholds))
        due = eta.stale_due(tracker, self.stale_after_ms)
        return [due] if due is not None else []

    def on_time(self, state: dict, timestamp: int) -> None:
        for sid, tracker in sorted(state["trackers"].items()):
            state["out"].extend(eta.on_time(tracker, sid, timestamp, self.stale_after_ms))

    def emit(self, state: dict, trigger: dict, now_ms: int) -> dict[str, list[dict]]:
        if not state["out"]:
            return {}  # most firings raise nothing
        book, rows = state["book"], []
        line = line_book.line_at(book)
        alerts, state["out"] = state["out"], []
        for alert in alerts:
            ship = book["shipments"].get(alert["entity_id"], {})
            rows.append({**alert, "detected_at": now_ms, "message": message(alert, ship, book),
                         "details": json.dumps(alert["details"], sort_keys=True), "sku": ship.get("sku"),
                         "warehouse_id": ship.get("warehouse_id"), "carrier_id": ship.get("carrier_id"),
                         "po_id": book["po_id"], "po_line": book["po_line"], "shipment_id": alert["entity_id"],
                         "supplier_id": line.fields.get("supplier_id") if line else None})
        return {"alerts": rows}

    def expiry(self, state: dict) -> int | None:
        book = state["book"]
        return line_book.last_event_time(book) + self.ttl_ms if line_book.is_closed(book) else None


ALERT_TYPES = ("ETA_VARIANCE", "ETA_RECOVERED", "LATE_DELIVERY", "STALE_TRACKING")


OUTPUTS = {"alerts": ALERT_COLUMNS}


def rules(settings: config.Settings) -> EtaRules:
    try:
        medium, high, critical = (float(h) for h in settings.eta_thresholds_hours.split(","))
        thresholds = alerts.eta_thresholds(medium, high, critical)
    except ValueError:
        raise SupplyflowError(f"SUPPLYFLOW_ETA_THRESHOLDS_HOURS={settings.eta_thresholds_hours!r}: give three rising "
                              f"numbers of hours for MEDIUM,HIGH,CRITICAL, e.g. 2,24,72") from None
    return EtaRules(settings.matching_ttl_days * 86_400_000, thresholds, int(settings.stale_after_hours * 3_600_000))


def add_outputs(t_env, settings: config.Settings, statements, deployment: str | None = None) -> None:
    """The sinks of the job's alerts (the views its rules' stage registered)."""
    line_events.add_sinks(t_env, settings, NAME, statements, "alerts", ALERT_COLUMNS,
                          pg_table="alerts", primary_key=["alert_id"], topic=config.ALERTS_ETA, topic_key="entity_id",
                          alert_types=ALERT_TYPES, deployment=deployment)


def build(t_env, settings: config.Settings, bounded: bool):
    """Declare sources, the per-line ETA rules and the alert sinks; returns the StatementSet."""
    line_events.declare(t_env, settings, NAME, bounded, rules(settings), OUTPUTS)
    statements = t_env.create_statement_set()
    add_outputs(t_env, settings, statements)
    return statements
