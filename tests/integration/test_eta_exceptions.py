"""eta-exceptions end to end: raw events → edge → ETA rules → scm.alerts.eta + scm.alerts."""

from __future__ import annotations

import json

import psycopg
import pytest

from supplyflow import config, kafka_io, runner
from tests.helpers import produce_and_run
from tests.integration.test_shipment_matching import T0, H, po, ship

pytestmark = pytest.mark.integration
P1 = T0 + 72 * H  # PO-1's promise (the po() default)


def promise(eid, po_id, t, promised, version=1, event_type="PO_CREATED"):
    rec = po(eid, po_id, t, version=version, event_type=event_type)
    body = json.loads(rec.value)
    body["promised_delivery_time"] = promised
    return type(rec)(rec.topic, rec.key, json.dumps(body).encode(), rec.expect, rec.note)


def eta_event(eid, sid, po_id, t, eta_ms, event_type="ETA_UPDATED"):
    rec = ship(eid, sid, po_id, t, event_type=event_type)
    body = json.loads(rec.value)
    body["eta"] = eta_ms
    return type(rec)(rec.topic, rec.key, json.dumps(body).encode(), rec.expect, rec.note)


EVENTS = [
    po("p1", "PO-1", T0),
    eta_event("a1", "SH-1", "PO-1", T0 + 1 * H, P1 + 3 * H, "DISPATCHED"),     # 3 h late: MEDIUM
    eta_event("a2", "SH-1", "PO-1", T0 + 2 * H, P1 + 3 * H),                   # same ETA again: nothing
    eta_event("a3", "SH-1", "PO-1", T0 + 3 * H, P1 + 30 * H),                  # 30 h: HIGH
    promise("p1b", "PO-1", T0 + 4 * H, P1 + 40 * H, version=2, event_type="PO_UPDATED"),  # promise moves
    eta_event("a5", "SH-1", "PO-1", T0 + 5 * H, P1 + 30 * H),                  # now 10 h early: RECOVERED
    ship("a6", "SH-1", "PO-1", T0 + 6 * H, event_type="DELIVERED"),            # on time for the new promise
    promise("p2", "PO-2", T0, T0 + 10 * H),
    eta_event("b1", "SH-2", "PO-2", T0 + 1 * H, T0 + 10 * H, "DISPATCHED"),    # on time
    ship("b2", "SH-2", "PO-2", T0 + 13 * H, event_type="DELIVERED"),           # 3 h late: LATE_DELIVERY
    eta_event("c1", "SH-3", "PO-2", T0 + 2 * H, T0 + 10 * H, "DISPATCHED"),    # then silence: STALE at +12 h
    eta_event("d1", "SH-4", "PO-9", T0 + 3 * H, T0 + 200 * H, "DISPATCHED"),   # no PO: no ETA alert; stale
    eta_event("e1", "SH-5", "PO-2", T0 + 29 * H, T0 + 10 * H, "DISPATCHED"),   # silent < 12 h at the end
    eta_event("f2", "SH-6", "PO-2", T0 + 20 * H + 2000, T0 + 40 * H, "ETA_UPDATED"),  # arrives first, 2 s
    eta_event("f1", "SH-6", "PO-2", T0 + 20 * H, T0 + 13 * H, "DISPATCHED"),   # ... after the earlier event
    po("p3", "PO-3", T0 + 30 * H),                                             # event time moves on
]
WANT = {
    "ETA_VARIANCE:SH-1:a1": "MEDIUM", "ETA_VARIANCE:SH-1:a3": "HIGH", "ETA_RECOVERED:SH-1:a5": "LOW",
    "LATE_DELIVERY:SH-2": "MEDIUM", "STALE_TRACKING:SH-3:c1": "MEDIUM", "STALE_TRACKING:SH-4:d1": "MEDIUM",
    "ETA_VARIANCE:SH-6:f1": "MEDIUM", "ETA_VARIANCE:SH-6:f2": "HIGH",  # applied in event-time order
}  # SH-5: early and silent for less than 12 h when the input ends: nothing


@pytest.fixture(scope="module")
def eta_run(ns_settings):
    produce_and_run(ns_settings, EVENTS, ["edge", "eta-exceptions"])
    return ns_settings


def test_eta_alerts_exactly_once_in_topic(eta_run):
    records = kafka_io.read_all(eta_run, eta_run.topic(config.ALERTS_ETA))
    got = {json.loads(r.value)["alert_id"]: json.loads(r.value)["severity"] for r in records}
    assert len(records) == len(got)
    assert got == WANT


def test_alert_rows_have_readable_messages_and_numbers(eta_run):
    with psycopg.connect(**eta_run.pg_conninfo()) as conn:
        rows = {r[0]: r[1:] for r in conn.execute("select alert_id, message, details from scm.alerts")}
    assert set(rows) == set(WANT)
    message, details = rows["ETA_VARIANCE:SH-1:a3"]
    assert message == ("Shipment SH-1 to WH-DAL (PO PO-1 line 1, DHL) is now 30 h late against the promised "
                       "2026-10-04 08:00 UTC")
    assert details["variance_minutes"] == 30 * 60 and details["level"] == "HIGH"
    assert "delivered 3 h after" in rows["LATE_DELIVERY:SH-2"][0]


def test_exactly_once_through_an_injected_failure(eta_run, namespaces, tmp_path, monkeypatch):
    """The task fails once mid-stream and restarts from its last checkpoint: the same
    alerts, each read_committed exactly once."""
    settings = namespaces()
    marker = tmp_path / "failed-once"
    monkeypatch.setenv("SUPPLYFLOW_INJECT_FAILURE", str(marker))
    produce_and_run(settings, EVENTS + [po("inject-failure", "PO-7", T0 + 25 * H)], ["edge", "eta-exceptions"])
    assert marker.exists()
    records = kafka_io.read_all(settings, settings.topic(config.ALERTS_ETA))
    assert sorted(json.loads(r.value)["alert_id"] for r in records) == sorted(WANT)


def test_live_silent_carrier_goes_stale_while_quiet_partitions_idle(namespaces):
    """Unbounded: SH-3 falls silent; later traffic on another PO line moves event time on
    while the other partitions stay quiet (idle after 1 s), and STALE_TRACKING arrives."""
    import dataclasses
    import time

    settings = dataclasses.replace(namespaces(), idle_timeout="1 s")
    produce_and_run(settings, [promise("p2", "PO-2", T0, T0 + 10 * H),
                               eta_event("c1", "SH-3", "PO-2", T0 + 2 * H, T0 + 10 * H, "DISPATCHED")], ["edge"])
    job = runner.submit("eta-exceptions", settings, bounded=False)
    try:
        produce_and_run(settings, [po("p9", "PO-9", T0 + 20 * H)], ["edge"])  # event time moves to +20 h
        deadline, ids = time.monotonic() + 120, []
        while time.monotonic() < deadline and "STALE_TRACKING:SH-3:c1" not in ids:
            records = kafka_io.read_all(settings, settings.topic(config.ALERTS_ETA))
            ids = [json.loads(r.value)["alert_id"] for r in records]
            time.sleep(0.5)  # polling the read_committed topic for a condition, bounded by the deadline
    finally:
        job.get_job_client().cancel().result()
    assert ids == ["STALE_TRACKING:SH-3:c1"]
