"""`supplyflow demo` (what `make demo` runs) on a generated scenario, and the checks that
run over its outputs afterwards: `supplyflow quality`."""

from __future__ import annotations

import re

import psycopg
import pytest

from testdata import generator
from tests.helpers import cli, ns_env, why_failed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo(namespaces):
    settings = namespaces()
    out = cli("demo", "--scenario", "smoke", "--seed", "5", env=ns_env(settings))
    assert out.returncode == 0, why_failed(out)
    return settings, out


def test_demo_summary_matches_the_generators_labels(demo):
    _, out = demo
    labels = generator.generate("smoke", seed=5).counts()
    summary = dict(re.findall(r"^\s+(accepted|duplicates)\s+\(.*?\)\s+(\d+)$", out.stdout, re.M))
    assert int(summary["accepted"]) == labels["valid"]
    assert int(summary["duplicates"]) == labels["duplicate"]
    dlq = {code: int(n) for code, n in re.findall(r"^\s+DLQ\s+(\w+)\s+(\d+)$", out.stdout, re.M)}
    assert dlq == {code: n for code, n in labels.items() if code not in ("valid", "duplicate")}


def test_quality_passes_on_the_generated_dataset(demo):
    settings, _ = demo
    out = cli("quality", env=ns_env(settings))
    assert out.returncode == 0, why_failed(out)
    assert "quality: all 6 suites passed" in out.stdout
    with psycopg.connect(**settings.pg_conninfo()) as conn:
        (lines,) = conn.execute("select count(*) from scm.po_lines").fetchone()
    assert f"PASS  scm.po_lines ({lines} rows)" in out.stdout and lines > 0
    report = out.stdout.split("Data Docs report: ")[1].splitlines()[0]
    assert report.endswith("index.html") and "scm.po_lines" in open(report).read()


def test_quality_fails_on_corrupted_rows_and_names_them(demo):
    settings, _ = demo
    with psycopg.connect(**settings.pg_conninfo()) as conn:
        po_id, po_line, open_qty = conn.execute(
            "select po_id, po_line, open_qty from scm.po_lines order by 1, 2 limit 1").fetchone()
        po2, line2, fulfillment = conn.execute(
            "select po_id, po_line, fulfillment_status from scm.po_lines where delivered_qty = 0 and status = 'OPEN'"
            " order by 1 desc, 2 limit 1").fetchone()
        conn.execute("update scm.po_lines set open_qty = ordered_qty + 5 where po_id = %s and po_line = %s",
                     (po_id, po_line))
        conn.execute("update scm.po_lines set fulfillment_status = 'DELIVERED' where po_id = %s and po_line = %s",
                     (po2, line2))  # nothing delivered
        conn.execute("insert into scm.alerts (alert_id, alert_type, severity, entity_type, entity_id, event_time,"
                     " detected_at, message) values ('REORDER:NOSUCH01|WH-X:e', 'REORDER', 'HIGH', 'SKU_LOCATION',"
                     " 'NOSUCH01|WH-X', now(), now(), 'corrupt')")
    try:
        out = cli("quality", env=ns_env(settings))
    finally:  # the other tests of this module read the same tables
        with psycopg.connect(**settings.pg_conninfo()) as conn:
            conn.execute("update scm.po_lines set open_qty = %s where po_id = %s and po_line = %s",
                         (open_qty, po_id, po_line))
            conn.execute("update scm.po_lines set fulfillment_status = %s where po_id = %s and po_line = %s",
                         (fulfillment, po2, line2))
            conn.execute("delete from scm.alerts where alert_id = 'REORDER:NOSUCH01|WH-X:e'")
    assert out.returncode == 1
    assert f"FAIL  open_qty ≤ ordered_qty: {po_id}/{po_line}" in out.stdout
    assert f"FAIL  fulfillment_status consistent with the quantities: {po2}/{line2}" in out.stdout
    assert "FAIL  references an existing entity: REORDER:NOSUCH01|WH-X:e" in out.stdout
    assert "quality: 2 of 6 suites failed: po_lines, alerts" in out.stdout


# --- the analyst queries of sql/flink/, on the same generated data ------------------------
# Each answer is recomputed here in Python from the PostgreSQL tables (or the topics), not
# from the SQL, and must not be empty.

