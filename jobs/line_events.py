"""Shared wiring of the jobs that work per PO line in event time (shipment-matching,
eta-exceptions): the normalized PO, shipment and receipt events as one stream, keyed by
PO line, buffered until the watermark passes them and handed to a job's rules in
event-time order; and the typed sinks for what the rules emit.

A job supplies a `LineRules` object (pure Python over a JSON-serializable state dict):

    new_state(event) -> state
    apply(state, event) -> list[int]        event-time timers to register
    on_time(state, timestamp) -> None       event time really passed `timestamp`
    emit(state, trigger, now_ms) -> {kind: [row dict, ...]}
    expiry(state) -> int | None             event time after which the state may go

End of input is not silence (SPEC §4): when a bounded run ends Flink fires every pending
timer; which of them real watermarks reached depends on how partitions interleaved. So a
bounded run measures its input's final watermark (greatest event time minus the
out-of-orderness bound) first, and `on_time` / expiry only see timers up to it.

Fault injection (tests only): with SUPPLYFLOW_INJECT_FAILURE=<marker file>, the first time
an event with event_id `inject-failure` is applied the task fails once (the marker file
records it), so Flink restarts from the last checkpoint.
"""

from __future__ import annotations

import json
import os
import time

from connectors import ddl
from connectors.schema_ddl import valid_columns
from supplyflow import config

MAX_WATERMARK = 2**63 - 1
OUT_OF_ORDERNESS_MS = 5_000
FAULT_EVENT_ID = "inject-failure"
# event kinds, applied in this order at the same instant: policies, PO events, shipment
# events, receipts (per line); then on-order changes and movements (per SKU location)
KINDS = ("PL", "PO", "SH", "RC", "OO", "MV")

# One stream of the three event kinds, in a common shape. Receipts find their line through
# the shipment they reference: an append-only join with every event of that shipment (a
# shipment covers one line, so all give the same line); the copies carry the receipt's
# event_id and count once.
EVENTS = """
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


def final_watermark(t_env) -> int | None:
    """The greatest event time of the bounded input minus the out-of-orderness bound."""
    latest = None
    with t_env.execute_sql("SELECT MAX(event_time) FROM (" + EVENTS + ")").collect() as rows:
        for row in rows:
            latest = row[0] if row[0] is not None else latest
    return None if latest is None else latest - OUT_OF_ORDERNESS_MS


def _process_function(rules, final_wm: int | None, fault_marker: str | None):
    from pyflink.common import Row, Types
    from pyflink.datastream import KeyedProcessFunction
    from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

    class PerLine(KeyedProcessFunction):
        """Per PO line: buffer events until the watermark passes, apply in event-time order."""

        def open(self, runtime_context):
            self.state = runtime_context.get_state(ValueStateDescriptor("line_state", Types.STRING()))
            self.buffer = runtime_context.get_map_state(
                MapStateDescriptor("pending_events", Types.LONG(), Types.STRING()))

        def process_element(self, row, ctx):
            event = row.as_dict()
            pending = json.loads(self.buffer.get(event["event_time"]) or "[]")
            pending.append(event)
            self.buffer.put(event["event_time"], json.dumps(pending))
            ctx.timer_service().register_event_time_timer(event["event_time"])

        def on_timer(self, timestamp, ctx):
            timers = ctx.timer_service()
            state = json.loads(self.state.value()) if self.state.value() else None
            pending = json.loads(self.buffer.get(timestamp) or "[]")
            if pending:
                self.buffer.remove(timestamp)
            end_of_input = timers.current_watermark() >= MAX_WATERMARK
            # did event time really pass `timestamp`, or did the bounded input just end?
            time_passed = not end_of_input or (final_wm is not None and timestamp <= final_wm)
            pending.sort(key=lambda e: (KINDS.index(e["kind"]), e.get("version") or 0, e["event_id"]))
            for event in pending:
                if fault_marker and event["event_id"] == FAULT_EVENT_ID and not os.path.exists(fault_marker):
                    open(fault_marker, "w").close()
                    raise RuntimeError("injected failure (SUPPLYFLOW_INJECT_FAILURE)")
                state = state or rules.new_state(event)
                for due in rules.apply(state, event):
                    timers.register_event_time_timer(due)
            if state is None:
                return
            expiry = rules.expiry(state)
            if not pending and time_passed and expiry is not None and timestamp >= expiry:
                self.state.clear()  # state TTL, in event time
                return
            if time_passed:
                rules.on_time(state, timestamp)
            trigger = pending[-1] if pending else {"event_time": timestamp, "event_id": f"timer:{timestamp}"}
            now_ms = int(time.time() * 1000)
            for kind, rows in rules.emit(state, trigger, now_ms).items():
                for doc in rows:
                    yield Row(kind, json.dumps({**doc, "updated_at": now_ms}))
            # one TTL timer per expiry time (a timer behind the watermark fires in order
            # within the same watermark advance, before later events are applied)
            if expiry is not None and state.get("expiry_timer") != expiry:
                state["expiry_timer"] = expiry
                timers.register_event_time_timer(expiry)
            self.state.update(json.dumps(state))

    return PerLine()


def declare_sources(t_env, settings: config.Settings, job: str, bounded: bool, topics=None) -> None:
    """The `valid_*` tables (normalized events with watermarks) the job reads; by default
    the PO, shipment and movement topics."""
    for topic in topics or (config.PURCHASE_ORDERS, config.SHIPMENT_EVENTS, config.INVENTORY_MOVEMENTS):
        t_env.execute_sql(ddl.valid_events_source(
            valid_table(topic), settings.topic(config.VALID_TOPICS[topic]), valid_columns(topic), settings,
            group_id=settings.transactional_id_prefix(job, "source"), bounded=bounded,
            out_of_orderness_s=OUT_OF_ORDERNESS_MS // 1000,
        ))


def valid_table(topic: str) -> str:
    """The SQL name of an input topic's normalized events, e.g. valid_purchase_orders."""
    return "valid_" + topic.removeprefix("scm.").replace("-", "_")


