"""ETA-variance rules (SPEC §6) at their boundaries, without Flink (groundwork of #5)."""

from __future__ import annotations

import pytest

from udfs import eta

pytestmark = pytest.mark.unit
H = 3600 * 1000
M = 60 * 1000
PROMISED = 100 * H


def ev(i, event_type="ETA_UPDATED", eta_ms=None, t=None):
    return {"event_id": f"e{i}", "event_type": event_type, "event_time": t if t is not None else i * H, "eta": eta_ms}


def run(events, matched=True):
    tracker, alerts = eta.new_tracker(), []
    for e in events:
        alerts += eta.on_event(tracker, "SH-1", e, PROMISED, matched)
    return tracker, alerts


@pytest.mark.parametrize("late_by, level", [
    (2 * H - M, None), (2 * H, "MEDIUM"), (2 * H + M, "MEDIUM"),
    (24 * H - M, "MEDIUM"), (24 * H, "HIGH"), (72 * H - M, "HIGH"), (72 * H, "CRITICAL"), (72 * H + M, "CRITICAL"),
])
def test_level_boundaries(late_by, level):
    _, alerts = run([ev(1, "DISPATCHED", PROMISED + late_by)])
    assert [a["severity"] for a in alerts] == ([level] if level else [])


def test_one_alert_per_level_change_and_recovery():
    _, alerts = run([
        ev(1, "DISPATCHED", PROMISED + 3 * H),   # MEDIUM
        ev(2, eta_ms=PROMISED + 3 * H),          # the carrier re-sends the same ETA: nothing
        ev(3, eta_ms=PROMISED + 5 * H),          # noise inside MEDIUM: nothing
        ev(4, eta_ms=PROMISED + 30 * H),         # HIGH
        ev(5, eta_ms=PROMISED + 1 * H),          # back below 2 h: ETA_RECOVERED
    ])
    assert [(a["alert_type"], a["severity"], a["alert_id"]) for a in alerts] == [
        ("ETA_VARIANCE", "MEDIUM", "ETA_VARIANCE:SH-1:e1"),
        ("ETA_VARIANCE", "HIGH", "ETA_VARIANCE:SH-1:e4"),
        ("ETA_RECOVERED", "LOW", "ETA_RECOVERED:SH-1:e5"),
    ]
    assert alerts[1]["details"]["variance_minutes"] == 30 * 60


def test_unmatched_shipments_raise_nothing():
    assert run([ev(1, "DISPATCHED", PROMISED + 80 * H)], matched=False)[1] == []


@pytest.mark.parametrize("delivered_at, severity", [
    (PROMISED + 2 * H, None), (PROMISED + 2 * H + M, "MEDIUM"), (PROMISED + 27 * H, "HIGH"),
])
def test_late_delivery_once(delivered_at, severity):
    _, alerts = run([ev(1, "DISPATCHED", PROMISED), ev(2, "DELIVERED", t=delivered_at),
                     ev(3, "DELIVERED", t=delivered_at + H)])
    late = [a for a in alerts if a["alert_type"] == "LATE_DELIVERY"]
    assert [a["severity"] for a in late] == ([severity] if severity else [])
    assert all(a["alert_id"] == "LATE_DELIVERY:SH-1" for a in late)


def test_stale_after_12h_once_then_rearmed_by_the_next_event():
    tracker, _ = run([ev(1, "DISPATCHED", PROMISED, t=0)])
    assert eta.on_time(tracker, "SH-1", 12 * H - 1) == []
    (stale,) = eta.on_time(tracker, "SH-1", 12 * H)
    assert (stale["alert_id"], stale["severity"]) == ("STALE_TRACKING:SH-1:e1", "MEDIUM")
    assert eta.on_time(tracker, "SH-1", 20 * H) == []           # one alert per silence
    eta.on_event(tracker, "SH-1", ev(2, t=21 * H, eta_ms=PROMISED), PROMISED, True)
    assert [a["alert_id"] for a in eta.on_time(tracker, "SH-1", 33 * H)] == ["STALE_TRACKING:SH-1:e2"]


def test_delivered_shipments_never_go_stale():
    tracker, _ = run([ev(1, "DISPATCHED", PROMISED, t=0), ev(2, "DELIVERED", t=H)])
    assert eta.stale_due(tracker) is None and eta.on_time(tracker, "SH-1", 100 * H) == []


@pytest.mark.parametrize("actual, minutes, severity", [
    (PROMISED - 30 * M, -30, "NONE"), (PROMISED + 119 * M + 59_999, 119, "NONE"), (PROMISED + 2 * H, 120, "MEDIUM"),
    (None, None, "NONE"),
])
def test_table_columns(actual, minutes, severity):
    assert eta.variance_minutes(actual, PROMISED) == minutes
    assert eta.table_severity(minutes) == severity


def test_thresholds_are_configurable_and_must_rise():
    from udfs.alerts import eta_thresholds

    custom = eta_thresholds(1, 6, 12)
    tracker = eta.new_tracker()
    (alert,) = eta.on_event(tracker, "SH-1", ev(1, "DISPATCHED", PROMISED + 7 * H), PROMISED, True, custom)
    assert alert["severity"] == "HIGH"
    assert eta.on_event(tracker, "SH-1", ev(2, "DELIVERED", t=PROMISED + 61 * M), PROMISED, True, custom)[0][
        "alert_type"] == "LATE_DELIVERY"  # more than the 1 h MEDIUM threshold
    with pytest.raises(ValueError):
        eta_thresholds(24, 2, 72)
