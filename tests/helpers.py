"""Helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys

# The environment a user's shell would give the CLI, taken before any test ran Flink in
# this process: embedded Flink leaves variables behind in os.environ (FLINK_LIB_DIR,
# PYFLINK_GATEWAY_DISABLED, even JAVA_HOME=""), which would mislead a new Flink client.
_USER_ENV = dict(os.environ)


def user_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of the user's environment plus `extra`."""
    return dict(_USER_ENV, **(extra or {}))


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `supplyflow ARGS` in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "supplyflow.cli", *args], capture_output=True, text=True,
                          env=user_env(env), timeout=timeout)


def why_failed(out: subprocess.CompletedProcess) -> str:
    """What a failed CLI run said: its stdout's end, every line of stderr that names an
    error (a Java exception's message and its causes sit above a stack too long for a
    tail) and stderr's end."""
    named = [line for line in out.stderr.splitlines()
             if not line.lstrip().startswith("at ") and ("Error" in line or "Exception" in line or "Caused by" in line)]
    return "\n".join([out.stdout[-1500:], "-- errors named on stderr:", *named[:40], "-- stderr's end:",
                      out.stderr[-1500:]])


def assert_one_line_error(out: subprocess.CompletedProcess, *needles: str) -> None:
    """The CLI failed with exactly one line on stderr, no traceback, naming each needle."""
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("supplyflow: error: "), out.stderr
    for needle in needles:
        assert needle in lines[0]


def ns_env(settings) -> dict[str, str]:
    """Environment variables that point the CLI at a test namespace (topics and database)."""
    return {"SUPPLYFLOW_NAMESPACE": settings.namespace, "SUPPLYFLOW_PG_DB": settings.pg_db}


def tableau_rows(text: str) -> list[tuple[str, ...]]:
    """The data rows of the SQL client's tableau output (header rows dropped)."""
    rows = [tuple(c.strip() for c in line.strip().strip("|").split("|")) for line in text.splitlines()
            if line.startswith("|")]
    return [r for r in rows[1:] if r != rows[0]]


def produce_and_run(settings, records, jobs: list[str], parallelism: int = 1):
    """Produce records into the namespace's input topics, then run `jobs` bounded."""
    from supplyflow import runner
    from supplyflow.produce import produce

    produce(settings, records, progress=False)
    runner.run(jobs, settings, bounded=True, parallelism=parallelism)
    return settings


def output_snapshot(settings) -> dict[str, list[tuple]]:
    """Every output table without its wall-clock columns, in key order."""
    import psycopg

    queries = {
        "po_lines": "select po_id, po_line, status, version, shipped_qty, delivered_qty, received_qty, open_qty,"
                    " fulfillment_status, last_event_time from scm.po_lines order by 1, 2",
        "shipment_status": "select shipment_id, match_status, status, current_eta, delivered_time,"
                           " eta_variance_minutes, eta_severity from scm.shipment_status order by 1",
        "inventory_positions": "select sku, warehouse_id, on_hand, on_order, position, last_event_time"
                               " from scm.inventory_positions order by 1, 2",
        "inventory_flow_hourly": "select * from scm.inventory_flow_hourly order by 1, 2, 3",
        "alerts": "select alert_id, severity, event_time, trigger_event_id, message, details"
                  " from scm.alerts order by 1",
        # dlq_id starts with the (namespaced) topic name
        "dlq_events": "select regexp_replace(dlq_id, '^[^.]*[.]', ''), error_code, error_detail"
                      " from scm.dlq_events order by 1",
    }
    with psycopg.connect(**settings.pg_conninfo()) as conn:
        return {name: conn.execute(q).fetchall() for name, q in queries.items()}


