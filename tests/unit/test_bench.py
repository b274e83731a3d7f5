"""The benchmark harness's own rules: when a step is held, percentiles, the report."""

import os

import pytest

from benchmarks import harness, suite

pytestmark = pytest.mark.unit


def _step(rate, lags, produced=None, seconds=100.0):
    step = harness.StepResult(rate=rate, started=0.0, ended=seconds,
                              produced=int(rate * seconds) if produced is None else produced)
    step.lag = [(float(t), n) for t, n in lags]
    return step


def test_a_step_whose_lag_stays_flat_is_held():
    step = _step(1000, [(t, 5000 + (t % 4) * 1000) for t in range(0, 100, 2)])
    assert abs(step.lag_slope) < 50
    assert step.held


def test_a_step_whose_lag_grows_is_not_held():
    # the system keeps up with 800 of 1000 events/s: lag grows by 200/s
    step = _step(1000, [(t, 200 * t) for t in range(0, 100, 2)])
    assert step.lag_slope == pytest.approx(200)
    assert not step.held


def test_a_step_that_falls_behind_slowly_over_five_minutes_is_not_held():
    # the suite of 2026-12-04 evening at 1,000/s: +31 records/s under the commits' sawtooth
    sawtooth = [(t, 4000 + (t % 5) * 1500) for t in range(0, 300, 2)]
    falling = _step(1000, [(t, n + 31 * t) for t, n in sawtooth], seconds=300.0)
    assert falling.lag_growth == pytest.approx(9300, rel=0.1)
    assert falling.final_lag < harness.HOLD_BACKLOG_S * 1000 * 2  # not caught by the backlog rule
    falling.stages = 2
    assert not falling.keeps_up and harness.ends_steps(falling)
    steady = _step(1000, sawtooth, seconds=300.0)
    steady.stages = 2
    assert abs(steady.lag_growth) < harness.HOLD_GROWTH_S * 1000 and steady.held


def test_a_large_backlog_or_a_slow_producer_is_not_held():
    assert not _step(1000, [(t, 20_000) for t in range(0, 100, 2)]).held  # flat, but 20 s behind
    assert not _step(1000, [(t, 0) for t in range(0, 100, 2)], produced=50_000).held  # producer reached 500/s


def test_a_step_the_harness_could_not_send_is_a_lower_bound_in_the_report():
    kept_up = _step(2000, [(t, 0) for t in range(0, 100, 2)], produced=150_000)  # the harness sent 1,500/s
    assert kept_up.keeps_up and kept_up.producer_short and not kept_up.held
    held = _step(1000, [(t, 0) for t in range(0, 100, 2)])
    system = {"steps": [held.summary(), kept_up.summary()], "sustained_rate": 1000, "state_bytes": 0}
    results = {"seconds_per_step": 100, "parallelism": 1, "cpus": 2, "latency_rate": 5000, "date": "d",
               "systems": {"passthrough": system}}
    text = suite.report(results)
    assert "| passthrough | 2,000 | 1,500 | no: harness short |" in text
    assert "| passthrough | ≥ 1,000 (kept up with all the harness could send) |" in text
    falling_behind = _step(2000, [(t, 500 * t) for t in range(0, 100, 2)], produced=150_000)
    system["steps"][1] = falling_behind.summary()
    assert "| passthrough | 2,000 | 1,500 | no |" in suite.report(results)
    assert "| passthrough | 1,000 |" in suite.report(results)


def test_steps_end_where_the_system_falls_behind_not_where_the_harness_is_short():
    assert harness.ends_steps(_step(1000, [(t, 200 * t) for t in range(0, 100, 2)]))  # lag grows
    assert harness.ends_steps(_step(1000, [(t, 20_000) for t in range(0, 100, 2)]))  # 20 s behind
    harness_short = _step(750, [(t, 0) for t in range(0, 100, 2)], produced=69_200)  # 692/s sent
    assert not harness_short.held and not harness.ends_steps(harness_short)
    assert not harness.ends_steps(_step(1000, [(t, 0) for t in range(0, 100, 2)]))


def test_a_steps_flush_time_is_in_its_summary():
    step = _step(750, [(t, 0) for t in range(0, 100, 2)], produced=69_200)
    step.flush_s = 24.96
    assert step.summary()["flush_s"] == 25.0
    assert "its producer's flush took 25.0 s" in harness._why(step)


