"""The `core` job: shipment-matching, eta-exceptions, inventory and reorder in one Flink
job, each keyed stage run once for all of them. What `run all` and `submit all` deploy
after the edge.

Run apart, the four jobs read the valid topics four times and run six keyed Python
stages per event: the per-line stage in each of the four (inventory and reorder need
the line book for what is on order), and the per-location stage in inventory and in
reorder. Here one operator per PO line (uid `core/per-line`) runs the matching, ETA and
on-order rules, and one per SKU location (`core/per-location`) runs the inventory and
reorder rules; SQL, the sinks and the transactional ids are each job's own.

Each job's rules keep their own state inside the key's state and take part only in the
timers they would have had alone (line_events.fire_all), so every table row, alert and
topic record is the one the job would write alone (a test compares the two). The three
per-line rule sets read one line book per key, recorded once per event, rather than a
copy each (a job whose state expired while the others kept the line starts one of its
own, as it would alone).

    supplyflow run core [--bounded]     (after the edge; `run all` runs both)
"""

from __future__ import annotations

from jobs import eta_exceptions, inventory, line_events, location_events, reorder, shipment_matching
from supplyflow import config

NAME = "core"
JOBS = (shipment_matching, eta_exceptions, inventory, reorder)  # the jobs it runs, by module


def job_config(settings: config.Settings) -> dict[str, str]:
    """Job-level options. Object reuse: each typed output row of the keyed stages fans out
    to its table, its topic and (alerts) a counting sink per alert type, chained in the
    stage's thread, and without reuse Flink copies the row for every consumer but the last
    (`RowDataSerializer.copy`, as in the edge, jobs/edge.py). Every operator here is Flink
    SQL, a conversion into or out of Python (which copies anyway) or a sink, and each
    consumes a row before it returns (the JDBC sink copies what it buffers when reuse is on)."""
    return {"pipeline.object-reuse": "true"}


def build(t_env, settings: config.Settings, bounded: bool):
    """Declare the sources once, the two shared keyed stages and every job's sinks; returns the StatementSet."""
    RuleSet = line_events.RuleSet
    line_events.declare_sources(t_env, settings, NAME, bounded, config.INPUT_TOPICS)
    line_events.per_line_stream(t_env, NAME, bounded, [
        RuleSet(shipment_matching.NAME, shipment_matching.rules(settings), shipment_matching.OUTPUTS),
        RuleSet(eta_exceptions.NAME, eta_exceptions.rules(settings), eta_exceptions.OUTPUTS),
        location_events.on_order_rules(settings),
    ], watermarks=True)
    location_events.location_stage(t_env, NAME, [
        RuleSet(inventory.NAME, inventory.rules(settings), inventory.OUTPUTS, inventory.KINDS),
        RuleSet(reorder.NAME, reorder.rules(settings), reorder.OUTPUTS, reorder.KINDS),
    ], policies=True)
    statements = t_env.create_statement_set()
    for job in JOBS:
        job.add_outputs(t_env, settings, statements, deployment=NAME)
    return statements

