"""`supplyflow quality`: great-expectations suites over the PostgreSQL output tables.

Each table gets a suite of expectations that mean something for this product — keys
unique, quantities in range, open_qty ≤ ordered_qty, fulfillment_status consistent with
the quantities (udfs/po_lines.py, the rule itself), position = on_hand + on_order, the
hourly net change adding up, severities, alert types and DLQ codes from schemas/, and
every alert referencing an entity that exists. Cross-table and derived facts become
columns of the validated frame (e.g. `entity_exists`), so each check is one plain
expectation.

The run prints one line per expectation (failing ones name the rows by their keys),
builds the great-expectations Data Docs site (HTML) under `<data_dir>/quality/`, and
exits 1 when any suite fails.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from supplyflow import config, contracts

SKU_PATTERN = r"^[A-Z0-9]{8}$"


@dataclass
class Suite:
    """The expectations of one table: (description, expectation factory) pairs."""

    table: str
    keys: list[str]
    checks: list[tuple[str, Callable[[Any], Any]]] = field(default_factory=list)
    derive: Callable[[Any, dict[str, Any]], Any] | None = None  # (frame, all frames) -> frame


def _enum(schema: str, prop: str) -> list[str]:
    return [v for v in contracts.load_schema(schema)["properties"][prop]["enum"] if v is not None]


def suites() -> list[Suite]:
    """Every table's suite (SPEC §5, §6; value sets from schemas/)."""
    from udfs.po_lines import fulfillment_status

    def po_lines(df, _):
        df = df.copy()
        df["expected_fulfillment_status"] = [
            fulfillment_status(s, o, d) for s, o, d in zip(df["status"], df["ordered_qty"], df["delivered_qty"],
                                                             strict=True)]
        return df

    def positions(df, _):
        return df.assign(on_hand_plus_on_order=df["on_hand"] + df["on_order"])

    def flow(df, _):
        return df.assign(flow_sum=df["receipts"] - df["issues"] + df["adjustments"] + df["transfers_in"]
                         - df["transfers_out"])

    def alerts(df, frames):
        ships = set(frames["shipment_status"]["shipment_id"])
        lines = {f"{p}#{n}" for p, n in zip(frames["po_lines"]["po_id"], frames["po_lines"]["po_line"], strict=True)}
        locations = {f"{s}|{w}" for s, w in zip(frames["inventory_positions"]["sku"],
                                               frames["inventory_positions"]["warehouse_id"], strict=True)}
        known = {"SHIPMENT": ships, "PO_LINE": lines, "SKU_LOCATION": locations}
        return df.assign(entity_exists=[e in known.get(t, ()) for t, e in zip(df["entity_type"], df["entity_id"],
                                                                                strict=True)])

    import great_expectations as gx

    x = gx.expectations
    qty = lambda col: (f"{col} ≥ 0", lambda: x.ExpectColumnValuesToBeBetween(column=col, min_value=0))  # noqa: E731
    return [
        Suite("po_lines", ["po_id", "po_line"], [
            ("(po_id, po_line) unique", lambda: x.ExpectCompoundColumnsToBeUnique(column_list=["po_id", "po_line"])),
            *(qty(c) for c in ("ordered_qty", "shipped_qty", "delivered_qty", "received_qty", "open_qty")),
            ("open_qty ≤ ordered_qty", lambda: x.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="ordered_qty", column_B="open_qty", or_equal=True)),
            ("status OPEN or CANCELLED", lambda: x.ExpectColumnValuesToBeInSet(
                column="status", value_set=["OPEN", "CANCELLED"])),
            ("fulfillment_status consistent with the quantities", lambda: x.ExpectColumnPairValuesToBeEqual(
                column_A="fulfillment_status", column_B="expected_fulfillment_status")),
            ("sku well-formed", lambda: x.ExpectColumnValuesToMatchRegex(column="sku", regex=SKU_PATTERN)),
        ], po_lines),
        Suite("shipment_status", ["shipment_id"], [
            ("shipment_id unique", lambda: x.ExpectColumnValuesToBeUnique(column="shipment_id")),
            qty("shipped_qty"),
            ("status from the SPEC", lambda: x.ExpectColumnValuesToBeInSet(
                column="status", value_set=["IN_TRANSIT", "DELIVERED", "CANCELLED"])),
            ("match_status from the SPEC", lambda: x.ExpectColumnValuesToBeInSet(
                column="match_status", value_set=["MATCHED", "PENDING_PO", "ORPHAN", "SKU_MISMATCH", "PO_CANCELLED"])),
            ("eta_severity from the SPEC", lambda: x.ExpectColumnValuesToBeInSet(
                column="eta_severity", value_set=["NONE", "MEDIUM", "HIGH", "CRITICAL"])),
        ]),
        Suite("inventory_positions", ["sku", "warehouse_id"], [
            ("(sku, warehouse_id) unique", lambda: x.ExpectCompoundColumnsToBeUnique(
                column_list=["sku", "warehouse_id"])),
            qty("on_order"),
            ("position = on_hand + on_order", lambda: x.ExpectColumnPairValuesToBeEqual(
                column_A="position", column_B="on_hand_plus_on_order")),
            ("sku well-formed", lambda: x.ExpectColumnValuesToMatchRegex(column="sku", regex=SKU_PATTERN)),
        ], positions),
        Suite("inventory_flow_hourly", ["sku", "warehouse_id", "hour_start"], [
            ("(sku, warehouse_id, hour_start) unique", lambda: x.ExpectCompoundColumnsToBeUnique(
                column_list=["sku", "warehouse_id", "hour_start"])),
            *(qty(c) for c in ("receipts", "issues", "transfers_in", "transfers_out")),
            ("movement_count ≥ 1", lambda: x.ExpectColumnValuesToBeBetween(column="movement_count", min_value=1)),
            ("net_change = receipts − issues + adjustments + transfers", lambda: x.ExpectColumnPairValuesToBeEqual(
                column_A="net_change", column_B="flow_sum")),
        ], flow),
        Suite("alerts", ["alert_id"], [
            ("alert_id unique", lambda: x.ExpectColumnValuesToBeUnique(column="alert_id")),
            ("alert_type from schemas/alert", lambda: x.ExpectColumnValuesToBeInSet(
                column="alert_type", value_set=_enum("alert", "alert_type"))),
            ("severity from schemas/alert", lambda: x.ExpectColumnValuesToBeInSet(
                column="severity", value_set=_enum("alert", "severity"))),
            ("alert_id = <type>:<entity>[:<trigger>]", lambda: x.ExpectColumnValuesToMatchRegex(
                column="alert_id", regex=r"^[A-Z_]+:.+$")),
            ("references an existing entity", lambda: x.ExpectColumnValuesToBeInSet(
                column="entity_exists", value_set=[True])),
        ], alerts),
        Suite("dlq_events", ["dlq_id"], [
            ("dlq_id unique", lambda: x.ExpectColumnValuesToBeUnique(column="dlq_id")),
            ("error_code from schemas/dlq-record", lambda: x.ExpectColumnValuesToBeInSet(
                column="error_code", value_set=_enum("dlq-record", "error_code"))),
            ("source_offset ≥ 0", lambda: x.ExpectColumnValuesToBeBetween(column="source_offset", min_value=0)),
        ]),
    ]


