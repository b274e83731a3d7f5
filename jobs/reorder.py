"""The `reorder` job (SPEC §6 "Reorder").

Per SKU location in event-time order (jobs/location_events.py, the same positions as the
inventory job, computed from the input topics so that a replay sees every crossing):
after each movement (other than CYCLE_COUNT) and each PO line event, the position is
compared with the reorder point of the policy in effect at that time — the latest
POLICY_SET of the compacted policy topic with event_time ≤ t, kept per location as a
versioned table. REORDER fires when the position falls below the reorder point and
re-arms only when it is back at or above it, so replenishment already on order
suppresses a second alert (udfs/inventory.py). Alerts go to `scm.alerts.reorder`
(exactly-once) and `scm.alerts`.

Evaluations without a policy are counted by Flink itself: each is one record into the
blackhole sink `reorder_not_evaluated_no_policy`, whose `numRecordsIn` metric (REST API,
web UI, Prometheus) is the count. (A Python counter would need process mode, where
PyFlink reports Python metrics; it makes this stateful job about 8× slower.)

    supplyflow run reorder [--bounded]     (after the edge)
"""

from __future__ import annotations

from jobs import line_events, location_events
from jobs.shipment_matching import ALERT_COLUMNS
from supplyflow import config

NAME = "reorder"


NOT_EVALUATED_SINK = "reorder_not_evaluated_no_policy"


OUTPUTS = {"alerts": ALERT_COLUMNS}
KINDS = ("MV", "OO", "PL")  # what its location stage reads: movements, on-order changes, policies


def rules(settings: config.Settings) -> location_events.LocationRules:
    return location_events.LocationRules(positions=False, alert_types=("REORDER",))


def add_outputs(t_env, settings: config.Settings, statements, deployment: str | None = None) -> None:
    """The sinks of the alerts and the no-policy counter (the views its location stage registered)."""
    line_events.add_sinks(t_env, settings, NAME, statements, "alerts", ALERT_COLUMNS,
                          pg_table="alerts", primary_key=["alert_id"],
                          topic=config.ALERTS_REORDER, topic_key="entity_id",
                          alert_types=("REORDER",), deployment=deployment)
    line_events.add_counter(t_env, statements, NOT_EVALUATED_SINK, line_events.view_name(NAME),
                            "kind = 'not_evaluated'")


def build(t_env, settings: config.Settings, bounded: bool):
    """Declare sources, the per-location reorder rules and the alert sinks; returns the StatementSet."""
    location_events.declare(t_env, settings, NAME, bounded, rules(settings), OUTPUTS, policies=True)
    statements = t_env.create_statement_set()
    add_outputs(t_env, settings, statements)
    return statements
