"""Core's three tables in Flink SQL alone: what the tables would cost without Python.

A sketch for issue #10, not a job of the suite: `po_lines`, `shipment_status` and
`inventory_positions` as the latest state of each key, computed by Flink's own changelog
operators (deduplication to each line's and each shipment's latest event, aggregates and
joins) from the valid topics the edge writes, upserted into PostgreSQL and, as core does,
the shipment status and the positions into their compacted topics, exactly-once. No
alerts, no event-time order and no timers: a line or shipment is the latest of its events
now, not as of each event, ORPHAN (a timer) is never set, and a late event simply updates
the totals. On the demo mix its three tables are core's but for ORPHAN
(tests/integration/test_tables_sql.py). What it measures is the price of the tables'
plumbing in SQL, the part of core every rule set shares, against the budget 20,000
events/s leaves (benchmarks/README.md, "What 20,000 events/s leaves for core").

It runs behind the edge in core's place: `supplyflow bench suite --systems tables-sql`
(the edge and this job); submitted like a job: `supplyflow submit tables-sql`.
"""

from __future__ import annotations

from connectors import ddl
from jobs import inventory, line_events, shipment_matching
from supplyflow import config
from udfs.alerts import ETA_LEVELS
from udfs.inventory import ON_HAND_SIGN
from udfs.po_lines import OVER_TOLERANCE

NAME = "tables-sql"
TOPICS = (config.PURCHASE_ORDERS, config.SHIPMENT_EVENTS, config.INVENTORY_MOVEMENTS)

# (event_time, version) as one sortable BIGINT: versions below 2^12
LATEST_PO = "event_time * 4096 + version"
# The rules' numbers, from the rules themselves (udfs/): a movement's sign on on_hand, the
# ETA levels, the over-delivery tolerance
ON_HAND_DELTA = ("CASE event_type " + " ".join(f"WHEN '{t}' THEN {sign} * quantity" for t, sign in ON_HAND_SIGN.items())
                 + " ELSE 0 END")
ETA_SEVERITY = ("CASE " + " ".join(f"WHEN variance >= {minimum} THEN '{level}'" for level, minimum in ETA_LEVELS)
                + " ELSE 'NONE' END")
TS, NOW = "TO_TIMESTAMP_LTZ", "CAST(CURRENT_TIMESTAMP AS TIMESTAMP_LTZ(3))"

