"""inventory and reorder end to end: raw events → edge → inventory, reorder → PostgreSQL + Kafka.

One scenario of SKU locations, each named for the SPEC §6 case it covers; the expectations
are worked out by hand in the comments."""

from __future__ import annotations

import json
from collections import Counter

import psycopg
import pytest

from supplyflow import config, kafka_io
from testdata.generator import Record
from tests.helpers import cli, ns_env, produce_and_run, tableau_rows

pytestmark = pytest.mark.integration
H = 3600 * 1000
T0 = 1_790_841_600_000  # 2026-10-01T08:00:00Z
JOBS = ["edge", "inventory", "reorder"]


def move(eid, sku, t, event_type, qty, wh="WH-DAL", uom="EA", ref=None):
    body = {"event_id": eid, "event_type": event_type, "event_time": t, "source_system": "wms", "sku": sku,
            "warehouse_id": wh, "quantity": qty, "uom": uom}
    if ref:
        body["reference_id"] = ref
    return Record(config.INVENTORY_MOVEMENTS, f"{sku}|{wh}".encode(), json.dumps(body).encode(), "valid", eid)


def policy(eid, sku, t, rp=50, up_to=200, moq=20, safety=30, wh="WH-DAL"):
    body = {"event_id": eid, "event_type": "POLICY_SET", "event_time": t, "source_system": "erp", "sku": sku,
            "warehouse_id": wh, "reorder_point": rp, "order_up_to": up_to, "min_order_qty": moq,
            "safety_stock": safety, "lead_time_days": 3}
    return Record(config.REORDER_POLICIES, f"{sku}|{wh}".encode(), json.dumps(body).encode(), "valid", eid)


def po(eid, po_id, sku, t, qty, event_type="PO_CREATED", version=1):
    body = {"event_id": eid, "event_type": event_type, "event_time": t, "source_system": "erp", "po_id": po_id,
            "po_line": 1, "version": version, "supplier_id": "SUP-1", "warehouse_id": "WH-DAL", "sku": sku,
            "ordered_qty": qty, "uom": "EA", "promised_delivery_time": T0 + 72 * H}
    return Record(config.PURCHASE_ORDERS, po_id.encode(), json.dumps(body).encode(), "valid", eid)


def ship(eid, sid, po_id, sku, t, qty, event_type="DISPATCHED"):
    body = {"event_id": eid, "event_type": event_type, "event_time": t, "source_system": "tms", "shipment_id": sid,
            "po_id": po_id, "po_line": 1, "sku": sku, "shipped_qty": qty, "uom": "EA", "carrier_id": "DHL",
            "warehouse_id": "WH-DAL", "eta": T0 + 70 * H}
    return Record(config.SHIPMENT_EVENTS, sid.encode(), json.dumps(body).encode(), "valid", eid)


