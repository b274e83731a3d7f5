"""shipment-matching end to end: raw events → edge → matching → PostgreSQL + Kafka.

Each case names the edge case it covers; expectations are the SPEC §6 outcomes."""

from __future__ import annotations

import json

import psycopg
import pytest

from supplyflow import config, kafka_io
from testdata.generator import Record
from tests.helpers import produce_and_run

pytestmark = pytest.mark.integration
H = 3600 * 1000
T0 = 1_790_841_600_000  # 2026-10-01T08:00:00Z


def po(eid, po_id, t, qty=100, sku="SKUAAAA1", event_type="PO_CREATED", version=1, line=1):
    body = {"event_id": eid, "event_type": event_type, "event_time": t, "source_system": "erp", "po_id": po_id,
            "po_line": line, "version": version}
    if event_type != "PO_CANCELLED":
        body.update(supplier_id="SUP-1", warehouse_id="WH-DAL", sku=sku, ordered_qty=qty, uom="EA",
                    promised_delivery_time=T0 + 72 * H)
    return Record(config.PURCHASE_ORDERS, po_id.encode(), json.dumps(body).encode(), "valid", eid)


def ship(eid, sid, po_id, t, qty=60, sku="SKUAAAA1", event_type="DISPATCHED", line=1):
    body = {"event_id": eid, "event_type": event_type, "event_time": t, "source_system": "tms", "shipment_id": sid,
            "po_id": po_id, "po_line": line, "sku": sku, "shipped_qty": qty, "uom": "EA", "carrier_id": "DHL",
            "warehouse_id": "WH-DAL", "eta": T0 + 70 * H}
    return Record(config.SHIPMENT_EVENTS, sid.encode(), json.dumps(body).encode(), "valid", eid)


def receipt(eid, sid, t, qty=50):
    body = {"event_id": eid, "event_type": "RECEIPT", "event_time": t, "source_system": "wms", "sku": "SKUAAAA1",
            "warehouse_id": "WH-DAL", "quantity": qty, "uom": "EA", "reference_id": sid}
    return Record(config.INVENTORY_MOVEMENTS, b"SKUAAAA1|WH-DAL", json.dumps(body).encode(), "valid", eid)


# produced in this order (arrival order differs from event-time order on purpose)
EVENTS = [
    po("p1", "PO-1", T0),
    ship("s1", "SH-1", "PO-1", T0 + 1 * H),                              # MATCHED
    ship("s2", "SH-2", "PO-2", T0 + 2 * H),                              # shipment before its PO ...
    po("p2", "PO-2", T0 + 3 * H),                                        # ... which arrives 1 h later
    ship("s3", "SH-3", "PO-9", T0 + 1 * H),                              # no PO ever: ORPHAN after 24 h
    ship("s4", "SH-4", "PO-1", T0 + 2 * H, qty=5, sku="SKUBBBB2"),       # SKU_MISMATCH
    po("p3", "PO-3", T0), po("p3c", "PO-3", T0 + 1 * H, event_type="PO_CANCELLED", version=2),
    ship("s5", "SH-5", "PO-3", T0 + 2 * H),                              # SHIPMENT_ON_CANCELLED_PO
    ship("s6", "SH-6", "PO-1", T0 + 4 * H, qty=50),                      # 60 + 50 > 102: OVER_SHIPMENT
    ship("s6d", "SH-6", "PO-1", T0 + 30 * H, qty=50, event_type="DELIVERED"),
    ship("s7", "SH-7", "PO-8", T0 + 29 * H),                             # no PO, < 24 h before the end
    receipt("r6", "SH-6", T0 + 31 * H),                                  # goods received: received_qty
    receipt("r6", "SH-6", T0 + 31 * H),                                  # the same receipt re-sent
    receipt("r0", "SH-0", T0 + 31 * H),                                  # references no shipment: no line
]


@pytest.fixture(scope="module")
def matched(ns_settings):
    produce_and_run(ns_settings, EVENTS, ["edge", "shipment-matching"])
    return ns_settings


def test_shipment_match_statuses(matched):
    with psycopg.connect(**matched.pg_conninfo()) as conn:
        rows = dict(conn.execute("select shipment_id, match_status from scm.shipment_status").fetchall())
    assert rows == {"SH-1": "MATCHED", "SH-2": "MATCHED", "SH-3": "ORPHAN", "SH-4": "SKU_MISMATCH",
                    "SH-5": "PO_CANCELLED", "SH-6": "MATCHED", "SH-7": "PENDING_PO"}


def test_eta_columns_kept_current(matched):
    with psycopg.connect(**matched.pg_conninfo()) as conn:
        rows = {r[0]: r[1:] for r in conn.execute(
            "select shipment_id, eta_variance_minutes, eta_severity from scm.shipment_status")}
    assert rows["SH-1"] == (-120, "NONE")          # ETA 2 h before the promise
    assert rows["SH-6"] == (-42 * 60, "NONE")      # delivered 42 h early: the delivery time counts
    assert rows["SH-3"] == (None, "NONE")          # no line: no promise to compare with