def topic_snapshot(settings, status: bool = False) -> dict:
    """Every committed record of the alert topics and the position topic (`status`: and
    the shipment-status topic), wall-clock fields dropped, as a Counter per topic (one
    for one: a duplicate counts twice)."""
    import json
    from collections import Counter

    from supplyflow import config, kafka_io

    out = {}
    for topic in (config.ALERTS_ETA, config.ALERTS_MATCHING, config.ALERTS_INVENTORY, config.ALERTS_REORDER,
                  config.INVENTORY_POSITIONS_TOPIC) + ((config.SHIPMENT_STATUS_TOPIC,) if status else ()):
        docs = [json.loads(r.value) for r in kafka_io.read_all(settings, settings.topic(topic))]
        out[topic] = Counter(json.dumps({k: v for k, v in d.items() if k not in ("detected_at", "updated_at")},
                                        sort_keys=True) for d in docs)
    return out


def wait_for(condition, what: str, timeout_s: float = 240, describe=lambda: ""):
    """Poll `condition` until it returns something true (returned), or fail naming `what`
    (and `describe()`) after `timeout_s`. An OSError counts as "not yet" (a service that
    is restarting)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except OSError:
            pass
        time.sleep(1)  # polling for a condition, bounded by the deadline; not a fixed delay
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} {describe()}")


def entity_key(record) -> bytes | None:
    """The key the edge writes the event under (valid topics), so that each valid partition
    holds one raw partition's keys in their produce order; bad records keep theirs."""
    import json

    from supplyflow import config

    if record.expect not in ("valid", "duplicate"):
        return record.key
    e = json.loads(record.value)
    if record.topic in (config.INVENTORY_MOVEMENTS, config.REORDER_POLICIES):
        return f"{e['sku'].upper().replace('-', '').replace('_', '')}|{e['warehouse_id']}".encode()
    return (e["po_id"] if record.topic == config.PURCHASE_ORDERS else e["shipment_id"]).encode()


def watermark_ticks(event_time: int, tag: str) -> list:
    """One valid event per partition of every input topic at `event_time`, its ids carrying
    `tag`: every source's watermark reaches the same point live as in a bounded run (whose
    final watermark is the greatest event time minus the bound)."""
    import json
    import time

    from kafka.partitioner.default import murmur2

    from supplyflow import config
    from testdata.generator import Record

    def partition(key: str) -> int:
        return (murmur2(key.encode()) & 0x7FFFFFFF) % config.TOPIC_PARTITIONS

    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event_time / 1000))
    out, i = [], 0
    needed = {t: set(range(config.TOPIC_PARTITIONS)) for t in config.INPUT_TOPICS}
    while any(needed.values()):
        i += 1
        sku, wh, po, sh = f"{tag}{i:0{8 - len(tag)}d}", f"WH-{tag}", f"PO-{tag}-{i}", f"SH-{tag}-{i}"
        base = {"event_id": f"{tag}-{i}", "event_time": at, "source_system": "tick"}
        events = {
            config.INVENTORY_MOVEMENTS: (f"{sku}|{wh}", {**base, "event_type": "ADJUSTMENT", "sku": sku,
                                                         "warehouse_id": wh, "quantity": 1, "uom": "EA"}),
            config.REORDER_POLICIES: (f"{sku}|{wh}", {**base, "event_type": "POLICY_SET", "sku": sku,
                                                      "warehouse_id": wh, "reorder_point": 1, "order_up_to": 5,
                                                      "min_order_qty": 1, "safety_stock": 0, "lead_time_days": 1}),
            config.PURCHASE_ORDERS: (po, {**base, "event_type": "PO_CREATED", "po_id": po, "po_line": 1,
                                          "version": 1, "supplier_id": "SUP-TICK", "warehouse_id": wh, "sku": sku,
                                          "ordered_qty": 1, "uom": "EA", "promised_delivery_time": at}),
            config.SHIPMENT_EVENTS: (sh, {**base, "event_type": "DISPATCHED", "shipment_id": sh, "po_id": po,
                                          "po_line": 1, "sku": sku, "shipped_qty": 1, "uom": "EA",
                                          "carrier_id": tag, "warehouse_id": wh, "eta": at}),
        }
        for topic, (key, event) in events.items():
            if partition(key) in needed[topic]:
                needed[topic].discard(partition(key))
                out.append(Record(topic, key.encode(), json.dumps({**event, "event_id": f"{tag}-{topic}-{i}"}).encode(),
                                  "valid", "tick"))
    return out
