"""The edge job end to end: Kafka → Flink (MiniCluster) → Kafka (exactly-once) + PostgreSQL.

Every case is one raw record; the expected outcome is "valid" (it reaches
scm.valid.<topic> once, normalized), "duplicate" (dropped, not dead-lettered) or the
SPEC §3 error code it must carry in the DLQ topic and table.
"""

from __future__ import annotations

import base64
import json

import psycopg
import pytest

from supplyflow import config, kafka_io, runner

pytestmark = pytest.mark.integration

MOVE = {"event_id": "mv-1", "event_type": "RECEIPT", "event_time": "2026-10-01T10:00:00+02:00",
        "source_system": "wms", "sku": "abc-123_45", "warehouse_id": "WH1", "quantity": 2, "uom": "cs"}
PO = {"event_id": "po-1", "event_type": "PO_CREATED", "event_time": 1790841600000, "source_system": "erp",
      "po_id": "PO-1", "po_line": 1, "version": 1, "supplier_id": "SUP1", "warehouse_id": "WH1",
      "sku": "ABCD1234", "ordered_qty": 5, "uom": "DZ", "promised_delivery_time": "2026-10-04T10:00:00Z"}
POLICY = {"event_id": "pol-1", "event_type": "POLICY_SET", "event_time": "2026-10-01T00:00:00Z",
          "source_system": "planning", "sku": "ABCD1234", "warehouse_id": "WH1", "reorder_point": 10,
          "order_up_to": 50, "min_order_qty": 5, "safety_stock": 4, "lead_time_days": 2.5}
SHIP = {"event_id": "sh-1", "event_type": "DISPATCHED", "event_time": "2026-10-02T08:00:00Z", "source_system": "tms",
        "shipment_id": "SH-1", "po_id": "PO-1", "po_line": 1, "sku": "ABCD1234", "shipped_qty": 60, "uom": "EA",
        "carrier_id": "DHL", "warehouse_id": "WH1", "eta": "2026-10-04T09:00:00Z"}


def j(base: dict, **changes) -> bytes:
    """base with changes applied (None removes a field), as JSON bytes."""
    obj = {k: v for k, v in {**base, **changes}.items() if v is not None}
    return json.dumps(obj).encode()


M, P, S, R = config.INVENTORY_MOVEMENTS, config.PURCHASE_ORDERS, config.SHIPMENT_EVENTS, config.REORDER_POLICIES
CASES = [  # (topic, value, expected) — one edge case each
    (M, j(MOVE), "valid"),
    (M, j(MOVE), "duplicate"),                                              # producer retry: same event_id
    (P, j(PO), "valid"),
    (R, j(POLICY), "valid"),
    (S, j(SHIP), "valid"),
    (M, j(MOVE, event_id="mv-adj", event_type="ADJUSTMENT", quantity=-3), "valid"),  # signed adjustment
    (M, j(MOVE, event_id="mv-half", quantity=0.5, uom="CS"), "valid"),      # 0.5 CS = 12 EA is whole
    (M, b"not json", "INVALID_JSON"),
    (M, b'{"event_id": "trunc', "INVALID_JSON"),                            # truncated
    (P, b"\xff\xfe{}", "INVALID_JSON"),                                     # not UTF-8 -> base64
    (P, None, "INVALID_JSON"),                                              # tombstone
    (S, b"", "INVALID_JSON"),                                               # empty
    (S, b"[1, 2]", "INVALID_JSON"),                                         # array
    (R, b"42", "INVALID_JSON"),                                             # scalar
    (M, b"[" * 5000 + b"]" * 5000, "INVALID_JSON"),                         # nested thousands deep
    (M, j(MOVE, event_id="nan").replace(b'"quantity": 2', b'"quantity": NaN'), "INVALID_JSON"),
    (M, j(MOVE, event_id="dup-key").replace(b'"quantity": 2', b'"quantity": 2, "quantity": 3'), "INVALID_JSON"),
    (M, j(MOVE, event_id="big").replace(b'"quantity": 2', b'"quantity": ' + b"9" * 5000), "SCHEMA_VIOLATION"),
    (M, j(MOVE, event_id="bool-qty", quantity=True), "SCHEMA_VIOLATION"),    # boolean for a number
    (M, j(MOVE, event_id="str-qty", quantity="2"), "SCHEMA_VIOLATION"),      # wrong type
    (M, j(MOVE, event_id="no-sku", sku=None), "SCHEMA_VIOLATION"),           # missing field
    (M, j(MOVE, event_id="bad-type", event_type="STOLEN"), "SCHEMA_VIOLATION"),
    (S, j(SHIP, event_id="no-eta", eta=None), "SCHEMA_VIOLATION"),           # eta required for DISPATCHED
    (P, j(PO, event_id="cancel", event_type="PO_CANCELLED", sku=None, ordered_qty=None, uom=None), "valid"),
    (M, j(MOVE, event_id="naive", event_time="2026-10-01T10:00:00"), "INVALID_TIMESTAMP"),
    (M, j(MOVE, event_id="us-date", event_time="10/01/2026 10:00"), "INVALID_TIMESTAMP"),
    (M, j(MOVE, event_id="bad-sku", sku="ABC-123"), "INVALID_SKU"),
    (M, j(MOVE, event_id="bad-uom", uom="BOX"), "UNKNOWN_UOM"),
    (M, j(MOVE, event_id="neg", quantity=-1), "NEGATIVE_QUANTITY"),
    (M, j(MOVE, event_id="frac", quantity=1.5, uom="EA"), "FRACTIONAL_QUANTITY"),
    (R, j(POLICY, event_id="bad-policy", order_up_to=5), "INVALID_POLICY"),
    (M, j(MOVE, event_id="two-faults", sku="x", uom="BOX"), "INVALID_SKU"),  # precedence: first code wins
    (M, j(MOVE, event_id="big-pad", pad="x" * 900_000), "valid"),             # near the broker's 1 MB limit
    (M, j(MOVE, event_id="big-bad", pad="x" * 900_000, sku="x"), "INVALID_SKU"),
    (M, j(MOVE, event_id="late-1", event_time="2026-10-01T06:00:00Z"), "valid"),  # 2 h behind: late, kept
]


