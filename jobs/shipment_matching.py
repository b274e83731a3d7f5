"""The `shipment-matching` job (SPEC §6 "PO line state", "Matching").

PO, shipment and receipt events, per PO line in event-time order (jobs/line_events.py),
go through the line book (udfs/line_book.py). Outputs: `scm.po_lines` and
`scm.shipment_status` (upserts), the `scm.shipment-status` topic, and the matching alerts
to `scm.alerts.matching` (exactly-once) and `scm.alerts`.

State is bounded: a closed line (cancelled, or delivered in full with every shipment
finished) is forgotten `SUPPLYFLOW_MATCHING_TTL_DAYS` (default 30) days of event time
after its last event. The orphan timer does not fire at the end of a bounded input.

    supplyflow run shipment-matching [--bounded]     (after the edge)
"""

from __future__ import annotations

import hashlib
import json

import orjson

from jobs import line_events
from supplyflow import config
from udfs import line_book
from udfs.matching import ORPHAN_AFTER_MS

NAME = "shipment-matching"

PO_LINE_COLUMNS = [
    "po_id STRING", "po_line INT", "supplier_id STRING", "warehouse_id STRING", "sku STRING", "ordered_qty BIGINT",
    "promised_delivery_time TIMESTAMP_LTZ(3)", "status STRING", "version INT", "shipped_qty BIGINT",
    "delivered_qty BIGINT", "received_qty BIGINT", "open_qty BIGINT", "fulfillment_status STRING",
    "last_event_time TIMESTAMP_LTZ(3)", "updated_at TIMESTAMP_LTZ(3)",
]
SHIPMENT_COLUMNS = [
    "shipment_id STRING", "po_id STRING", "po_line INT", "sku STRING", "warehouse_id STRING", "carrier_id STRING",
    "shipped_qty BIGINT", "status STRING", "match_status STRING", "promised_delivery_time TIMESTAMP_LTZ(3)",
    "current_eta TIMESTAMP_LTZ(3)", "delivered_time TIMESTAMP_LTZ(3)", "eta_variance_minutes BIGINT",
    "eta_severity STRING", "last_event_time TIMESTAMP_LTZ(3)", "updated_at TIMESTAMP_LTZ(3)",
]
ALERT_COLUMNS = [
    "alert_id STRING", "alert_type STRING", "severity STRING", "entity_type STRING", "entity_id STRING",
    "event_time TIMESTAMP_LTZ(3)", "detected_at TIMESTAMP_LTZ(3)", "sku STRING", "warehouse_id STRING",
    "po_id STRING", "po_line INT", "shipment_id STRING", "supplier_id STRING", "carrier_id STRING",
    "trigger_event_id STRING", "message STRING", "details STRING",
]