# Each view is one step of the plan; the names say what a row is.
VIEWS = {
    # a line's latest PO event that is not a cancellation (its fields), by (event_time, version).
    # Every Top-1 here orders by one column: Flink 2.2.1's planner takes a Top-1 ordered by
    # several columns for insert-only and sends no retraction of the row it replaces, so
    # every sum behind it counts old rows too, differently each run (FLINK-39966 and
    # FLINK-40368; seen here: benchmarks/README.md).
    "t_line_fields": f"""
SELECT po_id, po_line, supplier_id, warehouse_id, sku, ordered_qty, promised_delivery_time FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY po_id, po_line ORDER BY {LATEST_PO} DESC) AS rn
  FROM valid_purchase_orders WHERE event_type <> 'PO_CANCELLED'
) WHERE rn = 1""",
    # what every PO event of a line says together: cancelled (terminal), version, last time
    "t_line_events": """
SELECT po_id, po_line, MAX(CASE WHEN event_type = 'PO_CANCELLED' THEN 1 ELSE 0 END) AS cancelled,
       MAX(version) AS version, MAX(event_time) AS last_po_time
FROM valid_purchase_orders GROUP BY po_id, po_line""",
    "t_line": """
SELECT f.po_id, f.po_line, f.supplier_id, f.warehouse_id, f.sku, f.ordered_qty, f.promised_delivery_time,
       CASE WHEN e.cancelled = 1 THEN 'CANCELLED' ELSE 'OPEN' END AS status, e.version, e.last_po_time
FROM t_line_fields AS f JOIN t_line_events AS e ON f.po_id = e.po_id AND f.po_line = e.po_line""",
    # a shipment's latest event (its fields) and what all its events say (terminal status, times)
    "t_ship_fields": """
SELECT shipment_id, po_id, po_line, sku, warehouse_id, carrier_id, shipped_qty FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY shipment_id ORDER BY event_time DESC) AS rn
  FROM valid_shipment_events
) WHERE rn = 1""",
    "t_ship_events": """
SELECT shipment_id, MAX(CASE WHEN event_type = 'DELIVERED' THEN event_time END) AS delivered_time,
       MAX(CASE WHEN event_type = 'CANCELLED' THEN 1 ELSE 0 END) AS cancelled, MAX(event_time) AS last_time
FROM valid_shipment_events GROUP BY shipment_id""",
    # the current ETA: that of the latest event that has one (a DELIVERED event may not)
    "t_ship_eta": """
SELECT shipment_id, eta FROM (
  SELECT shipment_id, eta, ROW_NUMBER() OVER (PARTITION BY shipment_id ORDER BY event_time DESC) AS rn
  FROM valid_shipment_events WHERE eta IS NOT NULL
) WHERE rn = 1""",
    "t_receipts": """
SELECT reference_id AS shipment_id, SUM(quantity) AS received
FROM valid_inventory_movements WHERE event_type = 'RECEIPT' GROUP BY reference_id""",
    "t_ship": """
SELECT f.*, e.delivered_time, a.eta, e.last_time, COALESCE(r.received, 0) AS received,
       CASE WHEN e.cancelled = 1 THEN 'CANCELLED' WHEN e.delivered_time IS NOT NULL THEN 'DELIVERED'
            ELSE 'IN_TRANSIT' END AS status
FROM t_ship_fields AS f JOIN t_ship_events AS e ON f.shipment_id = e.shipment_id
LEFT JOIN t_ship_eta AS a ON f.shipment_id = a.shipment_id
LEFT JOIN t_receipts AS r ON f.shipment_id = r.shipment_id""",
    # the line's shipments: those referencing it with the line's sku (SPEC §6). The sku is
    # compared in the sums, not joined on: a join key beyond the line's unique key lets the
    # planner send the line's updates without retractions, and a line whose sku changed
    # would stay joined under its old sku too (sums counted twice, differently each run).
    "t_line_totals": """
SELECT s.po_id, s.po_line,
       SUM(CASE WHEN s.sku = l.sku AND s.status <> 'CANCELLED' THEN s.shipped_qty ELSE 0 END) AS shipped_qty,
       SUM(CASE WHEN s.sku = l.sku AND s.status = 'DELIVERED' THEN s.shipped_qty ELSE 0 END) AS delivered_qty,
       SUM(CASE WHEN s.sku = l.sku THEN s.received ELSE 0 END) AS received_qty, MAX(s.last_time) AS last_ship_time
FROM t_ship AS s JOIN t_line AS l ON s.po_id = l.po_id AND s.po_line = l.po_line
GROUP BY s.po_id, s.po_line""",
    "t_po_lines": f"""
SELECT po_id, po_line, supplier_id, warehouse_id, sku, ordered_qty, promised_delivery_time, status, version,
       shipped_qty, delivered_qty, received_qty,
       CASE WHEN status = 'OPEN' THEN GREATEST(ordered_qty - received_qty, 0) ELSE 0 END AS open_qty,
       CASE WHEN status = 'CANCELLED' THEN 'CANCELLED'
            WHEN delivered_qty > ordered_qty * {OVER_TOLERANCE} THEN 'OVER_DELIVERED'
            WHEN delivered_qty >= ordered_qty THEN 'DELIVERED'
            WHEN delivered_qty > 0 THEN 'PARTIALLY_DELIVERED' ELSE 'OPEN' END AS fulfillment_status,
       last_event_time
FROM (
  SELECT l.po_id, l.po_line, l.supplier_id, l.warehouse_id, l.sku, l.ordered_qty, l.promised_delivery_time,
         l.status, l.version, COALESCE(t.shipped_qty, 0) AS shipped_qty,
         COALESCE(t.delivered_qty, 0) AS delivered_qty, COALESCE(t.received_qty, 0) AS received_qty,
         GREATEST(l.last_po_time, COALESCE(t.last_ship_time, l.last_po_time)) AS last_event_time
  FROM t_line AS l LEFT JOIN t_line_totals AS t ON l.po_id = t.po_id AND l.po_line = t.po_line
)""",
    "t_shipments": """
SELECT s.shipment_id, s.po_id, s.po_line, s.sku, s.warehouse_id, s.carrier_id, s.shipped_qty, s.status,
       CASE WHEN l.po_id IS NULL THEN 'PENDING_PO' WHEN l.status = 'CANCELLED' THEN 'PO_CANCELLED'
            WHEN l.sku <> s.sku THEN 'SKU_MISMATCH' ELSE 'MATCHED' END AS match_status,
       l.promised_delivery_time, s.eta, s.delivered_time,
       FLOOR((COALESCE(s.delivered_time, s.eta) - l.promised_delivery_time) / 60000.0) AS variance,
       s.last_time
FROM t_ship AS s LEFT JOIN t_line AS l ON s.po_id = l.po_id AND s.po_line = l.po_line""",
    "t_on_hand": f"""
SELECT sku, warehouse_id, SUM({ON_HAND_DELTA}) AS on_hand, MAX(event_time) AS last_time
FROM valid_inventory_movements GROUP BY sku, warehouse_id""",
    "t_on_order": """
SELECT sku, warehouse_id, SUM(open_qty) AS on_order, MAX(last_event_time) AS last_time
FROM t_po_lines WHERE status = 'OPEN' GROUP BY sku, warehouse_id""",
}

