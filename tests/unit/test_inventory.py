"""SPEC §6 "Inventory" and "Reorder" rules (udfs/inventory.py), without a cluster."""

from __future__ import annotations

import json

import pytest

from udfs import inventory

POLICY = {"reorder_point": 50, "order_up_to": 200, "min_order_qty": 20, "safety_stock": 30, "lead_time_days": 3.0}


def mv(eid, t, event_type, qty, ref=None):
    return {"kind": "MV", "event_id": eid, "event_type": event_type, "event_time": t, "qty": qty, "ref_id": ref}


def oo(eid, t, line, qty):
    return {"kind": "OO", "event_id": eid, "event_type": "PO_LINE", "event_time": t, "qty": qty, "ref_id": line}


def pl(eid, t, **fields):
    return {"kind": "PL", "event_id": eid, "event_type": "POLICY_SET", "event_time": t,
            "policy": json.dumps({**POLICY, **fields})}


def run(*instants):
    """Apply each instant's events, then evaluate; returns the location and its alerts
    (the evaluation outcomes in loc["outcomes"])."""
    loc, alerts = inventory.new_location("SKUAAAA1", "WH-DAL"), []
    loc["outcomes"] = []
    for events in instants:
        for e in events:
            apply = {"MV": inventory.apply_movement, "OO": inventory.apply_line, "PL": inventory.apply_policy}
            apply[e["kind"]](loc, e)
        loc["outcomes"].append(inventory.evaluate_reorder(loc))
        alerts += loc["alerts"]
        loc["alerts"] = []
    return loc, alerts


@pytest.mark.parametrize("event_type, qty, change", [
    ("RECEIPT", 5, 5), ("TRANSFER_IN", 5, 5), ("ISSUE", 5, -5), ("TRANSFER_OUT", 5, -5),
    ("ADJUSTMENT", -7, -7), ("ADJUSTMENT", 7, 7), ("CYCLE_COUNT", 5, 0),
])
def test_on_hand_change_by_movement_type(event_type, qty, change):
    assert inventory.on_hand_change(event_type, qty) == change


@pytest.mark.parametrize("counted, booked, severity", [
    (1002, 1000, None),       # exactly 0.2 %: within tolerance
    (1003, 1000, "MEDIUM"),   # just above 0.2 %
    (980, 1000, "MEDIUM"),    # exactly 2 %: not above it
    (979, 1000, "HIGH"),      # just above 2 %
    (1, 0, "HIGH"),           # on hand 0: tolerance of max(0, 1)
    (0, 0, None),
])
def test_count_variance_thresholds(counted, booked, severity):
    result = inventory.count_variance(counted, booked)
    assert (result or {}).get("severity") == severity


def test_cycle_count_compares_with_on_hand_just_before_and_changes_nothing():
    loc, alerts = run([mv("r", 1, "RECEIPT", 1000)], [mv("c", 2, "CYCLE_COUNT", 900)],
                      [mv("c2", 3, "CYCLE_COUNT", 1000)])
    assert loc["on_hand"] == 1000
    assert [(a["alert_id"], a["severity"]) for a in alerts] == [("COUNT_VARIANCE:SKUAAAA1|WH-DAL:c", "HIGH")]
    assert json.loads(alerts[0]["details"])["variance_qty"] == -100


@pytest.mark.parametrize("on_hand, safety, severity", [(0, 30, "CRITICAL"), (-5, 30, "CRITICAL"), (29, 30, "HIGH"),
                                                       (30, 30, "MEDIUM")])
def test_reorder_severity(on_hand, safety, severity):
    assert inventory.reorder_severity(on_hand, safety) == severity


def test_suggested_qty_is_at_least_the_minimum_order():
    assert inventory.suggested_qty(POLICY, 40) == 160
    assert inventory.suggested_qty(POLICY, 190) == 20


def test_reorder_fires_on_crossing_and_rearms_only_above_the_reorder_point():
    _, alerts = run([pl("p", 0)], [mv("r", 1, "RECEIPT", 100)], [mv("i1", 2, "ISSUE", 60)],
                    [mv("i2", 3, "ISSUE", 5)],                       # still below: no second alert
                    [mv("r2", 4, "RECEIPT", 100)],                   # back above: re-armed
                    [mv("i3", 5, "ISSUE", 200)])                     # crosses again, stockout
    assert [(a["trigger_event_id"], a["severity"]) for a in alerts] == [("i1", "MEDIUM"), ("i3", "CRITICAL")]
    assert json.loads(alerts[0]["details"])["suggested_qty"] == 160


def test_replenishment_on_order_suppresses_a_second_reorder_and_receipt_keeps_the_position():
    loc, alerts = run([pl("p", 0)], [mv("r", 1, "RECEIPT", 100)], [mv("i1", 2, "ISSUE", 60)],
                      [oo("po", 3, "PO-1#1", 160)],                                    # position 200
                      [mv("i2", 4, "ISSUE", 30)],                                      # on hand 10, position 170
                      [mv("rc", 5, "RECEIPT", 160, ref="SH-1"), oo("rc", 5, "PO-1#1", 0)])
    assert [a["trigger_event_id"] for a in alerts] == ["i1"]
    assert (loc["on_hand"], inventory.on_order(loc), inventory.position(loc)) == (170, 0, 170)


def test_no_policy_no_evaluation_is_reported():
    loc, alerts = run([mv("i", 1, "ISSUE", 5)], [mv("i2", 2, "ISSUE", 5)], [mv("c", 3, "CYCLE_COUNT", -10)],
                      [pl("p", 4)], [mv("i3", 5, "ISSUE", 5)])
    assert loc["outcomes"] == [False, False, None, None, True]  # a cycle count evaluates nothing
    # the first evaluation under a policy counts as "no earlier evaluation": below fires
    assert [a["trigger_event_id"] for a in alerts] == ["i3"]


def test_policy_in_effect_at_the_event_time():
    _, alerts = run([pl("p1", 0)], [mv("r", 1, "RECEIPT", 100)], [mv("i1", 2, "ISSUE", 30)],   # 70 ≥ 50
                    [pl("p2", 3, reorder_point=80, order_up_to=300)], [mv("i2", 4, "ISSUE", 5)],  # 65 < 80
                    [pl("p3", 9, reorder_point=10)])
    assert [a["trigger_event_id"] for a in alerts] == ["i2"]
    details = json.loads(alerts[0]["details"])
    assert (details["reorder_point"], details["policy_event_id"], details["suggested_qty"]) == (80, "p2", 235)


def test_a_late_policy_governs_only_from_its_own_time():
    loc = inventory.new_location("S", "W")
    for e in (pl("late", 5, reorder_point=99), pl("early", 1)):
        inventory.apply_policy(loc, e)
    assert inventory.policy_at(loc, 3)["event_id"] == "early"
    assert inventory.policy_at(loc, 5)["reorder_point"] == 99
    assert inventory.policy_at(loc, 0) is None