def test_steal_is_the_share_of_the_machines_cpu_time_between_two_readings():
    before = harness.host_cpu_times("cpu  100 0 50 800 0 0 0 50 0 0\ncpu0 1 2 3 4 5 6 7 8\n")
    after = harness.host_cpu_times("cpu  200 0 100 1500 0 0 0 200 0 0\n")
    assert before == (50, 1000, 800) and after == (200, 2000, 1500)
    assert harness.steal_between(before, after) == pytest.approx(0.15)
    assert harness.steal_between(None, after) is None
    step = _step(1000, [(t, 0) for t in range(0, 100, 2)])
    step.steal_share = 0.15
    assert step.summary()["steal_pct"] == 15.0


def test_the_machines_busy_cpu_is_neither_idle_iowait_nor_steal():
    # user nice system idle iowait irq softirq steal: 1,000 jiffies pass, 600 idle, 100
    # waiting for I/O, 100 stolen; 200 busy
    before = harness.host_cpu_times("cpu  100 0 50 800 0 0 0 50 0 0\n")
    after = harness.host_cpu_times("cpu  250 0 100 1400 100 0 0 150 0 0\n")
    tick = os.sysconf("SC_CLK_TCK")
    assert harness.busy_cpu_s_between(before, after) == pytest.approx(200 / tick)
    assert harness.busy_cpu_s_between(before, None) is None
    step = _step(1000, [(t, 0) for t in range(0, 100, 2)])  # 100,000 records in 100 s
    step.machine_cpu_s, step.services_cpu_s = 150.0, {"Kafka": 3.0, "PostgreSQL": 1.0}
    summary = step.summary()
    assert (summary["machine_cores"], summary["machine_cpu_s_per_million"]) == (1.5, 1500)
    assert summary["services_cpu_s_per_million"] == {"Kafka": 30, "PostgreSQL": 10}
    results = {"seconds_per_step": 100, "parallelism": 1, "cpus": 2, "latency_rate": 1000, "date": "d",
               "systems": {"suite": {"steps": [summary], "sustained_rate": 1000, "state_bytes": 0}}}
    assert "| Kafka CPU s / M | PostgreSQL CPU s / M | machine busy cores |" in suite.report(results)
    assert "| 30 | 10 | 1.5 |" in suite.report(results)


def test_each_consuming_stage_may_lag_a_commit_behind():
    step = _step(1000, [(t, 20_000) for t in range(0, 100, 2)])
    step.stages = 5  # the suite: five jobs in a row, each committing with its checkpoints
    assert step.held


def test_percentiles_are_nearest_rank_and_none_without_outputs():
    step = _step(10, [])
    assert step.percentile(99) is None
    step.latencies_ms = [float(i) for i in range(1, 101)]
    assert (step.percentile(50), step.percentile(99)) == (51.0, 100.0)
    assert step.summary()["p95_ms"] == 96


def test_report_names_the_ratios_and_unreached_rates():
    def system(rates_held, p99):
        steps = []
        for rate, held in rates_held:
            s = _step(rate, [(t, 0 if held else 100 * rate * t) for t in range(0, 100, 2)])
            s.latencies_ms = [p99]
            steps.append(s.summary())
        return {"steps": steps, "sustained_rate": max(r for r, h in rates_held if h), "state_bytes": 2_000_000}

    results = {"seconds_per_step": 100, "parallelism": 1, "cpus": 2, "latency_rate": 2000, "date": "d",
               "systems": {"suite": system([(1000, True), (2000, False)], 900.0),
                           "passthrough": system([(1000, True), (2000, True), (4000, True)], 300.0)}}
    text = suite.report(results)
    assert "| suite | 2,000 | 2,000 | no |" in text
    assert "| suite | 1,000 | 900 ms (rate not held) | 2.0 MB |" in text
    # the pass-through held every rate tried: its figure is a lower bound, the ratio an upper one
    assert "| passthrough | ≥ 4,000 (every rate tried held) | 300 ms | 2.0 MB |" in text
    assert "suite / pass-through, sustained throughput: ≤ 0.25" in text
    results["latency_rate"] = 4000
    assert "| suite | 1,000 | rate not reached |" in suite.report(results)
    results["systems"]["passthrough"] = system([(1000, True), (2000, True), (4000, False)], 300.0)
    assert "suite / pass-through, sustained throughput: 0.50" in suite.report(results)