# The sinks' columns, as core writes them (jobs/shipment_matching.py, jobs/inventory.py).
PO_LINES = f"""
SELECT po_id, po_line, supplier_id, warehouse_id, sku, ordered_qty,
       {TS}(promised_delivery_time) AS promised_delivery_time, status, version, shipped_qty, delivered_qty,
       received_qty, open_qty, fulfillment_status, {TS}(last_event_time) AS last_event_time, {NOW} AS updated_at
FROM t_po_lines"""
SHIPMENTS = f"""
SELECT shipment_id, po_id, po_line, sku, warehouse_id, carrier_id, shipped_qty, status, match_status,
       {TS}(promised_delivery_time) AS promised_delivery_time, {TS}(eta) AS current_eta,
       {TS}(delivered_time) AS delivered_time, CAST(variance AS BIGINT) AS eta_variance_minutes,
       {ETA_SEVERITY} AS eta_severity,
       {TS}(last_time) AS last_event_time, {NOW} AS updated_at
FROM t_shipments"""
POSITIONS = f"""
SELECT sku, warehouse_id, on_hand, on_order, on_hand + on_order AS `position`,
       {TS}(last_time) AS last_event_time, {NOW} AS updated_at
FROM (
  SELECT COALESCE(h.sku, o.sku) AS sku, COALESCE(h.warehouse_id, o.warehouse_id) AS warehouse_id,
         COALESCE(h.on_hand, 0) AS on_hand, COALESCE(o.on_order, 0) AS on_order,
         GREATEST(COALESCE(h.last_time, o.last_time), COALESCE(o.last_time, h.last_time)) AS last_time
  FROM t_on_hand AS h FULL JOIN t_on_order AS o ON h.sku = o.sku AND h.warehouse_id = o.warehouse_id
)"""


def job_config(settings: config.Settings) -> dict[str, str]:
    """Mini-batches of up to 1 s or 5,000 rows: each aggregate folds a key's changes over a
    batch (in two phases) and each join its inputs', rather than passing on a retraction
    and an update per change per operator; without them the job did not hold 2,500
    events/s behind the edge, with them it did, on the same CPU.

    No upsert materializers: the planner puts one (a RocksDB list of every row in flight
    per key) in front of each sink whose rows' key it cannot derive, in case a key's
    changes arrive from several subtasks out of order. Here each key's changes reach its
    sink from one operator keyed by it, or (shipment_status) by the shipment's PO line,
    which its events share; the four cost about a sixth of the job's CPU (README)."""
    return {"table.exec.mini-batch.enabled": "true", "table.exec.mini-batch.allow-latency": "1 s",
            "table.exec.mini-batch.size": "5000", "table.exec.sink.upsert-materialize": "NONE"}


def build(t_env, settings: config.Settings, bounded: bool):
    """Sources: the valid PO, shipment and movement topics; sinks: the three tables in
    PostgreSQL and the two status topics; returns the StatementSet."""
    line_events.declare_sources(t_env, settings, NAME, bounded, TOPICS)
    for name, query in VIEWS.items():
        t_env.create_temporary_view(name, t_env.sql_query(query))
    statements = t_env.create_statement_set()
    outputs = [
        ("po_lines", PO_LINES, shipment_matching.PO_LINE_COLUMNS, "po_lines", ["po_id", "po_line"], None),
        ("shipments", SHIPMENTS, shipment_matching.SHIPMENT_COLUMNS, "shipment_status", ["shipment_id"],
         config.SHIPMENT_STATUS_TOPIC),
        ("positions", POSITIONS, inventory.POSITION_COLUMNS, "inventory_positions", ["sku", "warehouse_id"],
         config.INVENTORY_POSITIONS_TOPIC),
    ]
    for kind, query, columns, pg_table, key, topic in outputs:
        view = f"t_out_{kind}"
        t_env.create_temporary_view(view, t_env.sql_query(query))
        t_env.execute_sql(ddl.jdbc_upsert_sink(f"{kind}_table", pg_table, columns, key, settings))
        statements.add_insert_sql(ddl.insert_select(f"{kind}_table", columns, view, jdbc=True))
        if topic:
            sink = f"{kind}_topic"
            t_env.execute_sql(ddl.kafka_upsert_sink(sink, settings.topic(topic), columns, key, settings,
                                                    settings.transactional_id_prefix(NAME, sink)))
            statements.add_insert_sql(ddl.insert_select(sink, columns, view))
    return statements