@pytest.fixture(scope="module")
def analyst(demo):
    from connectors import ddl
    from supplyflow import runner

    settings, _ = demo
    t_env = runner.batch_table_env(settings)

    def run(name: str) -> list[dict]:
        columns, rows = runner.query(t_env, ddl.sql_file(name))
        return [dict(zip(columns, row, strict=True)) for row in rows]

    return settings, run


def _rows(settings, sql: str) -> list[dict]:
    from psycopg.rows import dict_row

    with psycopg.connect(**settings.pg_conninfo(), row_factory=dict_row) as conn:
        return conn.execute(sql).fetchall()


def _naive(t):
    """A timestamptz as naive UTC (how Flink's JDBC tables see it)."""
    from datetime import timezone

    return None if t is None else t.astimezone(timezone.utc).replace(tzinfo=None)


def test_supplier_on_time_rate_by_week(analyst):
    from collections import Counter
    from datetime import timedelta

    settings, run = analyst
    deliveries, on_time = Counter(), Counter()
    for r in _rows(settings, "select p.supplier_id, s.promised_delivery_time as promised, s.delivered_time"
                             " from scm.shipment_status s join scm.po_lines p using (po_id, po_line)"
                             " where s.status = 'DELIVERED' and s.match_status = 'MATCHED'"):
        promised = _naive(r["promised"])
        week = (promised - timedelta(days=promised.weekday())).date()
        deliveries[r["supplier_id"], week] += 1
        on_time[r["supplier_id"], week] += _naive(r["delivered_time"]) <= promised + timedelta(hours=2)
    got = {(r["supplier_id"], r["week_start"]): (r["deliveries"], r["on_time"], float(r["on_time_pct"]))
           for r in run("supplier_on_time_rate_by_week.sql")}
    assert got and got == {k: (n, on_time[k], round(100 * on_time[k] / n, 1)) for k, n in deliveries.items()}