def load_frames(settings: config.Settings, tables: list[str]) -> dict[str, Any]:
    """Each table of scm as a pandas DataFrame."""
    import pandas as pd
    import psycopg

    frames = {}
    with psycopg.connect(**settings.pg_conninfo()) as conn:
        for table in tables:
            cur = conn.execute(f"select * from {config.PG_SCHEMA}.{table}")  # names from our own list
            frames[table] = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    return frames


@dataclass
class Outcome:
    table: str
    rows: int
    results: list[tuple[str, bool, list[str]]]  # (check, passed, failing row keys)

    @property
    def success(self) -> bool:
        return all(ok for _, ok, _ in self.results)


def _keys(result: dict[str, Any], keys: list[str]) -> list[str]:
    named = []
    for item in result.get("unexpected_index_list") or []:
        if isinstance(item, dict):
            named.append("/".join(str(item.get(k)) for k in keys))
    return sorted(set(named))


def run(settings: config.Settings, report_dir: Path | None = None) -> tuple[list[Outcome], Path]:
    """Validate every table; returns the outcomes and the Data Docs index page."""
    for noisy in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    report_dir = report_dir or settings.data_dir / "quality"
    context = gx.get_context(mode="file", project_root_dir=str(report_dir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.save()
    source = context.data_sources.add_or_update_pandas("scm")
    all_suites = suites()
    frames = load_frames(settings, [s.table for s in all_suites])
    outcomes = []
    for suite_def in all_suites:
        frame = frames[suite_def.table]
        if suite_def.derive is not None:
            frame = suite_def.derive(frame, frames)
        try:
            asset = source.get_asset(suite_def.table)
        except LookupError:
            asset = source.add_dataframe_asset(suite_def.table)
        batch = asset.add_batch_definition_whole_dataframe(f"{suite_def.table}-all") \
            if not any(b.name == f"{suite_def.table}-all" for b in asset.batch_definitions) \
            else asset.get_batch_definition(f"{suite_def.table}-all")
        suite = gx.ExpectationSuite(name=f"scm.{suite_def.table}")
        descriptions = []
        for description, make in suite_def.checks:
            expectation = make()
            expectation.description = description
            suite.add_expectation(expectation)
            descriptions.append(description)
        suite = context.suites.add_or_update(suite)
        validation = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"scm.{suite_def.table}", data=batch, suite=suite))
        checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
            name=f"scm.{suite_def.table}", validation_definitions=[validation],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": suite_def.keys}))
        result = checkpoint.run(batch_parameters={"dataframe": frame})
        by_description = {}
        for run_result in result.run_results.values():
            for r in run_result.results:
                by_description[r.expectation_config.description] = (r.success, _keys(r.result, suite_def.keys))
        outcomes.append(Outcome(suite_def.table, len(frame),
                                [(d, *by_description.get(d, (False, ["(not evaluated)"]))) for d in descriptions]))
    index = Path(re.sub(r"^file://", "", context.get_docs_sites_urls()[0]["site_url"]))
    return outcomes, index


def main(settings: config.Settings) -> int:
    """Run the suites, print the outcome, point at the report; 1 when any suite fails."""
    outcomes, index = run(settings)
    for outcome in outcomes:
        mark = "PASS" if outcome.success else "FAIL"
        print(f"{mark}  scm.{outcome.table} ({outcome.rows} rows)")
        for description, ok, rows in outcome.results:
            if ok:
                print(f"      ok    {description}")
            else:
                shown = ", ".join(rows[:10]) + (f" … ({len(rows)} rows)" if len(rows) > 10 else "")
                print(f"      FAIL  {description}" + (f": {shown}" if shown else ""))
    failed = [o.table for o in outcomes if not o.success]
    print(f"\nData Docs report: {index}")
    if failed:
        print(f"quality: {len(failed)} of {len(outcomes)} suites failed: {', '.join(failed)}")
        return 1
    print(f"quality: all {len(outcomes)} suites passed")
    return 0