class MatchingRules:
    """The line book behind jobs/line_events.py's per-line operator. The stage keeps the
    book (state["book"]); the state itself holds the digests of the rows last emitted."""

    book = line_events.LINE_BOOK

    def __init__(self, ttl_ms: int, orphan_after_ms: int = ORPHAN_AFTER_MS):
        self.ttl_ms = ttl_ms
        self.orphan_after_ms = orphan_after_ms

    def new_state(self, event: dict) -> dict:
        return {"emitted": {}, "emitted_line": {}}

    def upgrade(self, state: dict) -> dict:
        """Before the stage kept the book, the state was the book, digests included."""
        if "book" in state or "versions" not in state:
            return state
        upgraded = {"emitted": state.pop("emitted", {}), "emitted_line": state.pop("emitted_line", {}), "book": state}
        if "expiry_timer" in state:
            upgraded["expiry_timer"] = state.pop("expiry_timer")
        return upgraded

    def apply(self, state: dict, event: dict) -> list[int]:
        """A shipment's first event arms the orphan timer, unless the line is known:
        mark_orphans never marks a shipment of a known line (its versions only grow), so
        that timer would only fire to emit the same rows again (a quarter of the per-line
        operator's timer-only firings on the demo mix, benchmarks/README.md). The stage
        has recorded the event in the book already."""
        book = state["book"]
        if (event["kind"] == "SH" and len(book["shipments"][event["shipment_id"]]["events"]) == 1
                and line_book.line_at(book) is None):
            return [event["event_time"] + self.orphan_after_ms]
        return []

    def on_time(self, state: dict, timestamp: int) -> None:
        line_book.mark_orphans(state["book"], timestamp, self.orphan_after_ms)

    def emit(self, state: dict, trigger: dict, now_ms: int) -> dict[str, list[dict]]:
        """The line's row and its shipments' rows, each when it changed since it was last
        emitted (an upsert of an unchanged row would only move updated_at; about a third
        of the shipment rows at every event of a line with several shipments, and the
        line's row at a timer that changed nothing), and new alerts."""
        book = state["book"]
        out = line_book.evaluate(book, trigger, now_ms)
        for kind in ("po_lines", "shipments"):
            for doc in out[kind]:
                doc.update(po_id=book["po_id"], po_line=book["po_line"])
                if kind == "shipments":
                    doc.update(current_eta=doc.pop("eta", None), last_event_time=doc.pop("last_time", None))
        emitted = state["emitted"]  # shipment_id -> digest of its last row
        out["shipments"] = [doc for doc in out["shipments"] if _changed(emitted, doc["shipment_id"], doc)]
        line = state["emitted_line"]  # the line's own, apart from any shipment_id
        out["po_lines"] = [doc for doc in out["po_lines"] if _changed(line, "row", doc)]
        return out

    def expiry(self, state: dict) -> int | None:
        book = state["book"]
        return line_book.last_event_time(book) + self.ttl_ms if line_book.is_closed(book) else None


def _digest(row: dict) -> str:
    """A stable digest of a row (the same in every process and after a restore)."""
    try:
        text = orjson.dumps(row, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: never fail on input
        text = json.dumps(row, sort_keys=True).encode()
    return hashlib.blake2b(text, digest_size=8).hexdigest()


def _changed(emitted: dict, key: str, row: dict) -> bool:
    """Whether `row` differs from the last one emitted under `key`; records it in `emitted`."""
    digest = _digest(row)
    if emitted.get(key) == digest:
        return False
    emitted[key] = digest
    return True


ALERT_TYPES = ("ORPHAN_SHIPMENT", "SKU_MISMATCH", "SHIPMENT_ON_CANCELLED_PO", "OVER_SHIPMENT")


OUTPUTS = {"po_lines": PO_LINE_COLUMNS, "shipments": SHIPMENT_COLUMNS, "alerts": ALERT_COLUMNS}


def rules(settings: config.Settings) -> MatchingRules:
    return MatchingRules(settings.matching_ttl_days * 86_400_000, int(settings.orphan_after_hours * 3_600_000))


def add_outputs(t_env, settings: config.Settings, statements, deployment: str | None = None) -> None:
    """The sinks of the job's outputs (the views its rules' stage registered)."""
    line_events.add_sinks(t_env, settings, NAME, statements, "po_lines", PO_LINE_COLUMNS,
                          pg_table="po_lines", primary_key=["po_id", "po_line"], deployment=deployment)
    line_events.add_sinks(t_env, settings, NAME, statements, "shipments", SHIPMENT_COLUMNS,
                          pg_table="shipment_status", primary_key=["shipment_id"],
                          topic=config.SHIPMENT_STATUS_TOPIC, topic_key="shipment_id", deployment=deployment)
    line_events.add_sinks(t_env, settings, NAME, statements, "alerts", ALERT_COLUMNS,
                          pg_table="alerts", primary_key=["alert_id"],
                          topic=config.ALERTS_MATCHING, topic_key="entity_id", alert_types=ALERT_TYPES,
                          deployment=deployment)


def build(t_env, settings: config.Settings, bounded: bool):
    """Declare sources, the per-line rules and the sinks; returns the StatementSet."""
    line_events.declare(t_env, settings, NAME, bounded, rules(settings), OUTPUTS)
    statements = t_env.create_statement_set()
    add_outputs(t_env, settings, statements)
    return statements