def test_latency_per_output_topic_at_the_highest_held_rate_and_state_per_job():
    low, high = (_step(rate, [(t, 0) for t in range(0, 100, 2)]) for rate in (1000, 2000))
    low.by_output = {"scm.alerts.eta": [5.0]}
    high.by_output = {"scm.alerts.eta": [float(i) for i in range(1, 101)], "scm.alerts.reorder": [7000.0]}
    results = {"seconds_per_step": 100, "parallelism": 1, "cpus": 2, "latency_rate": 2000, "date": "d",
               "systems": {"suite": {"steps": [low.summary(), high.summary()], "sustained_rate": 2000,
                                     "state_bytes": 3_500_000, "state_by_job": {"edge": 500_000, "inventory": 3e6}}}}
    text = suite.report(results)
    assert "| suite | 2,000 | scm.alerts.eta | 100 | 51 | 100 |" in text
    assert "| suite | 2,000 | scm.alerts.reorder | 1 | 7,000 | 7,000 |" in text
    assert "| suite | 1,000 | scm.alerts.eta |" not in text
    assert "suite state by job: edge 0.5 MB, inventory 3.0 MB" in text


def test_process_cost_counts_the_processes_the_system_started():
    import os
    import subprocess

    child = subprocess.Popen(["sleep", "30"])  # as a TaskManager starts its Python workers
    try:
        assert child.pid in harness.ProcessCost(lambda: [os.getpid()]).pids()
        assert child.pid not in harness.ProcessCost(lambda: [child.pid + 10**7]).pids()
    finally:
        child.kill()
        child.wait()


def test_timeout_alerts_are_timed_apart_from_the_steps_latency():
    step = _step(1000, [(0, 0), (100, 0)])
    step.started, step.ended = 10.0, 20.0
    timed = [(12.0, 800.0, "ns.scm.alerts.eta", "ETA_VARIANCE"),
             (13.0, 90_000.0, "ns.scm.alerts.eta", "STALE_TRACKING"),
             (15.0, 1200.0, "ns.bench.passthrough", None),
             (25.0, 5.0, "ns.scm.alerts.eta", "ETA_VARIANCE")]  # sent after the step
    harness.assign_latencies(step, timed, "ns")
    assert sorted(step.latencies_ms) == [800.0, 1200.0]  # the deadline-driven alert is not in them
    assert step.by_output == {"scm.alerts.eta ETA_VARIANCE": [800.0], "scm.alerts.eta STALE_TRACKING": [90_000.0],
                              "bench.passthrough": [1200.0]}


def test_the_rules_replay_drives_cores_rules_as_the_bounded_jobs_do():
    # the replay's alerts are the reference's (the rules applied per instant in event
    # time, benchmarks/peer/reference.py), so what it times is the work the operators do
    from benchmarks import rules
    from benchmarks.peer import reference
    from supplyflow import config
    from testdata import generator

    records = generator.generate("demo", seed=7, size=3000).records
    result = rules.replay(records, config.settings())
    expected = reference.flink_reference(records)
    types = {a["alert_type"] for a in expected}
    assert {"ETA_VARIANCE", "LATE_DELIVERY", "COUNT_VARIANCE"} <= types
    assert {a["alert_id"] for a in result["alerts"] if a["alert_type"] in types} == {a["alert_id"] for a in expected}
    assert result["per-location"]["events"] > result["per-line"]["events"] // 4  # movements and on-order rows
    assert all(result[stage]["ns"][part] > 0 for stage in ("per-line", "per-location") for part in rules.PARTS)
    # each instant with events fires once; rule deadlines (ETA's stale tracking) fire without
    line = result["per-line"]["ns"]
    assert 0 < line["instants"] <= result["per-line"]["events"] and line["timer-only"] > 0