A, B, C, D, E, F, G = ("SKUAAAA1", "SKUBBBB2", "SKUCCCC3", "SKUDDDD4", "SKUEEEE5", "SKUFFFF6", "SKUGGGG7")
EVENTS = [
    # A: REORDER (MEDIUM), replenishment ordered (re-armed, suppresses a second alert while
    # it is on order), delivered but not received (nothing), received (position unchanged),
    # then a stockout crosses again (CRITICAL)
    policy("a-pol", A, T0),
    move("a1", A, T0 + 1 * H, "RECEIPT", 100),
    move("a2", A, T0 + 2 * H, "ISSUE", 60),                   # 40 < 50: REORDER, suggested 160
    po("a-po", "PO-A", A, T0 + 3 * H, 160),                  # position 200: re-armed
    move("a3", A, T0 + 4 * H, "ISSUE", 30),                   # on hand 10, position 170: nothing
    ship("a-s1", "SH-A", "PO-A", A, T0 + 5 * H, 160),
    ship("a-s2", "SH-A", "PO-A", A, T0 + 6 * H, 160, event_type="DELIVERED"),  # not received: nothing
    move("a4", A, T0 + 7 * H, "RECEIPT", 160, ref="SH-A"),    # on hand 170, on order 0: position 170
    move("a5", A, T0 + 8 * H, "ISSUE", 170),                  # 0 < 50: REORDER (CRITICAL)
    # B: below safety stock (HIGH)
    policy("b-pol", B, T0, rp=100, up_to=300, safety=50),
    move("b1", B, T0 + 1 * H, "RECEIPT", 120),
    move("b2", B, T0 + 2 * H, "ISSUE", 80),                   # 40 < 100, 40 < 50: HIGH, suggested 260
    # C: no policy: no REORDER however low
    move("c1", C, T0 + 1 * H, "ISSUE", 500),
    # D: a policy change mid-stream: the policy in effect at each event's time decides
    policy("d-pol1", D, T0),
    move("d1", D, T0 + 1 * H, "RECEIPT", 100),
    move("d2", D, T0 + 2 * H, "ISSUE", 30),                   # 70 ≥ 50
    policy("d-pol2", D, T0 + 3 * H, rp=80, up_to=300),
    move("d3", D, T0 + 4 * H, "ISSUE", 5),                    # 65 < 80: REORDER, suggested 235
    policy("d-pol3", D, T0 + 9 * H, rp=10),
    # E: cycle counts inside and beyond tolerance; a transfer to another warehouse
    move("e1", E, T0 + 1 * H, "RECEIPT", 1000),
    move("e2", E, T0 + 2 * H, "CYCLE_COUNT", 1001),           # 0.1 %: nothing
    move("e3", E, T0 + 3 * H, "CYCLE_COUNT", 990),            # 1 %: MEDIUM
    move("e4", E, T0 + 4 * H, "CYCLE_COUNT", 900),            # 10 %: HIGH
    move("e5", E, T0 + 5 * H, "TRANSFER_OUT", 100),
    move("e6", E, T0 + 5 * H + 60_000, "TRANSFER_IN", 100, wh="WH-HOU"),
    # F: unit conversion (2 CS = 48 EA, 1 DZ = 12 EA) and a signed adjustment
    move("f1", "skuf-fff-6", T0 + 1 * H, "RECEIPT", 2, uom="cs"),
    move("f2", F, T0 + 1 * H + 5 * 60_000, "ISSUE", 1, uom="DZ"),
    move("f3", F, T0 + 2 * H, "ADJUSTMENT", -6),
    # G: a movement 9 h late still counts, in its own hour
    move("g1", G, T0 + 10 * H, "RECEIPT", 10),
    move("g2", G, T0 + 1 * H, "RECEIPT", 5),
    # H (reconciliation): 90 received of 100 delivered; a delivery never received
    po("h-po1", "PO-H1", "SKUHHHH8", T0 + 1 * H, 100),
    ship("h-s1", "SH-H1", "PO-H1", "SKUHHHH8", T0 + 2 * H, 100),
    ship("h-s2", "SH-H1", "PO-H1", "SKUHHHH8", T0 + 3 * H, 100, event_type="DELIVERED"),
    move("h1", "SKUHHHH8", T0 + 4 * H, "RECEIPT", 90, ref="SH-H1"),
    po("h-po2", "PO-H2", "SKUHHHH8", T0 + 1 * H, 50),
    ship("h-s3", "SH-H2", "PO-H2", "SKUHHHH8", T0 + 2 * H, 50),
    ship("h-s4", "SH-H2", "PO-H2", "SKUHHHH8", T0 + 3 * H, 50, event_type="DELIVERED"),
    # a location of its own for the fault-injection test (harmless without it)
    move("inject-failure", "SKUZZZZ9", T0 + 11 * H, "ISSUE", 1),
]


@pytest.fixture(scope="module")
def stocked(ns_settings):
    produce_and_run(ns_settings, EVENTS, JOBS + ["shipment-matching"])  # matching: for reconcile
    return ns_settings


def _positions(settings):
    with psycopg.connect(**settings.pg_conninfo()) as conn:
        return {(r[0], r[1]): r[2:] for r in conn.execute(
            "select sku, warehouse_id, on_hand, on_order, position from scm.inventory_positions")}


