"""The per-key stages' plumbing that needs no cluster (jobs/line_events.py): the state's
JSON codec and the SQL key expression."""

from __future__ import annotations

import json

import pytest

from jobs import line_events

pytestmark = pytest.mark.unit


def test_state_round_trips_and_reads_what_the_standard_library_wrote():
    state = {"book": {"po_id": "PO-1", "lines": [{"qty": 10**15, "eta": None, "ok": True}]}, "expiry_timer": 17}
    assert line_events._loads(line_events._dumps(state)) == state
    assert line_events._loads(json.dumps(state)) == state  # state written before orjson
    assert json.loads(line_events._dumps({1: "a"})) == json.loads(json.dumps({1: "a"})) == {"1": "a"}


def test_what_orjson_refuses_is_written_anyway_rather_than_failing_the_job():
    assert json.loads(line_events._dumps({"qty": 2**70})) == {"qty": 2**70}


def test_the_sql_key_joins_the_columns_and_spells_null_as_python_did():
    assert line_events.key_of("po_id", "po_line", sep="#") == (
        "CONCAT(COALESCE(CAST(`po_id` AS STRING), 'None'), '#', COALESCE(CAST(`po_line` AS STRING), 'None'))")


class Recorder:
    """Rules that record what reaches them: events, time passing, and one output per firing.
    Each event asks for a timeout `timeout` later; the state expires `ttl` after its last event."""

    def __init__(self, timeout: int | None = None, ttl: int | None = None):
        self.timeout, self.ttl = timeout, ttl

    def new_state(self, event):
        return {"seen": [], "passed": [], "last": event["event_time"]}

    def apply(self, state, event):
        state["seen"].append(event["event_id"])
        state["last"] = max(state["last"], event["event_time"])
        return [event["event_time"] + self.timeout] if self.timeout else []

    def on_time(self, state, timestamp):
        state["passed"].append(timestamp)

    def emit(self, state, trigger, now_ms):
        return {"out": [{"at": trigger["event_time"], "seen": len(state["seen"]), "passed": len(state["passed"])}]}

    def expiry(self, state):
        return state["last"] + self.ttl if self.ttl else None


def _event(eid, t, kind="PO"):
    return {"event_id": eid, "event_time": t, "kind": kind}


def _replay(rule_sets, events):
    """Fire one key's timers in event-time order, as Flink would: a timer at each event's
    time and at each time the rules ask for. Returns each job's outputs."""
    import heapq

    stored, outputs = None, {rs.job: [] for rs in rule_sets}
    due = sorted({e["event_time"] for e in events if any(rs.kinds is None or e["kind"] in rs.kinds
                                                          for rs in rule_sets)})
    heapq.heapify(due)
    fired = set()
    while due:
        t = heapq.heappop(due)
        if t in fired:
            continue
        fired.add(t)
        pending = [e for e in events if e["event_time"] == t]
        stored, timers, out = line_events.fire_all(rule_sets, stored, pending, t, True, 0)
        for timer in timers:
            if timer not in fired:
                heapq.heappush(due, timer)
        for job, kind, doc in out:
            outputs[job].append((kind, doc))
    return stored, outputs


def test_one_job_keeps_its_state_as_fire_leaves_it():
    rules = Recorder(timeout=10)
    alone = line_events.fire(rules, None, [_event("a", 5)], 5, True, 0)
    wrapped = line_events.fire_all([line_events.RuleSet("j", rules)], None, [_event("a", 5)], 5, True, 0)
    assert wrapped == (alone[0], alone[1], [("j", kind, doc) for kind, doc in alone[2]])
    assert alone[0]["seen"] == ["a"] and alone[1] == [15]


def test_jobs_sharing_a_stage_each_see_only_their_own_timers_and_kinds():
    RuleSet = line_events.RuleSet
    events = [_event("po1", 0), _event("mv1", 3, "MV"), _event("po2", 20), _event("pl1", 30, "PL"),
              _event("po3", 100), _event("mv2", 104, "MV")]
    jobs = [RuleSet("orphans", Recorder(timeout=7), kinds=("PO",)),
            RuleSet("stale", Recorder(timeout=12, ttl=40), kinds=("PO", "MV")),
            RuleSet("policies", Recorder(), kinds=("MV", "PL"))]
    _, together = _replay(jobs, events)
    for job in jobs:  # alone: its own kinds only, as its own job's SQL reads them
        _, alone = _replay([job], [e for e in events if e["kind"] in job.kinds])
        assert together[job.job] == alone[job.job], job.job
    # the timeouts fired for their own job only: 0+7 and 20+7 for orphans, never for policies
    assert [d["at"] for _, d in together["orphans"]] == [0, 7, 20, 27, 100, 107]
    assert [d["at"] for _, d in together["policies"]] == [3, 30, 104]
    # stale's state expired at 20+40 (its TTL timer: no output), so po3 found it new
    assert [(d["at"], d["seen"]) for _, d in together["stale"]][6:10] == [(40, 3), (43, 3), (100, 1), (104, 2)]