def test_po_line_totals_and_fulfillment(matched):
    with psycopg.connect(**matched.pg_conninfo()) as conn:
        rows = {r[0]: r[1:] for r in conn.execute(
            "select po_id, status, shipped_qty, delivered_qty, received_qty, open_qty, fulfillment_status"
            " from scm.po_lines")}
    assert rows["PO-1"] == ("OPEN", 110, 50, 50, 50, "PARTIALLY_DELIVERED")  # SH-4's other sku not counted
    assert rows["PO-3"][0] == "CANCELLED" and rows["PO-3"][4:] == (0, "CANCELLED")


def test_matching_alerts_once_each_in_topic_and_table(matched):
    want = {"ORPHAN_SHIPMENT:SH-3", "SKU_MISMATCH:SH-4", "SHIPMENT_ON_CANCELLED_PO:SH-5", "OVER_SHIPMENT:PO-1#1"}
    records = kafka_io.read_all(matched, matched.topic(config.ALERTS_MATCHING))
    ids = [json.loads(r.value)["alert_id"] for r in records]
    assert sorted(ids) == sorted(want)  # SH-2 (PO arrived in time) and SH-7 (end of input) raise nothing
    with psycopg.connect(**matched.pg_conninfo()) as conn:
        table = {r[0]: r[1:] for r in conn.execute("select alert_id, severity, entity_type, trigger_event_id"
                                                   " from scm.alerts")}
    assert set(table) == want
    assert table["OVER_SHIPMENT:PO-1#1"] == ("MEDIUM", "PO_LINE", "s6")
    assert table["SKU_MISMATCH:SH-4"][:2] == ("HIGH", "SHIPMENT")


def _snapshot(settings):
    with psycopg.connect(**settings.pg_conninfo()) as conn:
        ships = conn.execute("select shipment_id, po_id, po_line, sku, shipped_qty, status, match_status,"
                             " current_eta, delivered_time, last_event_time from scm.shipment_status"
                             " order by shipment_id").fetchall()
        lines = conn.execute("select po_id, po_line, status, version, shipped_qty, delivered_qty, received_qty,"
                             " open_qty,"
                             " fulfillment_status, last_event_time from scm.po_lines order by 1, 2").fetchall()
        alerts = conn.execute("select alert_id, alert_type, severity, entity_id, event_time, trigger_event_id,"
                              " message, details from scm.alerts order by alert_id").fetchall()
    return ships, lines, alerts


def test_replay_at_parallelism_2_gives_identical_tables_and_alerts(matched, namespaces):
    other = namespaces()
    produce_and_run(other, EVENTS, ["edge", "shipment-matching"], parallelism=2)
    assert _snapshot(other) == _snapshot(matched)


@pytest.mark.parametrize("ttl_days, expected", [
    (30, "PO_CANCELLED"),   # the cancelled line is still known 28 h later
    (1, "PENDING_PO"),      # closed 1 day of event time before: its state has expired
])
def test_closed_line_state_expires_after_the_ttl(namespaces, ttl_days, expected):
    import dataclasses

    settings = dataclasses.replace(namespaces(), matching_ttl_days=ttl_days)
    produce_and_run(settings, [po("q1", "PO-5", T0), po("q2", "PO-5", T0 + 1 * H, event_type="PO_CANCELLED", version=2),
                               ship("q3", "SH-10", "PO-5", T0 + 29 * H), po("q4", "PO-6", T0 + 40 * H)],
                    ["edge", "shipment-matching"])
    with psycopg.connect(**settings.pg_conninfo()) as conn:
        (status,) = conn.execute("select match_status from scm.shipment_status where shipment_id = 'SH-10'").fetchone()
    assert status == expected


def _status_records(settings):
    from collections import Counter

    records = kafka_io.read_all(settings, settings.topic(config.SHIPMENT_STATUS_TOPIC))
    return Counter(json.dumps({k: v for k, v in json.loads(r.value).items() if k != "updated_at"}, sort_keys=True)
                   for r in records)


def test_exactly_once_through_an_injected_failure(matched, namespaces, tmp_path, monkeypatch):
    """The task fails once mid-stream and restarts from its last checkpoint: every alert is
    still read_committed exactly once and the tables equal a run without failure."""
    settings = namespaces()
    marker = tmp_path / "failed-once"
    monkeypatch.setenv("SUPPLYFLOW_INJECT_FAILURE", str(marker))
    sentinel = po("inject-failure", "PO-7", T0 + 35 * H)
    produce_and_run(settings, EVENTS + [sentinel], ["edge", "shipment-matching"])
    assert marker.exists()  # the failure did happen
    ids = [json.loads(r.value)["alert_id"] for r in kafka_io.read_all(settings, settings.topic(config.ALERTS_MATCHING))]
    assert sorted(ids) == sorted({"ORPHAN_SHIPMENT:SH-3", "SKU_MISMATCH:SH-4", "SHIPMENT_ON_CANCELLED_PO:SH-5",
                                  "OVER_SHIPMENT:PO-1#1"})
    assert _status_records(settings) == _status_records(matched)  # same updates, none twice or lost
    assert _snapshot(settings)[0] == _snapshot(matched)[0]