def _alerts(settings, alert_type):
    with psycopg.connect(**settings.pg_conninfo()) as conn:
        return {r[0]: r[1:] for r in conn.execute(
            "select trigger_event_id, severity, entity_id, details from scm.alerts where alert_type = %s",
            (alert_type,))}


def test_positions_on_hand_on_order(stocked):
    assert _positions(stocked) == {
        (A, "WH-DAL"): (0, 0, 0), (B, "WH-DAL"): (40, 0, 40), (C, "WH-DAL"): (-500, 0, -500),
        (D, "WH-DAL"): (65, 0, 65), (E, "WH-DAL"): (900, 0, 900), (E, "WH-HOU"): (100, 0, 100),
        (F, "WH-DAL"): (30, 0, 30), (G, "WH-DAL"): (15, 0, 15), ("SKUZZZZ9", "WH-DAL"): (-1, 0, -1),
        ("SKUHHHH8", "WH-DAL"): (90, 10 + 50, 150),  # 10 of PO-H1 still on order, all of PO-H2
    }


def test_reorder_alerts(stocked):
    alerts = _alerts(stocked, "REORDER")
    assert {k: v[:2] for k, v in alerts.items()} == {
        "a2": ("MEDIUM", f"{A}|WH-DAL"),    # on hand 40 ≥ safety 30
        "a5": ("CRITICAL", f"{A}|WH-DAL"),  # re-armed by the PO, stockout
        "b2": ("HIGH", f"{B}|WH-DAL"),
        "d3": ("MEDIUM", f"{D}|WH-DAL"),
    }  # a3 (open PO), a-s2 (delivered, not received), a4 (received), C (no policy): nothing
    assert alerts["a2"][2]["suggested_qty"] == 160
    assert alerts["b2"][2]["suggested_qty"] == 260
    d3 = alerts["d3"][2]
    assert (d3["reorder_point"], d3["policy_event_id"], d3["suggested_qty"]) == (80, "d-pol2", 235)
    ids = [json.loads(r.value)["alert_id"] for r in kafka_io.read_all(stocked, stocked.topic(config.ALERTS_REORDER))]
    assert sorted(ids) == sorted(f"REORDER:{v[1]}:{k}" for k, v in alerts.items())  # once each


def test_count_variance_alerts(stocked):
    alerts = _alerts(stocked, "COUNT_VARIANCE")
    assert {k: v[0] for k, v in alerts.items()} == {"e3": "MEDIUM", "e4": "HIGH"}
    assert alerts["e4"][2]["booked_qty"] == 1000  # the count did not change on hand
    ids = [json.loads(r.value)["alert_id"] for r in kafka_io.read_all(stocked, stocked.topic(config.ALERTS_INVENTORY))]
    assert sorted(ids) == [f"COUNT_VARIANCE:{E}|WH-DAL:e3", f"COUNT_VARIANCE:{E}|WH-DAL:e4"]


def test_hourly_flow_buckets_late_movements_in_their_hour(stocked):
    with psycopg.connect(**stocked.pg_conninfo()) as conn:
        rows = {(r[0], r[1], r[2].hour): r[3:] for r in conn.execute(
            "select sku, warehouse_id, hour_start, receipts, issues, adjustments, transfers_in, transfers_out,"
            " net_change, movement_count from scm.inventory_flow_hourly where sku in (%s, %s, %s)", (E, F, G))}
    assert rows[(G, "WH-DAL", 9)] == (5, 0, 0, 0, 0, 5, 1)        # the late one, in 09:00
    assert rows[(G, "WH-DAL", 18)] == (10, 0, 0, 0, 0, 10, 1)
    assert rows[(F, "WH-DAL", 9)] == (48, 12, 0, 0, 0, 36, 2)     # EA after conversion
    assert rows[(F, "WH-DAL", 10)] == (0, 0, -6, 0, 0, -6, 1)
    assert rows[(E, "WH-DAL", 13)] == (0, 0, 0, 0, 100, -100, 1)
    assert rows[(E, "WH-HOU", 13)] == (0, 0, 0, 100, 0, 100, 1)
    assert (E, "WH-DAL", 10) not in rows                         # cycle counts change nothing


