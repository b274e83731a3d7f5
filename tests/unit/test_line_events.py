"""The per-key stages' plumbing that needs no cluster (jobs/line_events.py): the state's
JSON codec and the SQL key expression."""

from __future__ import annotations

import copy
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


class Reader(Recorder):
    """Recorder whose rules read a book the stage keeps (the ids of every event so far)."""

    book = line_events.Book(new=lambda event: {"ids": []},
                            apply=lambda book, event: book["ids"].append(event["event_id"]))

    def emit(self, state, trigger, now_ms):
        return {"out": [{"at": trigger["event_time"], "book": list(state["book"]["ids"])}]}


def test_jobs_reading_the_same_book_keep_one_copy_and_see_what_they_would_alone():
    RuleSet = line_events.RuleSet
    events = [_event("a", 0), _event("b", 5, "SH"), _event("c", 20), _event("d", 100, "RC"), _event("e", 103)]
    jobs = [RuleSet("short", Reader(ttl=30)), RuleSet("long", Reader(ttl=90)), RuleSet("timeouts", Reader(timeout=4))]
    _, together = _replay(jobs, events)
    for job in jobs:
        _, alone = _replay([job], events)
        assert together[job.job] == alone[job.job], job.job
    # `short` expired at 20+30 and started again at d with a book of its own; `long` did not
    assert [(d["at"], d["book"]) for _, d in together["short"]][-3:] == [
        (100, ["d"]), (103, ["d", "e"]), (130, ["d", "e"])]
    assert together["long"][-1][1]["book"] == ["a", "b", "c", "d", "e"]

    stored, _, _ = line_events.fire_all(jobs, None, events[:1], 0, True, 0)
    assert stored["book"] == {"ids": ["a"]} and all("book" not in sub for sub in stored["subs"].values())
    stored, _, _ = line_events.fire_all(jobs, stored, events[1:2], 5, True, 0)
    assert stored["book"] == {"ids": ["a", "b"]}  # recorded once for the three jobs


def test_the_shared_book_goes_with_the_last_job_reading_it():
    jobs = [line_events.RuleSet("a", Reader(ttl=10)), line_events.RuleSet("b", Reader(ttl=20))]
    stored, _, _ = line_events.fire_all(jobs, None, [_event("x", 0)], 0, True, 0)
    stored, _, _ = line_events.fire_all(jobs, stored, [], 10, True, 0)  # a's TTL
    assert set(stored["subs"]) == {"b"} and stored["book"] == {"ids": ["x"]}
    stored, _, _ = line_events.fire_all(jobs, stored, [_event("y", 15)], 15, True, 0)
    assert stored["subs"]["a"]["book"] == {"ids": ["y"]} and stored["book"] == {"ids": ["x", "y"]}
    stored, _, _ = line_events.fire_all(jobs, stored, [], 35, True, 0)  # b's TTL (15 + 20)
    assert set(stored["subs"]) == {"a"} and "book" not in stored  # a keeps its own


def test_a_timer_outliving_its_jobs_state_finds_no_book_to_read():
    jobs = [line_events.RuleSet("a", Reader(timeout=50, ttl=10)), line_events.RuleSet("b", Reader(ttl=5))]
    stored, outputs = _replay(jobs, [_event("x", 0)])
    assert stored is None and [d["at"] for _, d in outputs["a"]] == [0]  # its state went at 10, before 50


def _line_events():
    po = {"kind": "PO", "event_id": "p1", "event_type": "PO_CREATED", "event_time": 0, "po_id": "PO-1", "po_line": 1,
          "version": 1, "supplier_id": "S", "warehouse_id": "W", "sku": "ABCD1234", "qty": 10,
          "promised_delivery_time": 100, "shipment_id": None, "carrier_id": None, "eta": None}

    def ship(eid, sid, t, event_type="DISPATCHED", qty=10, eta=90):
        return {**po, "kind": "SH", "event_id": eid, "event_type": event_type, "event_time": t, "version": None,
                "qty": qty, "promised_delivery_time": None, "shipment_id": sid, "carrier_id": "C", "eta": eta}

    def receipt(eid, sid, t, qty):
        return {**ship(eid, sid, t, "RECEIPT", qty, None), "kind": "RC", "carrier_id": None}

    day = 86_400_000
    return [ship("s0", "SH-0", 0), po, ship("s1", "SH-1", 10), ship("s2", "SH-1", 20 * 3_600_000, eta=50 * 3_600_000),
            ship("s3", "SH-1", 30 * 3_600_000, "DELIVERED"), receipt("r1", "SH-1", 31 * 3_600_000, 4),
            ship("s5", "SH-0", 32 * 3_600_000, "DELIVERED"),
            receipt("r2", "SH-1", 3 * day, 6), ship("s4", "SH-2", 4 * day), receipt("r3", "SH-2", 4 * day, 1)]