def test_carrier_eta_accuracy(analyst):
    from collections import defaultdict

    settings, run = analyst
    errors = defaultdict(list)
    for r in _rows(settings, "select carrier_id, current_eta, delivered_time from scm.shipment_status"
                             " where status = 'DELIVERED' and current_eta is not null"):
        errors[r["carrier_id"]].append(int((r["delivered_time"] - r["current_eta"]).total_seconds() // 60))
    got = {r["carrier_id"]: (r["deliveries"], float(r["mean_abs_error_h"]), float(r["within_2h_pct"]))
           for r in run("carrier_eta_accuracy.sql")}
    want = {c: (len(e), round(sum(abs(m) for m in e) / len(e) / 60, 2),
                round(100 * sum(abs(m) <= 120 for m in e) / len(e), 1)) for c, e in errors.items()}
    assert got and got == {k: pytest.approx(v) for k, v in want.items()}


def test_dlq_breakdown_by_source_and_code(analyst):
    settings, run = analyst
    got = {(r["source_topic"], r["error_code"]): r["records"] for r in run("dlq_breakdown.sql")}
    labels = generator.generate("smoke", seed=5).counts()
    assert sum(got.values()) == sum(n for code, n in labels.items() if code not in ("valid", "duplicate"))
    want = {(r["source_topic"], r["error_code"]): r["n"] for r in _rows(
        settings, "select source_topic, error_code, count(*) as n from scm.dlq_events group by 1, 2")}
    assert got == want


def test_open_po_exposure_by_supplier(analyst):
    from collections import defaultdict

    settings, run = analyst
    lines = _rows(settings, "select * from scm.po_lines")
    newest = max(_naive(r["last_event_time"]) for r in lines)
    want = defaultdict(lambda: [0, 0, 0])
    for r in lines:
        if r["status"] == "OPEN" and r["open_qty"] > 0:
            w = want[r["supplier_id"]]
            w[0] += 1
            w[1] += r["open_qty"]
            w[2] += _naive(r["promised_delivery_time"]) < newest
    got = {r["supplier_id"]: [r["open_lines"], r["open_qty_ea"], r["past_promise"]]
           for r in run("open_po_exposure_by_supplier.sql")}
    assert got and got == dict(want)


def test_inventory_turns(analyst):
    from collections import defaultdict

    settings, run = analyst
    series = defaultdict(list)
    for r in _rows(settings, "select * from scm.inventory_flow_hourly order by sku, warehouse_id, hour_start"):
        series[r["sku"], r["warehouse_id"]].append((r["issues"] + r["transfers_out"], r["net_change"]))
    want = {}
    for key, rows in series.items():
        running, levels = 0, []
        for _, net in rows:
            running += net
            levels.append(running)
        average = sum(levels) / len(levels)
        if average > 0:
            want[key] = round(sum(o for o, _ in rows) / average, 2)
    got = {(r["sku"], r["warehouse_id"]): float(r["turns"]) for r in run("inventory_turns.sql")}
    assert got and got == pytest.approx(want, abs=0.01)


def test_stockout_risk_within_lead_time(analyst):
    import json

    from supplyflow import config, kafka_io

    settings, run = analyst
    policies = {}
    for rec in kafka_io.read_all(settings, settings.topic(config.VALID_TOPICS[config.REORDER_POLICIES])):
        p = json.loads(rec.value)
        key = (p["sku"], p["warehouse_id"])
        if key not in policies or (p["event_time"], p["event_id"]) > (policies[key]["event_time"],
                                                                       policies[key]["event_id"]):
            policies[key] = p
    flow = _rows(settings, "select sku, warehouse_id, sum(issues + transfers_out) as out,"
                           " count(distinct (hour_start at time zone 'UTC')::date) as days"
                           " from scm.inventory_flow_hourly group by 1, 2")
    demand = {(r["sku"], r["warehouse_id"]): float(r["out"]) / r["days"] for r in flow}
    want = set()
    for r in _rows(settings, "select * from scm.inventory_positions"):
        key = (r["sku"], r["warehouse_id"])
        if key in policies and demand.get(key, 0) > 0:
            if r["position"] < demand[key] * policies[key]["lead_time_days"] + policies[key]["safety_stock"]:
                want.add(key)
    got = {(r["sku"], r["warehouse_id"]) for r in run("stockout_risk_within_lead_time.sql")}
    assert got and got == want


# --- running the demo again, and stopping it -----------------------------------------------

def _summary(stdout: str) -> list[str]:
    return [line for line in stdout.split("== summary")[1].splitlines()
            if line.strip().startswith(("records in", "accepted", "duplicates", "DLQ", "alerts", "at risk"))]


def test_demo_again_replays_the_same_scenario_instead_of_producing_it_twice(demo):
    settings, first = demo
    with psycopg.connect(**settings.pg_conninfo()) as conn:
        positions = conn.execute("select * from scm.inventory_positions order by 1, 2").fetchall()
    again = cli("demo", "--scenario", "smoke", "--seed", "5", env=ns_env(settings))
    assert again.returncode == 0, why_failed(again)
    assert "already hold scenario 'smoke' (seed 5): replaying it, producing nothing" in again.stdout
    assert _summary(again.stdout) == _summary(first.stdout) and len(_summary(first.stdout)) > 10
    with psycopg.connect(**settings.pg_conninfo()) as conn:
        assert conn.execute("select * from scm.inventory_positions order by 1, 2").fetchall() == [
            p[:-1] + (q[-1],) for p, q in zip(positions, conn.execute(
                "select * from scm.inventory_positions order by 1, 2").fetchall(), strict=True)]


def test_ctrl_c_stops_the_demo_cleanly(namespaces):
    import os
    import signal
    import subprocess
    import sys
    import time

    settings = namespaces()
    from tests.helpers import user_env

    env = user_env(ns_env(settings))
    proc = subprocess.Popen([sys.executable, "-m", "supplyflow.cli", "demo", "--scenario", "smoke"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stdout:  # until the jobs run
        seen.append(line)
        if "submitted" in line:
            break
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert children, "the demo runs its Flink gateway as a child process"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "supplyflow: interrupted"
    deadline = time.monotonic() + 60
    while any(os.path.exists(f"/proc/{pid}") for pid in children) and time.monotonic() < deadline:
        time.sleep(0.5)  # waiting for process exit, not synchronizing with the system under test
    assert not [pid for pid in children if os.path.exists(f"/proc/{pid}")], "Flink left running"
