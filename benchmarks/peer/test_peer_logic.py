"""Unit tests of the peer's pure logic (benchmarks/peer/logic.py, reference.py): no Kafka,
no Quix. Runs with either venv:

    .venv-peer/bin/python -m pytest benchmarks/peer/test_peer_logic.py
    .venv/bin/python -m pytest benchmarks/peer/test_peer_logic.py
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from benchmarks.peer import logic, reference
from jobs import line_events
from supplyflow import config, contracts
from testdata import generator
from testdata.generator import Record

pytestmark = pytest.mark.unit
SETTINGS = replace(config.Settings(), namespace="t")
T0 = 1_790_841_600_000  # 2026-10-01T08:00:00Z
H = 3_600_000


def raw(topic: str, **body) -> bytes:
    base = {"event_id": "e1", "event_time": T0, "source_system": "test"}
    return json.dumps({**base, **body}).encode()


def movement(eid, event_type, qty, t=T0, ref=None):
    body = {"event_id": eid, "event_type": event_type, "event_time": t, "source_system": "wms", "sku": "SKUAAAA1",
            "warehouse_id": "WH-DAL", "quantity": qty, "uom": "EA"}
    if ref:
        body["reference_id"] = ref
    return logic.movement_event(body)


def route(topic, value, key=None, topology="direct"):
    return logic.EdgeRouter(topic, SETTINGS.topic(topic), topology).route(value, key, 2, 17, 1000, 0)


def path(msg):
    """The routes a message takes through pass-through stages, and its final key."""
    hops = [logic.route_of(msg)]
    while "pass" in msg:
        msg = msg["pass"]
        hops.append(logic.route_of(msg))
    return hops, logic.key_of(msg)


# --- the edge ------------------------------------------------------------------------------
PO = raw(config.PURCHASE_ORDERS, event_type="PO_CREATED", po_id="PO-1", po_line=1, version=1, supplier_id="S",
         warehouse_id="WH-DAL", sku="sku-aaaa-1", ordered_qty=2, uom="CS", promised_delivery_time=T0 + 72 * H)
SHIP = raw(config.SHIPMENT_EVENTS, event_type="DISPATCHED", shipment_id="SH-1", po_id="PO-1", po_line=1,
           sku="SKUAAAA1", shipped_qty=48, uom="EA", carrier_id="DHL", warehouse_id="WH-DAL", eta=T0 + 70 * H)
RECEIPT = raw(config.INVENTORY_MOVEMENTS, event_type="RECEIPT", sku="SKUAAAA1", warehouse_id="WH-DAL", quantity=5,
              uom="EA", reference_id="SH-1")
ISSUE = raw(config.INVENTORY_MOVEMENTS, event_type="ISSUE", sku="SKUAAAA1", warehouse_id="WH-DAL", quantity=5,
            uom="EA", reference_id="SH-1")
POLICY = raw(config.REORDER_POLICIES, event_type="POLICY_SET", sku="SKUAAAA1", warehouse_id="WH-DAL", reorder_point=5,
             order_up_to=9, min_order_qty=1, safety_stock=2, lead_time_days=1)
S, L, LOC = logic.SHIPMENT, logic.LINE, logic.LOCATION


@pytest.mark.parametrize("topic, value, direct, uniform", [
    # a PO line event goes to its line, normalized (SKU spelling, 2 CS = 48 EA)
    (config.PURCHASE_ORDERS, PO, [([L], "PO-1#1")], [([S, L], "PO-1#1")]),
    # a shipment event: its line (ETA, line book) and its shipment (where receipts find the
    # line); uniform: the shipment stage sends it on to the line
    (config.SHIPMENT_EVENTS, SHIP, [([L], "PO-1#1"), ([S], "SH-1")], [([S], "SH-1")]),
    # a receipt that references a shipment goes by way of the shipment
    (config.INVENTORY_MOVEMENTS, RECEIPT, [([S], "SH-1")], [([S], "SH-1")]),
    # any other movement (a reference alone does not matter), and a policy: their location
    (config.INVENTORY_MOVEMENTS, ISSUE, [([LOC], "SKUAAAA1|WH-DAL")], [([S, L, LOC], "SKUAAAA1|WH-DAL")]),
    (config.REORDER_POLICIES, POLICY, [([LOC], "SKUAAAA1|WH-DAL")], [([S, L, LOC], "SKUAAAA1|WH-DAL")]),
])
def test_edge_routes_accepted_events_by_entity(topic, value, direct, uniform):
    assert [path(m) for m in route(topic, value)] == direct
    assert [path(m) for m in route(topic, value, topology="uniform")] == uniform


def test_passing_messages_keep_the_key_of_their_entity():
    (msg,) = route(config.INVENTORY_MOVEMENTS, ISSUE, topology="uniform")
    assert logic.key_of(msg) == logic.key_of(msg["pass"]) == "SKUAAAA1|WH-DAL"  # one partition: order kept
    assert logic.shipment_step({"line": None}, msg, 1, 1) == ({"line": None}, [msg["pass"]])  # state untouched


def test_unknown_topology_is_refused():
    with pytest.raises(ValueError, match="topology"):
        logic.EdgeRouter(config.PURCHASE_ORDERS, "t", "eventually")


def test_edge_normalizes_before_routing():
    (msg,) = route(config.PURCHASE_ORDERS, PO)
    ev = msg["event"]
    assert (ev["kind"], ev["sku"], ev["qty"], ev["promised_delivery_time"]) == ("PO", "SKUAAAA1", 48, T0 + 72 * H)


@pytest.mark.parametrize("value, code, text, encoding", [
    (b"{not json", "INVALID_JSON", "{not json", None),
    (None, "INVALID_JSON", None, None),                       # a tombstone
    (b"\xff\xfe{}", "INVALID_JSON", "//57fQ==", "base64"),    # not UTF-8: base64 of the bytes
    (raw(config.PURCHASE_ORDERS, event_type="PO_CREATED"), "SCHEMA_VIOLATION", None, None),
])
def test_edge_dead_letters_rejected_records(value, code, text, encoding):
    (dlq,) = route(config.PURCHASE_ORDERS, value, key=b"PO-1")
    assert logic.route_of(dlq) == logic.DLQ and logic.key_of(dlq) == "t.scm.purchase-orders"
    assert (dlq["dlq_id"], dlq["error_code"], dlq["key"], dlq["value_encoding"]) == (
        "t.scm.purchase-orders:2:17", code, "PO-1", encoding)
    if text is not None:
        assert dlq["value"] == text
    contracts.validator("dlq-record").validate(dlq)


# --- dedup ---------------------------------------------------------------------------------
def test_first_seen_keeps_the_first_within_the_window_only():
    state: dict = {}
    assert logic.first_seen(state, "a", 1_000, 600_000)
    assert not logic.first_seen(state, "a", 20_000, 600_000)      # a producer retry seconds later
    assert logic.first_seen(state, "b", 700_000, 600_000)         # forgets "a" (older than the window)
    assert list(state["seen"]) == ["b"]
    assert logic.first_seen(state, "a", 700_001, 600_000)         # past the window: a new event


# --- per shipment --------------------------------------------------------------------------
def test_receipt_after_its_shipment_travels_with_its_line():
    sh = logic.shipment_line_event(json.loads(SHIP))
    state, out = logic.shipment_step(None, {"event": sh}, 1, 600_000, "direct")
    assert out == []  # direct: the edge sent the shipment event to its line itself
    rc = movement("r1", "RECEIPT", 48, ref="SH-1")
    state, (msg,) = logic.shipment_step(state, {"event": rc}, 2, 600_000)
    assert (logic.route_of(msg), logic.key_of(msg), msg["movement"]) == (logic.LINE, "PO-1#1", rc)
    assert (msg["event"]["kind"], msg["event"]["shipment_id"], msg["event"]["qty"]) == ("RC", "SH-1", 48)
    assert logic.shipment_step(state, {"event": rc}, 3, 600_000)[1] == []  # a retry: dropped


def test_receipt_before_its_shipment_moves_stock_now_and_reaches_the_line_later():
    rc = movement("r1", "RECEIPT", 48, ref="SH-1")
    state, (msg,) = logic.shipment_step(None, {"event": rc}, 1, 600_000)
    assert path(msg) == ([L, LOC], "SKUAAAA1|WH-DAL") and msg["pass"]["events"] == [rc]
    sh = logic.shipment_line_event(json.loads(SHIP))
    state, (ship, receipt) = logic.shipment_step(state, {"event": sh}, 2, 600_000)
    assert (path(ship), ship["event"]) == (([L], "PO-1#1"), sh)  # uniform: the shipment event goes on
    assert (path(receipt), receipt["event"]["kind"], receipt["movement"]) == (([L], "PO-1#1"), "RC", None)
    assert state["pending"] == []


# --- per line ------------------------------------------------------------------------------
def test_the_line_stage_keeps_one_book_for_eta_and_on_order():
    stage = logic.LineStage(SETTINGS)
    po = logic.po_line_event(json.loads(PO))
    state, _ = stage.step(None, {"event": po}, 1, 0)
    sh = logic.shipment_line_event(json.loads(SHIP))
    state, _ = stage.step(state, {"event": sh}, 2, 0)
    # one book, with both events, and none in the rule sets' own parts
    assert "book" not in state["eta"] and "book" not in state["oo"]
    assert state["book"]["po_id"] == "PO-1" and list(state["book"]["shipments"]) == ["SH-1"]
    # each rule set read it as its own: the same state as a private book gives
    eta = line_events.new_state(stage.eta, po)
    for ev in (po, sh):
        line_events.apply(stage.eta, eta, ev)
    assert {**state["eta"], "book": state["book"]} == eta


# --- per location --------------------------------------------------------------------------
def test_a_receipt_and_the_on_order_it_releases_count_as_one_instant():
    stage = logic.LocationStage(SETTINGS)
    pol = logic.policy_event({"event_id": "p", "event_type": "POLICY_SET", "event_time": T0, "sku": "SKUAAAA1",
                              "warehouse_id": "WH-DAL", "reorder_point": 50, "order_up_to": 200, "min_order_qty": 1,
                              "safety_stock": 10, "lead_time_days": 1})
    oo = {"event_id": "po", "event_time": T0 + H, "sku": "SKUAAAA1", "warehouse_id": "WH-DAL", "line": "PO-1#1"}
    state, alerts, _ = stage.step(None, {"events": [pol, logic.on_order_event({**oo, "open_qty": 100})]}, 1, 0)
    assert alerts == []  # position 100 ≥ 50
    state, (alert,), _ = stage.step(state, {"events": [movement("i", "ISSUE", 60, T0 + 2 * H)]}, 2, 0)
    assert alert["alert_id"] == "REORDER:SKUAAAA1|WH-DAL:i"  # position 40 < 50
    receipt = movement("r", "RECEIPT", 100, T0 + 3 * H, ref="SH-1")
    released = logic.on_order_event({**oo, "event_id": "r", "event_time": T0 + 3 * H, "open_qty": 0})
    state, alerts, _ = stage.step(state, {"events": [receipt, released]}, 3, 0)
    assert (alerts, state["loc"]["armed"]) == ([], False)  # still 40: not re-armed
    state, alerts, _ = stage.step(state, {"events": [movement("i2", "ISSUE", 1, T0 + 4 * H)]}, 4, 0)
    assert alerts == []  # no second alert while below


def test_no_policy_is_reported_not_evaluated():
    stage = logic.LocationStage(SETTINGS)
    _, alerts, no_policy = stage.step(None, {"events": [movement("i", "ISSUE", 60)]}, 1, 0)
    assert (alerts, no_policy) == ([], True)


# --- whole scenarios against the integration tests' hand-worked expectations ---------------
def _by_id(alerts):
    return {a["alert_id"]: a["severity"] for a in alerts if a["alert_type"] != reference.STALE}


@pytest.fixture(scope="module")
def integration_scenarios():
    pytest.importorskip("psycopg")  # the integration modules import it (main venv only)
    from tests.integration import test_eta_exceptions as eta_case
    from tests.integration import test_inventory as inventory_case

    return eta_case, inventory_case


@pytest.mark.parametrize("compute", [reference.flink_reference, reference.peer_in_memory])
def test_eta_rules_as_the_eta_job(integration_scenarios, compute):
    eta_case, _ = integration_scenarios
    want = {k: v for k, v in eta_case.WANT.items() if not k.startswith(reference.STALE)}
    assert _by_id(compute(eta_case.EVENTS)) == want


@pytest.mark.parametrize("compute", [reference.flink_reference, reference.peer_in_memory])
def test_inventory_rules_as_the_inventory_and_reorder_jobs(integration_scenarios, compute):
    _, inv = integration_scenarios
    a, b, d, e = inv.A, inv.B, inv.D, inv.E
    assert _by_id(compute(inv.EVENTS)) == {
        f"REORDER:{a}|WH-DAL:a2": "MEDIUM", f"REORDER:{a}|WH-DAL:a5": "CRITICAL", f"REORDER:{b}|WH-DAL:b2": "HIGH",
        f"REORDER:{d}|WH-DAL:d3": "MEDIUM", f"COUNT_VARIANCE:{e}|WH-DAL:e3": "MEDIUM",
        f"COUNT_VARIANCE:{e}|WH-DAL:e4": "HIGH"}


@pytest.mark.parametrize("name, size", [("smoke", None), ("demo", 2000)])
def test_in_arrival_order_without_hop_delay_the_peer_equals_the_reference(name, size):
    records = generator.generate(name, seed=7, size=size).records
    ref, peer = reference.flink_reference(records), reference.peer_in_memory(records, hops="instant")
    assert ref, "the scenario raises alerts"
    assert _by_id(peer) == _by_id(ref)
    check = contracts.validator("alert")
    for alert in peer:
        check.validate(alert)


@pytest.fixture(scope="module")
def demo_2000():
    records = generator.generate("demo", seed=7, size=2000).records
    return records, reference.flink_reference(records)


@pytest.mark.parametrize("hops", ["delay:300", "waves"])
def test_uniform_topology_gives_the_reference_whatever_the_hop_delay(demo_2000, hops):
    records, ref = demo_2000
    assert _by_id(reference.peer_in_memory(records, hops=hops, topology="uniform")) == _by_id(ref)


def test_direct_topology_lets_hop_delay_change_inventory_alerts(demo_2000):
    """Why uniform is the default (README.md): receipts and on-order changes take longer
    paths to a location than movements do."""
    records, ref = demo_2000
    diff = reference.compare(reference.peer_in_memory(records, hops="waves", topology="direct"), ref)
    for t in ("ETA_VARIANCE", "LATE_DELIVERY"):
        assert diff[t]["peer_only"] == diff[t]["reference_only"] == 0
    assert diff["COUNT_VARIANCE"]["peer_only"] + diff["REORDER"]["peer_only"] > 0


def test_in_memory_rejects_unknown_hop_models():
    with pytest.raises(ValueError, match="hops"):
        reference.peer_in_memory([Record(config.PURCHASE_ORDERS, None, PO, "valid", "")], hops="delay:soon")
