"""The `inventory` job (SPEC §6 "Inventory").

Per SKU location in event-time order (jobs/location_events.py): on_hand from the
movements, on_order from the open quantity of the OPEN PO lines for that sku and
warehouse (goods stay on order until a RECEIPT references one of the line's shipments),
position = on_hand + on_order; COUNT_VARIANCE when a cycle count differs from on_hand
just before it (udfs/inventory.py). The hourly flow is Flink SQL
(sql/flink/inventory_flow_hourly.sql), a GROUP BY that late movements update.

Outputs: `scm.inventory_positions` (upserts) and the compacted `scm.inventory-positions`
topic (key: {"sku", "warehouse_id"}), `scm.inventory_flow_hourly` (upserts), and
COUNT_VARIANCE alerts to `scm.alerts.inventory` (exactly-once) and `scm.alerts`.

    supplyflow run inventory [--bounded]     (after the edge)
"""

from __future__ import annotations

from connectors import ddl
from jobs import line_events, location_events
from jobs.shipment_matching import ALERT_COLUMNS
from supplyflow import config

NAME = "inventory"

POSITION_COLUMNS = [
    "sku STRING", "warehouse_id STRING", "on_hand BIGINT", "on_order BIGINT", "`position` BIGINT",
    "last_event_time TIMESTAMP_LTZ(3)", "updated_at TIMESTAMP_LTZ(3)",
]
FLOW_COLUMNS = [
    "sku STRING", "warehouse_id STRING", "hour_start TIMESTAMP_LTZ(3)", "receipts BIGINT", "issues BIGINT",
    "adjustments BIGINT", "transfers_in BIGINT", "transfers_out BIGINT", "net_change BIGINT", "movement_count BIGINT",
]


OUTPUTS = {"positions": POSITION_COLUMNS, "alerts": ALERT_COLUMNS}
KINDS = ("MV", "OO")  # what its location stage reads: movements and on-order changes


def rules(settings: config.Settings) -> location_events.LocationRules:
    return location_events.LocationRules(positions=True, alert_types=("COUNT_VARIANCE",))


def add_outputs(t_env, settings: config.Settings, statements, deployment: str | None = None) -> None:
    """The sinks of the positions and alerts (the views its location stage registered)
    and the hourly flow, plain SQL over the movements."""
    line_events.add_sinks(t_env, settings, NAME, statements, "positions", POSITION_COLUMNS,
                          pg_table="inventory_positions", primary_key=["sku", "warehouse_id"],
                          topic=config.INVENTORY_POSITIONS_TOPIC, topic_key="sku;warehouse_id", deployment=deployment)
    line_events.add_sinks(t_env, settings, NAME, statements, "alerts", ALERT_COLUMNS,
                          pg_table="alerts", primary_key=["alert_id"],
                          topic=config.ALERTS_INVENTORY, topic_key="entity_id",
                          alert_types=("COUNT_VARIANCE",), deployment=deployment)
    t_env.create_temporary_view("inventory_flow_hourly", t_env.sql_query(ddl.sql_file("inventory_flow_hourly.sql")))
    t_env.execute_sql(ddl.jdbc_upsert_sink("flow_table", "inventory_flow_hourly", FLOW_COLUMNS,
                                           ["sku", "warehouse_id", "hour_start"], settings))
    statements.add_insert_sql(ddl.insert_select("flow_table", FLOW_COLUMNS, "inventory_flow_hourly", jdbc=True))


def build(t_env, settings: config.Settings, bounded: bool):
    """Declare sources, the per-location rules, the hourly flow and the sinks; returns the StatementSet."""
    location_events.declare(t_env, settings, NAME, bounded, rules(settings), OUTPUTS)
    statements = t_env.create_statement_set()
    add_outputs(t_env, settings, statements)
    return statements