def produce_cases(settings) -> dict[tuple[str, int, int], tuple]:
    """Produce CASES; returns (topic, partition, offset) -> case."""
    from kafka import KafkaProducer

    producer = KafkaProducer(**settings.kafka_client_config(), acks="all", max_request_size=2_000_000)
    sent = {}
    for case in CASES:
        topic, value, _ = case
        meta = producer.send(settings.topic(topic), key=b"k", value=value).get(timeout=30)
        sent[(meta.topic, meta.partition, meta.offset)] = case
    producer.close()
    return sent


@pytest.fixture(scope="module")
def edge_run(ns_settings):
    """CASES produced and run through the edge job, bounded."""
    sent = produce_cases(ns_settings)
    runner.run(["edge"], ns_settings, bounded=True, parallelism=1)
    return sent


def expected_dlq(sent) -> dict[str, dict]:
    out = {}
    for (topic, partition, offset), (_, value, expect) in sent.items():
        if expect in ("valid", "duplicate"):
            continue
        try:
            text, encoding = (value.decode("utf-8"), None) if value is not None else (None, None)
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(value).decode(), "base64"
        out[f"{topic}:{partition}:{offset}"] = {
            "source_topic": topic, "source_partition": partition, "source_offset": offset,
            "key": "k", "value": text, "value_encoding": encoding, "error_code": expect,
        }
    return out


def test_dlq_topic_has_each_rejected_record_exactly_once(edge_run, ns_settings):
    records = kafka_io.read_all(ns_settings, ns_settings.topic(config.DLQ_TOPIC))
    expected = expected_dlq(edge_run)
    got = [json.loads(r.value) for r in records]
    assert sorted(g["dlq_id"] for g in got) == sorted(expected)  # exactly once each, nothing else
    for record, value in zip(records, got, strict=False):
        assert record.key.decode() == value["source_topic"]  # SPEC §3: key = source topic
        assert {k: value[k] for k in expected[value["dlq_id"]]} == expected[value["dlq_id"]]
        assert value["error_detail"] and value["detected_at"].endswith("Z") and value["source_timestamp"] > 0
        assert len(record.value) < 1_048_576  # a DLQ record fits the producer's maximum request size


def test_dlq_table_matches_topic(edge_run, ns_settings):
    expected = expected_dlq(edge_run)
    with psycopg.connect(**ns_settings.pg_conninfo()) as conn:
        rows = conn.execute(
            "select dlq_id, source_topic, source_partition, source_offset, key, value, value_encoding, error_code"
            " from scm.dlq_events"
        ).fetchall()
    names = ["source_topic", "source_partition", "source_offset", "key", "value", "value_encoding", "error_code"]
    assert {r[0]: dict(zip(names, r[1:], strict=False)) for r in rows} == expected