def test_the_kafka_settings_translate_to_librdkafka_properties():
    cfg = {"bootstrap_servers": ["b1:9093", "b2:9093"], "security_protocol": "SASL_SSL",
           "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "bench", "sasl_plain_password": "s3cret",
           "ssl_cafile": "/etc/ca.pem"}
    assert harness.librdkafka_config(cfg) == {
        "bootstrap.servers": "b1:9093,b2:9093", "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "bench", "sasl.password": "s3cret", "ssl.ca.location": "/etc/ca.pem"}
    assert harness.librdkafka_config({"bootstrap_servers": "localhost:9092"}) == {"bootstrap.servers": "localhost:9092"}
    # a setting it cannot translate fails, named by its key and never by its value
    with pytest.raises(ValueError, match="ssl_certfile") as failed:
        harness.librdkafka_config({"bootstrap_servers": ["b:1"], "ssl_certfile": "/secret/path.pem"})
    assert "/secret/path.pem" not in str(failed.value)


def test_every_kafka_setting_of_the_project_has_a_librdkafka_property(monkeypatch):
    from supplyflow import config

    for name, value in {"SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "PLAIN", "SASL_USERNAME": "u",
                        "SASL_PASSWORD": "p", "SSL_CAFILE": "/ca.pem"}.items():
        monkeypatch.setenv(f"SUPPLYFLOW_KAFKA_{name}", value)
    props = harness.librdkafka_config(config.Settings(kafka_bootstrap="a:1,b:2").kafka_client_config())
    assert props == {"bootstrap.servers": "a:1,b:2", "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
                     "sasl.username": "u", "sasl.password": "p", "ssl.ca.location": "/ca.pem"}


def test_fields_are_read_cheaply_but_as_json_loads_reads_them():
    alert = (b'{"alert_type":"ETA_VARIANCE","trigger_event_id":"e-1","details":{"trigger_event_id":"inner"},'
             b'"po_line":3}')
    assert harness.fields_of(alert, "trigger_event_id", "alert_type", "po_line", "missing") == [
        "e-1", "ETA_VARIANCE", None, None]  # top-level strings only; a number is no event id
    nested_only = b'{"details":{"trigger_event_id":"inner","alert_type":"X"}}'
    assert harness.fields_of(nested_only, "trigger_event_id", "alert_type") == [None, None]
    assert harness.fields_of(b'{"event_id":"x","event_id":"y"}', "event_id") == ["y"]  # the last, as json.loads
    for value in (None, b"", b"not json", b'{"event_id":"x"', b'["event_id"]', b'"event_id"', b"null", b"42",
                  b'{"event_id":"x"} trailing', b'{"event_id":"x","q":' + b"9" * 5000 + b"}",
                  b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000, b'{"event_id":"\xff"}',
                  b'{"event_id":null}', b'{"event_id":7}', b'{"event_id":true}', b'{"event_id":["x"]}',
                  b'{"event_id":{"id":"x"}}', 42, "not bytes either"):
        assert harness.fields_of(value, "event_id", "alert_type") == [None, None], value
    # what orjson refuses and json.loads reads: json.loads's answer, as before
    assert harness.field_of(b'{"event_id":"x","q":NaN}', "event_id") == "x"
    assert harness.field_of('{"event_id":"x"}'.encode("utf-16"), "event_id") == "x"
    assert harness.field_of(b'\xef\xbb\xbf{"event_id":"x"}', "event_id") == "x"
    assert harness.field_of(b'{"event_id":"\\ud800"}', "event_id") == "\ud800"
    assert harness.field_of('{"event_id":"é"}', "event_id") == "é"


def test_fields_agree_with_json_loads_on_the_scenarios_records():
    import json

    from testdata import generator

    def reference(value, *names):  # the harness's fields_of until confluent-kafka: json.loads per record
        try:
            doc = json.loads(value)
            found = [doc.get(name) for name in names]
        except (ValueError, AttributeError, TypeError, RecursionError):
            return [None] * len(names)
        return [v if isinstance(v, str) else None for v in found]

    records = generator.generate("faults", seed=3, size=2000).records  # mostly bad records, every kind
    names = ("event_id", "event_type", "sku", "alert_type")
    assert all(harness.fields_of(r.value, *names) == reference(r.value, *names) for r in records)
    assert sum(harness.field_of(r.value, "event_id") is None for r in records) > 100


def test_the_producer_reports_records_it_could_not_deliver():
    import dataclasses

    from supplyflow import config
    from supplyflow.errors import SupplyflowError

    nowhere = dataclasses.replace(config.Settings(), kafka_bootstrap="127.0.0.1:1")  # no broker: nothing arrives
    producer = harness.PacedProducer(nowhere, **{"message.timeout.ms": 200, "log_level": 0})
    try:
        producer.check()  # nothing failed yet
        producer.produce("bench.nowhere", b'{"event_id":"x"}', b"k")
        producer.flush()
        assert producer.failed == 1 and "bench.nowhere" in producer.first_failure
        with pytest.raises(SupplyflowError, match="could not deliver 1 records"):
            producer.check()
    finally:
        producer.close()


def test_thread_cpu_is_read_per_thread_name_from_a_thread_dump():
    from benchmarks import threads

    dump = '''2026-12-06 08:00:00
Full thread dump OpenJDK 64-Bit Server VM (17.0.15+6 mixed mode, sharing):

"core-per-line -> (*anonymous_datastream_source$3*[27] -> Calc[28]) (1/1)#0" #97 prio=5 os_prio=0 cpu=61234.50ms \
elapsed=300.10s tid=0x1 nid=0x2 runnable
   java.lang.Thread.State: RUNNABLE

"kafka-producer-network-thread | producer-1" #101 daemon prio=5 cpu=1.50s elapsed=10.00s tid=0x3 runnable
"kafka-producer-network-thread | producer-1" #102 daemon prio=5 cpu=500.00ms elapsed=10.00s tid=0x5 runnable
"VM Thread" os_prio=0 cpu=12.00ms elapsed=300.00s tid=0x7 nid=0x8 runnable
'''
    cpu = threads.thread_cpu(dump)
    assert cpu["core-per-line -> (*anonymous_datastream_source$3*[27] -> Calc[28]) (1/1)#0"] == pytest.approx(61.2345)
    assert cpu["kafka-producer-network-thread | producer-1"] == pytest.approx(2.0)  # two threads of one name
    assert cpu["VM Thread"] == pytest.approx(0.012)
    assert threads.label("core-per-line -> Calc[28] (1/1)#0") == "core-per-line -> Calc[#] (#/#)##"


def test_the_warm_up_covers_the_opening_setup():
    # every location's initial policy and opening balance open the scenario; measured
    # steps start right after the last of them, in the steady mix
    from supplyflow import config
    from testdata import generator

    records = generator.generate("demo", seed=7, size=3000).records
    end = suite.setup_end(records)

    def setup(r) -> bool:
        return r.expect == "valid" and ("initial policy" in r.note or "opening balance" in r.note)

    assert 20 < end < 0.2 * len(records) and setup(records[end - 1])
    assert sum(map(setup, records[:end])) > 20 and not any(map(setup, records[end:]))
    assert any(r.topic == config.SHIPMENT_EVENTS for r in records[end:])
    # a large run also lets the first deliveries catch up before it measures
    steady = suite.steady_start(records)
    delivered = [i for i, r in enumerate(records) if r.expect == "valid" and r.note.startswith("DELIVERED")]
    assert end < steady < len(records) and delivered[0] < steady
    assert sum(i >= steady for i in delivered) > 0.3 * len(delivered)


@pytest.mark.parametrize("topic, mine", [
    ("bpeer1a2b3c.scm.purchase-orders", True),
    ("bpeer1a2b3c.peer.alerts", True),
    # the peer's Quix Streams stores: a changelog per store, named after its group and topic
    ("changelog__bpeer1a2b3c-peer--bpeer1a2b3c.peer.by-line--default", True),
    ("repartition__bpeer1a2b3c-peer--bpeer1a2b3c.peer.by-line--x", True),
    # another namespace's, the default namespace's, Kafka's own
    ("changelog__bpeer9f9f9f-peer--bpeer9f9f9f.peer.by-line--default", False),
    ("bpeer1a2b3cd.scm.purchase-orders", False),
    ("scm.purchase-orders", False),
    ("__consumer_offsets", False),
])
def test_a_benchmark_namespace_owns_its_topics_and_its_peers_changelogs(topic, mine):
    """drop_namespace deletes these: each peer run left its changelogs (1-3 GB) on the
    broker's disk."""
    from supplyflow import stack

    assert stack.in_namespace(topic, "bpeer1a2b3c") is mine


def test_the_host_speed_probe_times_both_walks_and_the_report_shows_it():
    from benchmarks import probe

    assert probe.loop_s(20_000) > 0 and probe.chase_s(50_000, 20_000) > 0
    step = _step(1000, [(t, 0) for t in range(0, 100, 2)])
    system = {"steps": [step.summary()], "sustained_rate": 1000, "state_bytes": 0,
              "machine_speed": {"before": {"loop_s": 0.371, "chase_s": 1.412},
                                "after": {"loop_s": 0.374, "chase_s": 1.147}}}
    results = {"seconds_per_step": 100, "parallelism": 1, "cpus": 2, "latency_rate": 5000, "date": "d",
               "systems": {"suite": system}}
    assert "suite loop 0.37 → 0.37 s, memory chase 1.41 → 1.15 s" in suite.report(results)
    del system["machine_speed"]  # a run recorded before the probe existed
    assert "memory chase" not in suite.report(results)