def test_flow_sql_runs_unchanged_in_the_sql_client(stocked):
    """The job's SQL file, run by an analyst with `supplyflow sql -f`, gives the table's rows."""
    out = cli("sql", "-f", str(config.ROOT / "sql" / "flink" / "inventory_flow_hourly.sql"), env=ns_env(stocked))
    assert out.returncode == 0, out.stderr + out.stdout
    with psycopg.connect(**stocked.pg_conninfo()) as conn:
        table = {(r[0], r[1], r[2].strftime("%Y-%m-%d %H:%M:%S.000"), *map(str, r[3:])) for r in conn.execute(
            "select * from scm.inventory_flow_hourly")}
    assert len(table) >= 10 and set(tableau_rows(out.stdout)) == table


def test_positions_topic_is_keyed_by_the_primary_key(stocked):
    latest = {}
    for r in kafka_io.read_all(stocked, stocked.topic(config.INVENTORY_POSITIONS_TOPIC)):
        latest[json.loads(r.key)["sku"], json.loads(r.key)["warehouse_id"]] = json.loads(r.value)
    assert {k: (v["on_hand"], v["on_order"], v["position"]) for k, v in latest.items()} == _positions(stocked)


def _snapshot(settings):
    with psycopg.connect(**settings.pg_conninfo()) as conn:
        positions = conn.execute("select sku, warehouse_id, on_hand, on_order, position, last_event_time"
                                 " from scm.inventory_positions order by 1, 2").fetchall()
        flow = conn.execute("select * from scm.inventory_flow_hourly order by 1, 2, 3").fetchall()
        alerts = conn.execute("select alert_id, alert_type, severity, entity_id, event_time, trigger_event_id,"
                              " message, details from scm.alerts order by alert_id").fetchall()
    return positions, flow, alerts


def test_other_interleaving_and_parallelism_give_identical_tables_and_alerts(stocked, namespaces):
    """Topic by topic, in reverse order (policies first), at parallelism 2: the order
    within each topic is kept, how topics and partitions interleave is not."""
    other = namespaces()
    by_topic = sorted(EVENTS, key=lambda r: config.INPUT_TOPICS.index(r.topic), reverse=True)
    produce_and_run(other, by_topic, JOBS, parallelism=2)
    assert _snapshot(other) == _snapshot(stocked)


def _records(settings, topic):
    return Counter(json.dumps({k: v for k, v in json.loads(r.value).items() if k not in ("updated_at", "detected_at")},
                              sort_keys=True) for r in kafka_io.read_all(settings, settings.topic(topic)))


def test_exactly_once_through_an_injected_failure(stocked, namespaces, tmp_path, monkeypatch):
    """Each job fails once mid-stream and restarts from its last checkpoint: every alert
    and position update is read_committed exactly once, and the tables equal a clean run."""
    from supplyflow import runner

    settings = namespaces()
    produce_and_run(settings, EVENTS, ["edge"])
    for job in ("inventory", "reorder"):
        marker = tmp_path / f"{job}-failed-once"
        monkeypatch.setenv("SUPPLYFLOW_INJECT_FAILURE", str(marker))
        runner.run([job], settings, bounded=True)
        assert marker.exists()  # the failure did happen
    for topic in (config.INVENTORY_POSITIONS_TOPIC, config.ALERTS_INVENTORY, config.ALERTS_REORDER):
        assert _records(settings, topic) == _records(stocked, topic), topic
    assert _snapshot(settings) == _snapshot(stocked)