def test_the_per_line_jobs_sharing_the_line_book_write_what_each_writes_alone():
    """Matching, ETA and on-order over a line's life: an orphan, a late shipment, delivery,
    receipts, the line closed and its matching and ETA state expired (one day of TTL)
    while on-order still waits for receipts, then more events for the line."""
    from dataclasses import replace

    from jobs import core
    from supplyflow import config

    settings = replace(config.Settings(), matching_ttl_days=1)
    rule_sets = [rs for rs in _per_line_rule_sets(core, settings)]
    events = _line_events()
    stored, together = _replay(rule_sets, events)
    for rule_set in rule_sets:
        _, alone = _replay([rule_set], events)
        assert together[rule_set.job] == alone[rule_set.job], rule_set.job
    # closed at 32 h, matching's and ETA's state went at 32 h + 1 day and came back with
    # books of their own at r2; on-order, waiting for r2, kept the shared one
    subs = stored["subs"]
    assert "book" in subs["shipment-matching"] and "book" in subs["eta-exceptions"]
    assert "book" not in subs["on-order"] and len(stored["book"]["shipments"]) == 3
    assert set(subs["shipment-matching"]["book"]["shipments"]) == {"SH-2"}
    kinds = {(job, kind) for job, out in together.items() for kind, _ in out}
    assert {("shipment-matching", "alerts"), ("eta-exceptions", "alerts"), ("on-order", "on_order")} <= kinds


def _per_line_rule_sets(core, settings):
    from jobs import eta_exceptions, location_events, shipment_matching
    RuleSet = line_events.RuleSet
    return [RuleSet(shipment_matching.NAME, shipment_matching.rules(settings), shipment_matching.OUTPUTS),
            RuleSet(eta_exceptions.NAME, eta_exceptions.rules(settings), eta_exceptions.OUTPUTS),
            location_events.on_order_rules(settings)]


def test_matching_reads_the_state_an_older_build_stored_where_the_state_was_the_book():
    from jobs import shipment_matching
    from supplyflow import config

    rules = shipment_matching.rules(config.Settings())
    events = _line_events()
    state = None
    for event in events[:4]:
        state, _, _ = line_events.fire(rules, state, [event], event["event_time"], True, 0)
    old = copy.deepcopy({**state["book"], "emitted": state["emitted"], "emitted_line": state["emitted_line"]})
    if "expiry_timer" in state:
        old["expiry_timer"] = state["expiry_timer"]
    assert "book" not in old and old["versions"] and old["emitted"]
    now = events[4]
    assert (line_events.fire(rules, old, [now], now["event_time"], True, 0)
            == line_events.fire(rules, state, [now], now["event_time"], True, 0))


class OtherReader(Reader):
    """Reads a book of another kind (the events' times)."""

    book = line_events.Book(new=lambda event: {"ids": []},
                            apply=lambda book, event: book["ids"].append(event["event_time"]))


def test_only_jobs_reading_the_same_kind_of_book_share_it():
    jobs = [line_events.RuleSet("a", Reader()), line_events.RuleSet("b", OtherReader()),
            line_events.RuleSet("c", Reader())]
    events = [_event("x", 1), _event("y", 2)]
    stored, together = _replay(jobs, events)
    for job in jobs:
        assert together[job.job] == _replay([job], events)[1][job.job], job.job
    assert stored["book"] == {"ids": ["x", "y"]} and stored["subs"]["b"]["book"] == {"ids": [1, 2]}
    assert "book" not in stored["subs"]["a"] and "book" not in stored["subs"]["c"]