def test_error_detail_names_the_field(edge_run, ns_settings):
    with psycopg.connect(**ns_settings.pg_conninfo()) as conn:
        details = dict(conn.execute("select error_code, error_detail from scm.dlq_events"
                                    " where error_code <> 'INVALID_JSON'").fetchall())
    assert details["INVALID_SKU"].startswith("$.sku")
    assert details["UNKNOWN_UOM"].startswith("$.uom")
    assert details["INVALID_POLICY"].startswith("$.order_up_to")
    assert details["INVALID_TIMESTAMP"].startswith("$.event_time")


def test_valid_records_flow_once_normalized(edge_run, ns_settings):
    valid = {}
    for topic, valid_topic in config.VALID_TOPICS.items():
        for r in kafka_io.read_all(ns_settings, ns_settings.topic(valid_topic)):
            event = json.loads(r.value)
            valid[event["event_id"]] = (topic, r.key.decode(), event)
    expected_ids = sorted(json.loads(v)["event_id"] for (_, v, e) in CASES if e == "valid")
    assert sorted(valid) == expected_ids  # duplicates dropped, not dead-lettered
    topic, key, move = valid["mv-1"]
    assert (topic, key) == (config.INVENTORY_MOVEMENTS, "ABC12345|WH1")
    assert move["sku"] == "ABC12345" and move["quantity"] == 48 and move["uom"] == "EA"
    assert move["event_time"] == 1790841600000  # 10:00+02:00 = 08:00Z, epoch ms
    assert valid["mv-half"][2]["quantity"] == 12 and valid["mv-adj"][2]["quantity"] == -72  # -3 CS
    assert valid["po-1"][2]["ordered_qty"] == 60 and valid["po-1"][1] == "PO-1"
    assert valid["pol-1"][2]["lead_time_days"] == 2.5


def test_second_bounded_run_adds_nothing(edge_run, ns_settings):
    """The edge resumes from its committed offsets: nothing is dead-lettered or passed twice."""
    valid_before = {t: len(kafka_io.read_all(ns_settings, ns_settings.topic(t))) for t in config.VALID_TOPICS.values()}
    runner.run(["edge"], ns_settings, bounded=True, parallelism=2)
    dlq = kafka_io.read_all(ns_settings, ns_settings.topic(config.DLQ_TOPIC))
    assert len(dlq) == len(expected_dlq(edge_run))
    assert {t: len(kafka_io.read_all(ns_settings, ns_settings.topic(t))) for t in config.VALID_TOPICS.values()} \
        == valid_before
    with psycopg.connect(**ns_settings.pg_conninfo()) as conn:
        count, distinct = conn.execute("select count(*), count(distinct dlq_id) from scm.dlq_events").fetchone()
    assert count == distinct == len(expected_dlq(edge_run))


def test_metrics_count_by_code_and_no_restart(namespaces):
    """Live job: the supplyflow counters reach exactly the case counts, and the dedup
    operator dropped the one duplicate (Prometheus reporter)."""
    import time
    from collections import Counter

    from supplyflow import metrics

    ns_settings = namespaces()
    produce_cases(ns_settings)
    want_rejected = Counter((t, e) for t, _, e in CASES if e not in ("valid", "duplicate"))
    want_accepted = Counter(t for t, _, e in CASES if e in ("valid", "duplicate"))  # counted before dedup
    result = runner.submit("edge", ns_settings, bounded=False)
    try:
        deadline = time.monotonic() + 180
        got: dict = {}
        while time.monotonic() < deadline:
            got = metrics.supplyflow_counters(runner.job_name("edge", ns_settings))
            duplicates = metrics.job_report(runner.job_name("edge", ns_settings))["duplicates"]
            restarts = metrics.job_metric(runner.job_name("edge", ns_settings), "numRestarts")
            if sum(got.get("rejected", {}).values()) >= sum(want_rejected.values()) and \
                    sum(got.get("accepted", {}).values()) >= sum(want_accepted.values()) and duplicates \
                    and restarts is not None:
                break
            time.sleep(0.5)  # polling the reporter for a condition, bounded by the deadline
    finally:
        result.get_job_client().cancel().result()
    assert got.get("rejected") == {k: float(v) for k, v in want_rejected.items()}
    assert got.get("accepted") == {(t,): float(n) for t, n in want_accepted.items()}
    assert {k: v for k, v in got.get("late", {}).items() if v} == {(config.INVENTORY_MOVEMENTS,): 1.0}
    assert restarts == 0  # no input made the job fail
    assert duplicates == 1  # the dedup operator's records in minus out: the one producer retry
