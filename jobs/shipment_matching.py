"""The `shipment-matching` job (SPEC §6 "PO line state", "Matching"), first slice.

Reads the normalized PO and shipment events (`scm.valid.*`, read_committed) with an
event-time watermark, keys them by PO line, and applies them per line in event-time order
(buffered until the watermark passes them) to the pure line book (udfs/line_book.py).
Writes `scm.po_lines` and `scm.shipment_status` (upserts), the `scm.shipment-status`
topic and the matching alerts to `scm.alerts.matching` (exactly-once) and `scm.alerts`.

RECEIPT movements count towards received_qty once joined to the shipment they reference
(a shipment covers one PO line, so shipment_id → line is fixed). State is bounded: a
closed line (cancelled, or delivered in full with every shipment finished) is forgotten
`SUPPLYFLOW_MATCHING_TTL_DAYS` (default 30) days of event time after its last event.

Fault injection (tests only): with SUPPLYFLOW_INJECT_FAILURE=<marker file>, the first time
an event with event_id `inject-failure` is applied the task fails once (the marker file
records it), so Flink restarts from the last checkpoint; outputs must still be exact.

End of input is not silence (SPEC §4): when a bounded run ends, Flink sends a final
watermark of +∞ and every pending timer fires. Which orphan timers the real watermarks
reached before that depends on how the partitions interleaved, so a bounded run decides
by the data instead: an orphan timer counts only if it is at or before the input's
"final watermark" — its greatest event time minus the out-of-orderness bound — measured
by a query before the run. Two runs therefore agree, whatever the parallelism.
"""

from __future__ import annotations

import json
import os
import time

from connectors import ddl
from connectors.schema_ddl import valid_columns
from supplyflow import config
from udfs import line_book
from udfs.matching import ORPHAN_AFTER_MS

NAME = "shipment-matching"
MAX_WATERMARK = 2**63 - 1
FAULT_EVENT_ID = "inject-failure"
OUT_OF_ORDERNESS_MS = 5_000

# One stream of the three event kinds, in a common shape, keyed by line downstream.
# Receipts find their line through the shipment they reference: an append-only join with
# every event of that shipment (a shipment covers one line, so all give the same line);
# the copies carry the receipt's event_id and count once (udfs/line_book.apply_receipt).
_EVENTS = """
SELECT 'PO' AS kind, event_id, event_type, event_time, po_id, po_line, version, supplier_id, warehouse_id, sku,
       ordered_qty AS qty, promised_delivery_time, CAST(NULL AS STRING) AS shipment_id,
       CAST(NULL AS STRING) AS carrier_id, CAST(NULL AS BIGINT) AS eta
FROM valid_purchase_orders
UNION ALL
SELECT 'SH', event_id, event_type, event_time, po_id, po_line, CAST(NULL AS INT), CAST(NULL AS STRING),
       warehouse_id, sku, shipped_qty, CAST(NULL AS BIGINT), shipment_id, carrier_id, eta
FROM valid_shipment_events
UNION ALL
SELECT 'RC', r.event_id, r.event_type, r.event_time, s.po_id, s.po_line, CAST(NULL AS INT), CAST(NULL AS STRING),
       r.warehouse_id, r.sku, r.quantity, CAST(NULL AS BIGINT), r.reference_id, CAST(NULL AS STRING),
       CAST(NULL AS BIGINT)
FROM valid_inventory_movements AS r
JOIN valid_shipment_events AS s ON r.reference_id = s.shipment_id
WHERE r.event_type = 'RECEIPT'
"""

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


def _typed_select(columns: list[str], kind: str) -> str:
    """Rows of one output kind, from the JSON documents the process function emits."""
    exprs = []
    for col in columns:
        name, typ = col.split(None, 1)
        raw = f"JSON_VALUE(doc, '$.{name}')"
        if typ.startswith("TIMESTAMP_LTZ"):
            exprs.append(f"TO_TIMESTAMP_LTZ(CAST({raw} AS BIGINT), 3) AS {name}")
        elif typ == "STRING":
            exprs.append(f"{raw} AS {name}")
        else:
            exprs.append(f"CAST({raw} AS {typ}) AS {name}")
    return f"SELECT {', '.join(exprs)} FROM matching_out WHERE kind = '{kind}'"


