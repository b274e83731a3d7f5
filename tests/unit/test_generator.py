"""The scenario generator, its JSONL files and the producer, without Kafka.

Every label is checked against an independent reference classifier written from SPEC §3
(`classify` below), so a mislabelled record fails here and not in a job's test.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

import pytest

from supplyflow import config, contracts
from testdata import faults, files, generator

pytestmark = pytest.mark.unit

NAMES = list(generator.SCENARIOS)
SEEDS = (7, 8)
ISO_ZONED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")


@lru_cache(maxsize=None)
def scenario(name: str, seed: int = 7, size: int | None = None) -> generator.Scenario:
    return generator.generate(name, seed=seed, size=size)


# --- a reference classifier of SPEC §3, independent of the generator ----------------------------
def _no_duplicates(pairs):
    if len({k for k, _ in pairs}) != len(pairs):
        raise ValueError("duplicate key")
    return dict(pairs)


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _ts_ok(v) -> bool:
    if isinstance(v, int):
        return v >= 0
    if not ISO_ZONED.match(v):
        return False
    try:
        datetime.fromisoformat(v.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def classify(topic: str, raw: bytes | None) -> str:
    """The first SPEC §3 error code that applies to raw on topic, or "valid"."""
    try:
        obj = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_reject_constant,
                         parse_int=lambda s: int(s) if len(s) < 4000 else Decimal(s))
    except (AttributeError, ValueError, RecursionError):  # None, not UTF-8, not JSON, too deep
        return "INVALID_JSON"
    if not isinstance(obj, dict):
        return "INVALID_JSON"
    name = contracts.INPUT_SCHEMAS[topic]
    if not contracts.validator(name).is_valid(obj):
        return "SCHEMA_VIOLATION"
    kinds = {k: [f for f in contracts.fields_of_kind(name, k) if obj.get(f) is not None]
             for k in ("timestamp", "sku", "uom", "quantity", "days")}
    if not all(_ts_ok(obj[f]) for f in kinds["timestamp"]):
        return "INVALID_TIMESTAMP"
    if not all(re.fullmatch(r"[A-Z0-9]{8}", re.sub(r"[-_. ]", "", obj[f].strip().upper())) for f in kinds["sku"]):
        return "INVALID_SKU"
    if not all(obj[f].upper() in contracts.UOM_FACTORS for f in kinds["uom"]):
        return "UNKNOWN_UOM"
    signed = obj["event_type"] == "ADJUSTMENT"
    if any(obj[f] < 0 for f in kinds["days"]) or (not signed and any(obj[f] < 0 for f in kinds["quantity"])):
        return "NEGATIVE_QUANTITY"
    factor = contracts.UOM_FACTORS[obj["uom"].upper()] if "uom" in obj else 1
    if any((Decimal(str(obj[f])) * factor) % 1 for f in kinds["quantity"]):
        return "FRACTIONAL_QUANTITY"
    if topic == config.REORDER_POLICIES and obj["order_up_to"] < obj["reorder_point"]:
        return "INVALID_POLICY"
    return "valid"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", SEEDS)
def test_every_label_matches_the_reference_classifier(name, seed):
    wrong = [(r.expect, classify(r.topic, r.value), r.note) for r in scenario(name, seed).records
             if classify(r.topic, r.value) != ("valid" if r.expect == "duplicate" else r.expect)]
    assert not wrong, wrong[:5]


@pytest.mark.parametrize("name", NAMES)
def test_valid_and_duplicate_records_pass_their_topic_schema(name):
    for r in scenario(name).records:
        if r.expect in ("valid", "duplicate"):
            assert contracts.topic_validator(r.topic).is_valid(json.loads(r.value)), r.note


@pytest.mark.parametrize("name", NAMES)
def test_schema_violations_fail_the_schema(name):
    for r in scenario(name).records:
        if r.expect == "SCHEMA_VIOLATION":
            obj = json.loads(r.value, parse_int=lambda s: int(s) if len(s) < 4000 else Decimal(s))
            assert not contracts.topic_validator(r.topic).is_valid(obj), r.note


@pytest.mark.parametrize("name", NAMES)
def test_every_fault_kind_and_error_code_appears(name):
    records = scenario(name).records
    kinds = Counter(faults.fault_kind(r.note) for r in records)
    assert set(faults.FAULT_KINDS) <= set(kinds)
    assert set(contracts.ERROR_CODES) <= {r.expect for r in records}
    for r in records:  # a fault's label is its kind's code (multi-fault: any code)
        kind = faults.fault_kind(r.note)
        assert kind is None or faults.FAULT_KINDS[kind].code in (r.expect, "varies")


@pytest.mark.parametrize("name, low, high", [("smoke", 150, 260), ("demo", 4500, 5500), ("faults", 900, 1100)])
def test_sizes(name, low, high):
    counts = scenario(name).counts()
    assert low <= sum(counts.values()) <= high
    assert 0.9 * 2000 <= len(generator.generate(name, size=2000).records) <= 1.25 * 2000
    faulty = sum(n for k, n in counts.items() if k not in ("valid", "duplicate"))
    assert abs(faulty / sum(counts.values()) - generator.SCENARIOS[name].fault_share) < 0.05


def test_determinism():
    assert generator.generate("smoke", seed=3).records == generator.generate("smoke", seed=3).records
    assert generator.generate("smoke", seed=3).records != generator.generate("smoke", seed=4).records
    assert generator.generate("smoke", seed=3).records != generator.generate("smoke", seed=3, size=300).records
    with pytest.raises(ValueError, match="unknown scenario"):
        generator.generate("nope")


def test_duplicates_are_byte_identical_retries_after_their_original():
    records = scenario("demo").records
    first_seen = {}
    for i, r in enumerate(records):
        if r.expect == "valid":
            event_id = json.loads(r.value)["event_id"]
            assert (r.topic, event_id) not in first_seen, "event_id unique per topic"
            first_seen[(r.topic, event_id)] = i
        elif r.expect == "duplicate":
            orig = records[first_seen[(r.topic, json.loads(r.value)["event_id"])]]
            assert (orig.key, orig.value) == (r.key, r.value)


@pytest.mark.parametrize("name", NAMES)
def test_keys_are_the_raw_key_fields(name):
    for r in scenario(name).records:
        if r.expect == "valid":
            assert r.key.decode() == contracts.kafka_key(r.topic, json.loads(r.value))
        if r.topic in config.COMPACTED_TOPICS and r.expect not in ("valid", "duplicate"):
            assert r.value is not None, "no tombstones on a compacted topic"
    policy_keys = {r.key for r in scenario(name).records if r.topic == config.REORDER_POLICIES and r.expect == "valid"}
    assert not policy_keys & {r.key for r in scenario(name).records
                              if r.topic == config.REORDER_POLICIES and r.expect not in ("valid", "duplicate")}


def _event_ms(v) -> int:
    return v if isinstance(v, int) else int(datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp() * 1000)


def test_produce_order_is_roughly_event_time_order():
    valid = [json.loads(r.value) for r in scenario("demo").records if r.expect == "valid"]
    times = [_event_ms(e["event_time"]) for e in valid]
    behind = [t for prev, t in zip(times, times[1:], strict=False) if prev - t > 5_000]  # beyond the watermark bound
    assert 0 < len(behind) < 0.02 * len(times)


def test_the_ledger_has_the_stories_of_spec_6():
    s = scenario("smoke")
    pos, ships, moves, policies = (s.valid_events(t) for t in config.INPUT_TOPICS)
    created = {e["po_id"] for e in pos}
    assert any(e["event_type"] == "PO_CANCELLED" and "sku" not in e for e in pos)
    assert any(e["po_id"] not in created for e in ships), "an orphan shipment"
    versions: dict[tuple, list[int]] = {}
    for e in pos:
        versions.setdefault((e["po_id"], e["po_line"]), []).append(e["version"])
    assert any(v != sorted(v) for v in versions.values()), "an out-of-order update"
    assert {e["event_type"] for e in ships} == set(contracts.event_types(config.SHIPMENT_EVENTS))
    assert {e["event_type"] for e in moves} == set(contracts.event_types(config.INVENTORY_MOVEMENTS))
    assert any(e["event_type"] == "ADJUSTMENT" and e["quantity"] < 0 for e in moves)
    shipment_ids = {e["shipment_id"] for e in ships}
    assert any(e["event_type"] == "RECEIPT" and e.get("reference_id") in shipment_ids for e in moves)
    locations = {(re.sub(r"[-_. ]", "", e["sku"].upper()), e["warehouse_id"]) for e in policies}
    assert len(policies) > len(locations), "a policy change"
    notes = " ".join(r.note for r in s.records)
    for story in ("SKU mismatch", "dispatched before its PO", "+30.0 h", "+80.0 h", "+3.0 h", "+1.0 h",
                  "(within 0.2 %)", "(beyond 0.2 %)", "(beyond 2 %)", "(exact)", "late arrival"):
        assert story in notes, story


def test_normalization_variants_appear_in_valid_records():
    valid = [r for r in scenario("demo").records if r.expect == "valid"]
    text = " ".join(r.note for r in valid)
    for tag in ("ts:offset", "ts:epoch-ms", "sku:spelling", "uom:case", "qty:fraction-of-case", "qty:float"):
        assert tag in text, tag
    events = [json.loads(r.value) for r in valid]
    assert any(isinstance(e.get("quantity"), float) and e["quantity"] % 1 for e in events)  # e.g. 0.5 CS
    assert any(str(e.get("uom", "X")).islower() for e in events)
    assert any(e["event_time"].__class__ is str and "+02:00" in e["event_time"] for e in events)


# --- JSONL files ----------------------------------------------------------------------------------
def test_jsonl_roundtrip_is_lossless(tmp_path):
    records = scenario("faults").records
    assert any(r.value is None for r in records)
    assert any(r.expect == "INVALID_JSON" and "bytes" in r.note for r in records)  # non-UTF-8 values
    assert files.write_jsonl(scenario("faults"), tmp_path / "faults.jsonl") == len(records)
    assert files.read_jsonl(tmp_path / "faults.jsonl") == records


def test_jsonl_accepts_bare_events(tmp_path):
    issue = {"event_id": "m-1", "event_type": "ISSUE", "event_time": "2026-10-01T08:00:00Z", "source_system": "x",
             "sku": "abc-123_45", "warehouse_id": "WH-1", "quantity": 2, "uom": "EA"}
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"topic": config.INVENTORY_MOVEMENTS, "value": issue}) + "\n\n"
                    + json.dumps(dict(issue, event_id="m-2")) + "\n")   # topic from the event_type
    first, second = files.read_jsonl(path)
    assert first == generator.Record(config.INVENTORY_MOVEMENTS, b"abc-123_45|WH-1",
                                     json.dumps(issue, separators=(",", ":")).encode(), "valid", "from file")
    assert (second.topic, second.key, json.loads(second.value)["event_id"]) == (
        config.INVENTORY_MOVEMENTS, b"abc-123_45|WH-1", "m-2")


@pytest.mark.parametrize("line", ['{"topic": "nope", "value": "{}"}', "[1]", "{not json", '{"value": {"a": 1}}'])
def test_jsonl_bad_line_is_one_clear_error(tmp_path, line):
    from supplyflow.errors import SupplyflowError

    path = tmp_path / "bad.jsonl"
    path.write_text('{"topic": "scm.purchase-orders", "key": null, "value": "{}"}\n' + line + "\n")
    with pytest.raises(SupplyflowError, match=r"bad\.jsonl:2: "):
        files.read_jsonl(path)


# --- producing, without a broker ------------------------------------------------------------------
class _FakeProducer:
    """Records what produce() sends; acknowledges every record at once."""

    DEFAULT_CONFIG = __import__("kafka").KafkaProducer.DEFAULT_CONFIG
    last = None

    def __init__(self, **cfg):
        self.cfg, self.sent, self.flushed, self.closed = cfg, [], False, False
        _FakeProducer.last = self

    def send(self, topic, key=None, value=None):
        from types import SimpleNamespace

        from kafka.future import Future

        self.sent.append((topic, key, value))
        return Future().success(SimpleNamespace(topic=topic))

    def flush(self):
        self.flushed = True

    def close(self, timeout=None):
        self.closed = True


def test_produce_sends_in_order_to_namespaced_topics(monkeypatch):
    import dataclasses

    import kafka

    from supplyflow import produce as produce_mod

    monkeypatch.setattr(kafka, "KafkaProducer", _FakeProducer)
    monkeypatch.setattr(produce_mod, "_check_topics", lambda *args: None)
    records = scenario("smoke").records
    settings = dataclasses.replace(config.Settings(), namespace="t1")
    counts = produce_mod.produce(settings, records, progress=False)
    fake = _FakeProducer.last
    assert fake.sent == [("t1." + r.topic, r.key, r.value) for r in records]
    assert counts == dict(Counter("t1." + r.topic for r in records))
    assert fake.flushed and fake.closed
    assert (fake.cfg["acks"], fake.cfg["enable_idempotence"], fake.cfg["linger_ms"]) == ("all", True, 5)


def test_pacer_keeps_the_rate_without_drift():
    from supplyflow.errors import SupplyflowError
    from supplyflow.produce import Pacer

    now = [0.0]
    pacer = Pacer(10, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    for _ in range(21):
        pacer.wait()
    assert now[0] == pytest.approx(2.0)
    with pytest.raises(SupplyflowError):
        Pacer(0)


def test_produce_without_a_broker_is_one_clear_error():
    import dataclasses
    import socket

    from supplyflow.errors import SupplyflowError
    from supplyflow.produce import produce

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = dataclasses.replace(config.Settings(), kafka_bootstrap=f"127.0.0.1:{port}")
    with pytest.raises(SupplyflowError, match=rf"cannot reach Kafka at 127\.0\.0\.1:{port}: run `supplyflow stack up`"):
        produce(settings, scenario("smoke").records[:3], progress=False, bootstrap_timeout_s=0.5)


def test_event_times_are_the_first_free_second_at_or_after_the_wish():
    """World.at skips taken seconds through pointers; it must give what probing second by
    second gives (the scenarios' bytes depend on it)."""
    import random

    from testdata.world import SECOND, World

    rng = random.Random(5)
    world, taken = World(rng, 100), set()
    for _ in range(3000):
        wish = rng.randrange(0, 400) * SECOND + rng.randrange(SECOND)
        expected = wish - wish % SECOND
        while expected in taken:
            expected += SECOND
        taken.add(expected)
        assert world.at(wish) == expected


def test_a_large_scenario_keeps_its_mix_from_start_to_end(monkeypatch):
    """Past what HORIZON holds (one event per second), the horizon grows with the size, and
    every kind of event grows with it: a benchmark's rate steps then read the same mix
    wherever they start. SPACING is raised here so a small scenario needs the growth."""
    from testdata import world

    monkeypatch.setattr(world, "SPACING", 120 * world.SECOND)  # 12,000 valid events -> about 16 days
    records = generator.generate("demo", seed=9, size=12_000).records
    valid = [json.loads(r.value) for r in records if r.expect == "valid"]
    times = [_event_ms(e["event_time"]) for e in valid]
    start = min(times)
    days = (max(times) - start) / world.DAY
    assert days > 15  # the grown horizon, not the 10 days of HORIZON

    def shares(lo: float, hi: float) -> Counter:
        """Kinds of event among those between day `lo` and day `hi`, as shares."""
        kinds = Counter(e["event_type"] for e, t in zip(valid, times, strict=True)
                        if lo <= (t - start) / world.DAY < hi)
        total = sum(kinds.values())
        return Counter({k: n / total for k, n in kinds.items()})

    # past the opening setup and before the last days (no new PO lines are created then)
    early, late = shares(2, 6.5), shares(6.5, 11)
    for kind in ("PO_CREATED", "DISPATCHED", "DELIVERED", "RECEIPT", "ISSUE"):
        assert early[kind] > 0.02 and 0.6 < late[kind] / early[kind] < 1.6, (kind, early[kind], late[kind])