def in_event_time(t_env, table, key, rules, final_wm: int | None, name: str, uid: str):
    """Rows of `table`, keyed by `key` (a function of a row), handed to `rules` in
    event-time order; returns the DataStream of (kind, doc) the rules emit."""
    from pyflink.common import Types

    return (t_env.to_data_stream(table)
            .key_by(key, key_type=Types.STRING())
            .process(_process_function(rules, final_wm, os.environ.get("SUPPLYFLOW_INJECT_FAILURE")),
                     output_type=Types.ROW_NAMED(["kind", "doc"], [Types.STRING(), Types.STRING()]))
            .name(name).uid(uid))


def per_line_stream(t_env, job: str, bounded: bool, rules, name: str = "per-line"):
    """The PO, shipment and receipt events per PO line through `rules` (DataStream of (kind, doc))."""
    final_wm = final_watermark(t_env) if bounded else None
    return in_event_time(t_env, t_env.sql_query(EVENTS), lambda r: f"{r.po_id}#{r.po_line}", rules, final_wm,
                         f"{job}-{name}", f"{job}/{name}")


def declare(t_env, settings: config.Settings, job: str, bounded: bool, rules) -> None:
    """Sources → per-line rules; the rules' output becomes the temporary view `<job>_out`
    with columns (kind, doc)."""
    declare_sources(t_env, settings, job, bounded)
    t_env.create_temporary_view(view_name(job), t_env.from_data_stream(per_line_stream(t_env, job, bounded, rules)))


def view_name(job: str) -> str:
    return job.replace("-", "_") + "_out"


def typed_select(job: str, columns: list[str], kind: str) -> str:
    """Rows of one output kind, typed per `columns`, from the JSON documents emitted."""
    exprs = []
    for col in columns:
        name, typ = col.split(None, 1)
        name = name.strip("`")
        raw = f"JSON_VALUE(doc, '$.{name}')"
        name = ddl.quote(name)
        if typ.startswith("TIMESTAMP_LTZ"):
            exprs.append(f"TO_TIMESTAMP_LTZ(CAST({raw} AS BIGINT), 3) AS {name}")
        elif typ == "STRING":
            exprs.append(f"{raw} AS {name}")
        else:
            exprs.append(f"CAST({raw} AS {typ}) AS {name}")
    return f"SELECT {', '.join(exprs)} FROM {view_name(job)} WHERE kind = '{kind}'"


ALERT_COUNTER_PREFIX = "alerts_of_type_"


def alert_counter_sink(alert_type: str) -> str:
    """The counting sink (see `add_counter`) of a job's alerts of one type."""
    return ALERT_COUNTER_PREFIX + alert_type.lower()


def add_counter(t_env, statements, sink: str, view: str, where: str) -> None:
    """Count the rows of `view` that satisfy `where` into the blackhole sink `sink`: Flink's
    own `numRecordsIn` of that sink is the count, in every execution mode (Python metrics
    are lost in thread mode, see README)."""
    t_env.execute_sql(f"CREATE TEMPORARY TABLE {sink} (n INT) WITH ('connector' = 'blackhole')")
    statements.add_insert_sql(f"INSERT INTO {sink} SELECT 1 FROM {view} WHERE {where}")


def add_sinks(t_env, settings: config.Settings, job: str, statements, kind: str, columns: list[str],
              pg_table: str | None = None, primary_key: list[str] | None = None,
              topic: str | None = None, topic_key: str | None = None,
              alert_types: tuple[str, ...] = ()) -> None:
    """Write one output kind to a PostgreSQL upsert table and/or an exactly-once topic;
    for alerts, count each of `alert_types` (see `alert_counter_sink`)."""
    rows = f"{view_name(job)}_{kind}"
    t_env.create_temporary_view(rows, t_env.sql_query(typed_select(job, columns, kind)))
    for alert_type in alert_types:
        add_counter(t_env, statements, alert_counter_sink(alert_type), rows, f"alert_type = '{alert_type}'")
    if pg_table:
        sink = f"{kind}_table"
        t_env.execute_sql(ddl.jdbc_upsert_sink(sink, pg_table, columns, primary_key or [], settings))
        statements.add_insert_sql(ddl.insert_select(sink, columns, rows, jdbc=True))
    if topic:
        sink = f"{kind}_topic"
        t_env.execute_sql(ddl.kafka_json_sink(sink, settings.topic(topic), columns, topic_key or "", settings,
                                              transactional_id_prefix=settings.transactional_id_prefix(job, sink)))
        statements.add_insert_sql(ddl.insert_select(sink, columns, rows))