def _process_function(final_watermark: int | None, ttl_ms: int, fault_marker: str | None):
    from pyflink.common import Row, Types
    from pyflink.datastream import KeyedProcessFunction
    from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

    class MatchLine(KeyedProcessFunction):
        """Per PO line: buffer events until the watermark passes, apply in event-time order."""

        def open(self, runtime_context):
            self.book = runtime_context.get_state(ValueStateDescriptor("line_book", Types.STRING()))
            self.buffer = runtime_context.get_map_state(
                MapStateDescriptor("pending_events", Types.LONG(), Types.STRING()))

        def process_element(self, row, ctx):
            event = row.as_dict()
            pending = json.loads(self.buffer.get(event["event_time"]) or "[]")
            pending.append(event)
            self.buffer.put(event["event_time"], json.dumps(pending))
            ctx.timer_service().register_event_time_timer(event["event_time"])

        def on_timer(self, timestamp, ctx):
            book = json.loads(self.book.value()) if self.book.value() else None
            pending = json.loads(self.buffer.get(timestamp) or "[]")
            if pending:
                self.buffer.remove(timestamp)
            end_of_input = ctx.timer_service().current_watermark() >= MAX_WATERMARK
            # did event time really pass `timestamp`, or did the bounded input just end?
            time_passed = not end_of_input or (final_watermark is not None and timestamp <= final_watermark)
            # POs, then shipments, then receipts at the same instant; then by version and event id
            pending.sort(key=lambda e: (("PO", "SH", "RC").index(e["kind"]), e.get("version") or 0, e["event_id"]))
            for event in pending:
                if fault_marker and event["event_id"] == FAULT_EVENT_ID and not os.path.exists(fault_marker):
                    open(fault_marker, "w").close()
                    raise RuntimeError("injected failure (SUPPLYFLOW_INJECT_FAILURE)")
                if book is None:
                    book = line_book.new_book(event["po_id"], event["po_line"])
                if event["kind"] == "PO":
                    line_book.apply_po(book, {**event, "ordered_qty": event["qty"]})
                elif event["kind"] == "RC":
                    line_book.apply_receipt(book, {**event, "reference_id": event["shipment_id"], "quantity": event["qty"]})
                elif line_book.apply_shipment(book, {**event, "shipped_qty": event["qty"]}):
                    # the orphan timer: only time passing can fire it, never the end of input
                    ctx.timer_service().register_event_time_timer(event["event_time"] + ORPHAN_AFTER_MS)
            if book is None:
                return
            if not pending and time_passed and line_book.is_closed(book) \
                    and timestamp >= line_book.last_event_time(book) + ttl_ms:
                self.book.clear()  # state TTL of a closed line (event time)
                return
            if time_passed:
                line_book.mark_orphans(book, timestamp, ORPHAN_AFTER_MS)
            trigger = pending[-1] if pending else {"event_time": timestamp, "event_id": f"orphan-timer:{timestamp}"}
            now_ms = int(time.time() * 1000)
            out = line_book.evaluate(book, trigger, now_ms)
            expiry = line_book.last_event_time(book) + ttl_ms
            if line_book.is_closed(book) and book.get("expiry") != expiry:
                # one TTL timer per expiry time (a timer behind the watermark fires in order
                # within the same watermark advance, before later events are applied)
                book["expiry"] = expiry
                ctx.timer_service().register_event_time_timer(expiry)
            self.book.update(json.dumps(book))
            for kind, rows in out.items():
                for doc in rows:
                    doc = {**doc, "po_id": book["po_id"], "po_line": book["po_line"], "updated_at": now_ms}
                    if kind == "po_lines":
                        doc.update(last_event_time=doc.get("last_event_time"))
                    elif kind == "shipments":
                        doc.update(current_eta=doc.pop("eta", None), last_event_time=doc.pop("last_time", None))
                    yield Row(kind, json.dumps(doc))

    return MatchLine()


def _final_watermark(t_env) -> int | None:
    """The greatest event time of the bounded input minus the out-of-orderness bound."""
    latest = None
    with t_env.execute_sql("SELECT MAX(event_time) FROM (" + _EVENTS + ")").collect() as rows:
        for row in rows:
            latest = row[0] if row[0] is not None else latest
    return None if latest is None else latest - OUT_OF_ORDERNESS_MS


def build(t_env, settings: config.Settings, bounded: bool):
    """Declare sources, the per-line process function and the sinks; returns the StatementSet."""
    from pyflink.common import Types

    # define the sources
    for topic, table in ((config.PURCHASE_ORDERS, "valid_purchase_orders"),
                         (config.SHIPMENT_EVENTS, "valid_shipment_events"),
                         (config.INVENTORY_MOVEMENTS, "valid_inventory_movements")):
        t_env.execute_sql(ddl.valid_events_source(
            table, settings.topic(config.VALID_TOPICS[topic]), valid_columns(topic), settings,
            group_id=settings.transactional_id_prefix(NAME, "source"), bounded=bounded,
        ))
    final_watermark = _final_watermark(t_env) if bounded else None
    events = t_env.to_data_stream(t_env.sql_query(_EVENTS))

    # the rules, per PO line in event-time order
    out = (events
           .key_by(lambda r: f"{r.po_id}#{r.po_line}", key_type=Types.STRING())
           .process(_process_function(final_watermark, settings.matching_ttl_days * 86_400_000,
                                      os.environ.get("SUPPLYFLOW_INJECT_FAILURE")), output_type=Types.ROW_NAMED(["kind", "doc"], [Types.STRING(), Types.STRING()]))
           .name("match-po-lines").uid("shipment-matching/match-po-lines"))
    t_env.create_temporary_view("matching_out", t_env.from_data_stream(out))

    # define the sinks
    statements = t_env.create_statement_set()
    sinks = [
        ("po_lines_table", "po_lines", PO_LINE_COLUMNS, ["po_id", "po_line"], "po_lines"),
        ("shipment_table", "shipment_status", SHIPMENT_COLUMNS, ["shipment_id"], "shipments"),
        ("alerts_table", "alerts", ALERT_COLUMNS, ["alert_id"], "alerts"),
    ]
    for sink, pg_table, columns, key, kind in sinks:
        t_env.create_temporary_view(f"{kind}_rows", t_env.sql_query(_typed_select(columns, kind)))
        t_env.execute_sql(ddl.jdbc_upsert_sink(sink, pg_table, columns, key, settings))
        statements.add_insert_sql(ddl.insert_select(sink, columns, f"{kind}_rows", jdbc=True))
    for sink, topic, columns, key, kind in (
        ("shipment_topic", config.SHIPMENT_STATUS_TOPIC, SHIPMENT_COLUMNS, "shipment_id", "shipments"),
        ("alerts_topic", config.ALERTS_MATCHING, ALERT_COLUMNS, "entity_id", "alerts"),
    ):
        t_env.execute_sql(ddl.kafka_json_sink(sink, settings.topic(topic), columns, key, settings,
                                              transactional_id_prefix=settings.transactional_id_prefix(NAME, sink)))
        statements.add_insert_sql(ddl.insert_select(sink, columns, f"{kind}_rows"))
    return statements