def test_reconcile_lists_disagreements_for_people_and_tools(stocked, tmp_path):
    out = cli("reconcile", "--json-out", str(tmp_path / "r.json"), env=ns_env(stocked))
    assert out.returncode == 0, out.stderr + out.stdout
    found = json.loads((tmp_path / "r.json").read_text())
    assert [(r["po_id"], r["delivered_qty"], r["received_qty"]) for r in found["delivered_vs_received"]] == [
        ("PO-H1", 100, 90), ("PO-H2", 50, 0)]                 # PO-A: 160 delivered, 160 received
    assert [r["shipment_id"] for r in found["delivered_not_received"]] == ["SH-H2"]
    assert [(r["trigger_event_id"], r["variance_qty"]) for r in found["count_variances"]] == [("e4", -100),
                                                                                              ("e3", -10)]
    assert "== Shipments delivered by the carrier, never received: 1" in out.stdout
    assert "SH-H2" in out.stdout


# --- `supplyflow alerts` over this scenario's alerts --------------------------------------

def test_alerts_cli_json_lists_every_committed_alert(stocked):
    out = cli("alerts", "--json", env=ns_env(stocked))
    assert out.returncode == 0, out.stderr
    printed = [json.loads(line) for line in out.stdout.splitlines()]
    with psycopg.connect(**stocked.pg_conninfo()) as conn:
        table = {r[0] for r in conn.execute("select alert_id from scm.alerts")}
    assert sorted(a["alert_id"] for a in printed) == sorted(table) and len(table) == 6
    assert [a["event_time"] for a in printed] == sorted(a["event_time"] for a in printed)  # oldest first


def test_alerts_cli_filters_by_type_and_severity(stocked):
    out = cli("alerts", "--json", "--type", "reorder", "--min-severity", "high", env=ns_env(stocked))
    assert out.returncode == 0, out.stderr
    assert sorted(json.loads(line)["trigger_event_id"] for line in out.stdout.splitlines()) == ["a5", "b2"]


def test_alerts_cli_prints_one_readable_line_per_alert(stocked):
    out = cli("alerts", "--type", "COUNT_VARIANCE", env=ns_env(stocked))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and "\033[" not in out.stdout  # no colors when not a terminal
    assert lines[0].startswith("2026-10-01 11:00 UTC  MEDIUM    COUNT_VARIANCE")
    assert lines[0].endswith(f"Cycle count of {E} at WH-DAL: counted 990 EA, booked 1000 EA (-1.0 %)")


def test_alerts_cli_rejects_unknown_filters_with_one_line(stocked):
    from tests.helpers import assert_one_line_error

    assert_one_line_error(cli("alerts", "--min-severity", "urgent", env=ns_env(stocked)), "urgent", "CRITICAL")
    assert_one_line_error(cli("alerts", "--type", "REORDR", env=ns_env(stocked)), "REORDR", "REORDER")


def test_alerts_follow_shows_new_committed_alerts_only(namespaces):
    """--follow prints what commits after the backlog, and never an aborted transaction's alert."""
    import io
    import threading
    import time

    from kafka import KafkaProducer

    from supplyflow import alerts_cli

    settings = namespaces()
    producer = KafkaProducer(**settings.kafka_client_config(), transactional_id=f"{settings.namespace}-follow-test")
    producer.init_transactions()

    def send(alert_id: str, commit: bool = True) -> None:
        producer.begin_transaction()
        producer.send(settings.topic(config.ALERTS_REORDER), key=b"X|Y", value=json.dumps(
            {"alert_id": alert_id, "alert_type": "REORDER", "severity": "HIGH",
             "event_time": "2026-10-02T00:00:00Z", "message": "test"}).encode())
        producer.commit_transaction() if commit else producer.abort_transaction()

    send("backlog")
    buffer = io.StringIO()
    follower = threading.Thread(target=alerts_cli.main, args=(settings,),
                                kwargs=dict(follow=True, as_json=True, out=buffer, max_idle_s=15))
    follower.start()
    deadline = time.monotonic() + 60
    while "backlog" not in buffer.getvalue() and time.monotonic() < deadline:  # the backlog is printed
        follower.join(0.2)
    send("aborted", commit=False)
    send("new")
    producer.close()
    follower.join(120)
    assert [json.loads(line)["alert_id"] for line in buffer.getvalue().splitlines()] == ["backlog", "new"]