def test_the_shared_state_goes_once_every_job_has_expired_and_no_timer_is_left():
    rule_sets = [line_events.RuleSet("a", Recorder(ttl=10)), line_events.RuleSet("b", Recorder(timeout=3, ttl=5))]
    stored, _ = _replay(rule_sets, [_event("x", 0)])
    assert stored is None
    stored, timers, _ = line_events.fire_all(rule_sets, None, [_event("y", 0)], 0, True, 0)
    assert set(stored["subs"]) == {"a", "b"} and stored["timers"] == {"a": [10], "b": [3, 5]}
    assert sorted(timers) == [3, 5, 10]


def test_matching_emits_a_shipment_row_only_when_it_changed():
    from jobs import shipment_matching
    from supplyflow import config

    rules = shipment_matching.rules(config.Settings())
    po = {"kind": "PO", "event_id": "p1", "event_type": "PO_CREATED", "event_time": 0, "po_id": "PO-1", "po_line": 1,
          "version": 1, "supplier_id": "S", "warehouse_id": "W", "sku": "ABCD1234", "qty": 10,
          "promised_delivery_time": 100, "shipment_id": None, "carrier_id": None, "eta": None}

    def ship(eid, sid, t, event_type="DISPATCHED"):
        return {**po, "kind": "SH", "event_id": eid, "event_type": event_type, "event_time": t, "version": None,
                "qty": 5, "promised_delivery_time": None, "shipment_id": sid, "carrier_id": "C", "eta": 90}

    book, shipped = None, []
    for event in (po, ship("s1", "SH-1", 10), ship("s2", "SH-2", 20), ship("s3", "SH-1", 30, "DELIVERED"),
                  {**po, "event_id": "p2", "event_time": 40, "version": 2, "promised_delivery_time": 50}):
        book, _, out = line_events.fire(rules, book, [event], event["event_time"], True, 0)
        shipped.append(sorted(doc["shipment_id"] for kind, doc in out if kind == "shipments"))
        assert [kind for kind, _ in out].count("po_lines") == 1  # every event changes the line's row
    # SH-2's event leaves SH-1 as it was; a new promise changes both shipments' variance
    assert shipped == [[], ["SH-1"], ["SH-2"], ["SH-1"], ["SH-1", "SH-2"]]
    # time passing changes nothing here: no row at all, the line's included
    book, _, out = line_events.fire(rules, book, [], 1_000, True, 0)
    assert out == []


def test_the_orphan_timer_is_armed_only_for_a_shipment_of_an_unknown_line():
    from jobs import shipment_matching
    from supplyflow import config

    rules = shipment_matching.rules(config.Settings())
    ship = {"kind": "SH", "event_id": "s1", "event_type": "DISPATCHED", "event_time": 10, "po_id": "PO-1",
            "po_line": 1, "version": None, "supplier_id": None, "warehouse_id": "W", "sku": "ABCD1234", "qty": 5,
            "promised_delivery_time": None, "shipment_id": "SH-1", "carrier_id": "C", "eta": 90}
    po = {**ship, "kind": "PO", "event_id": "p1", "event_type": "PO_CREATED", "event_time": 10, "version": 1,
          "supplier_id": "S", "qty": 10, "promised_delivery_time": 100, "shipment_id": None, "carrier_id": None,
          "eta": None}
    # the PO first (the instant's order puts PO events before shipment events): no timer
    _, timers, _ = line_events.fire(rules, None, [po, ship], 10, True, 0)
    assert 10 + rules.orphan_after_ms not in timers
    # the shipment alone: its orphan deadline, which marks it ORPHAN if no PO came
    book, timers, _ = line_events.fire(rules, None, [ship], 10, True, 0)
    assert 10 + rules.orphan_after_ms in timers
    _, _, out = line_events.fire(rules, book, [], 10 + rules.orphan_after_ms, True, 0)
    assert [doc["match_status"] for kind, doc in out if kind == "shipments"] == ["ORPHAN"]
